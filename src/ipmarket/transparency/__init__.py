"""The transparency log: an append-only, RFC 9162-style Merkle log of every authorization
event, with signed checkpoints that the chain module anchors on an EVM chain."""

from ipmarket.transparency.events import CheckpointSigned, EntryAppended

__all__ = ["CheckpointSigned", "EntryAppended"]
