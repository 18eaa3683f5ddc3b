"""The checkpoint signing key (Ed25519) and the signed bytes.

A checkpoint signs the UTF-8 bytes `"ipmarket-checkpoint/v1\\n{treeSize}\\n{rootHash}\\n
{timestamp}\\n"` (root hash lowercase hex, timestamp integer milliseconds). The key id is the
SHA-256 (hex) of the 32-byte raw public key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ipmarket.config import Settings, get_settings

ALGORITHM = "ed25519"
DEV_KEY_FILE = "transparency-ed25519.pem"


def checkpoint_message(tree_size: int, root_hash: str, timestamp: int) -> bytes:
    return f"ipmarket-checkpoint/v1\n{tree_size}\n{root_hash}\n{timestamp}\n".encode()


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


class CheckpointSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key: bytes = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_of(self.public_key)

    def sign(self, tree_size: int, root_hash: str, timestamp: int) -> str:
        return self._key.sign(checkpoint_message(tree_size, root_hash, timestamp)).hex()


def verify_signature(
    public_key: bytes, tree_size: int, root_hash: str, timestamp: int, signature: str
) -> bool:
    """Does `signature` (hex) sign this checkpoint under `public_key` (raw 32 bytes)?"""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            bytes.fromhex(signature), checkpoint_message(tree_size, root_hash, timestamp)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def _load(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError("TRANSPARENCY_SIGNING_KEY must be an Ed25519 private key")
        return key
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise TypeError("TRANSPARENCY_SIGNING_KEY must be PEM or 64 hex digits") from None
    if len(raw) != 32:
        raise TypeError("TRANSPARENCY_SIGNING_KEY in hex must be 32 bytes (64 hex digits)")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _development_key(var_dir: Path) -> str:
    """A key kept under VAR_DIR for development; production must configure one."""
    path = var_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_text()
    var_dir.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text()
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return pem.decode()


def signer_from_settings(settings: Settings) -> CheckpointSigner:
    configured = settings.transparency_signing_key
    if configured is not None and configured.get_secret_value():
        return CheckpointSigner(_load(configured.get_secret_value()))
    if settings.is_production:
        raise RuntimeError(
            "TRANSPARENCY_SIGNING_KEY must be set when IPMARKET_ENV=production: a generated "
            "key would sign checkpoints nobody can rely on"
        )
    return CheckpointSigner(_load(_development_key(settings.var_dir)))


_signer: CheckpointSigner | None = None


def configure_signer(signer: CheckpointSigner | None) -> None:
    """Set the signer this process uses (at startup: `signer_from_settings(settings)`)."""
    global _signer  # noqa: PLW0603 - one signing key per process, set at startup
    _signer = signer


def signer() -> CheckpointSigner:
    """The process's signer (bootstrap configures it); from the settings if none was."""
    if _signer is None:
        configure_signer(signer_from_settings(get_settings()))
    assert _signer is not None
    return _signer
