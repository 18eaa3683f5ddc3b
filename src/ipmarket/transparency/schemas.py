"""The signed checkpoint as the API shows it: on its own (/v1/transparency/checkpoint) and
inside every verification answer, which proves its entries against it."""

from __future__ import annotations

from ipmarket.kit.schemas import ReadSchema


class CheckpointRead(ReadSchema):
    tree_size: int
    root_hash: str
    timestamp: int
    signature: str
    key_id: str
