"""The transparency log: an append-only, RFC 9162-style Merkle log of every authorization
event, with signed checkpoints that the chain module anchors on an EVM chain.

Formats (shared by every trust component): `canonical`; hashing and proofs: `merkle`;
what is logged and in which order: `service`; the signed bytes: `signing`.
"""

from ipmarket.transparency import merkle
from ipmarket.transparency.canonical import NotCanonical, canonical_json, rfc3339
from ipmarket.transparency.events import CheckpointSigned, EntryAppended
from ipmarket.transparency.schemas import CheckpointRead
from ipmarket.transparency.service import (
    Checkpoint,
    Entry,
    consistency_proof,
    digest,
    digest_text,
    entries_between,
    entries_for_subjects,
    entry_at,
    inclusion_proof,
    latest_checkpoint,
    log_size,
    root_at,
)
from ipmarket.transparency.signing import (
    CheckpointSigner,
    checkpoint_message,
    configure_signer,
    signer,
    signer_from_settings,
    verify_signature,
)

__all__ = [
    "Checkpoint",
    "CheckpointRead",
    "CheckpointSigned",
    "CheckpointSigner",
    "Entry",
    "EntryAppended",
    "NotCanonical",
    "canonical_json",
    "checkpoint_message",
    "configure_signer",
    "consistency_proof",
    "digest",
    "digest_text",
    "entries_between",
    "entries_for_subjects",
    "entry_at",
    "inclusion_proof",
    "latest_checkpoint",
    "log_size",
    "merkle",
    "rfc3339",
    "root_at",
    "signer",
    "signer_from_settings",
    "verify_signature",
]
