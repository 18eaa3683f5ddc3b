"""The public log API under /v1/transparency: checkpoint, entries, proofs and the key.
Hashes are lowercase hex. Anyone may call it: the log is evidence for everybody."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query

from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok
from ipmarket.kit.errors import NotFound, ValidationFailed
from ipmarket.kit.schemas import ReadSchema
from ipmarket.transparency import service
from ipmarket.transparency.schemas import CheckpointRead
from ipmarket.transparency.signing import ALGORITHM, signer

router = APIRouter(prefix="/transparency", tags=["transparency"])

MAX_ENTRIES = 1000
_ERRORS = error_responses(404, 422, 429, 500)
_HEX_HASH = re.compile(r"^[0-9a-f]{64}$")


class EntryRead(ReadSchema):
    leaf_index: int
    leaf_hash: str
    entry: dict[str, Any]


class InclusionRead(ReadSchema):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]


class ConsistencyRead(ReadSchema):
    first: int
    second: int
    hashes: list[str]


class KeyRead(ReadSchema):
    key_id: str
    algorithm: str
    public_key: str


@router.get("/checkpoint", responses=_ERRORS, summary="The latest signed tree head")
async def get_checkpoint(session: DbSession) -> APIResponse[CheckpointRead]:
    checkpoint = await service.latest_checkpoint(session)
    if checkpoint is None:
        raise NotFound("No checkpoint has been signed yet", details={"reason": "no_checkpoint"})
    return ok(CheckpointRead.model_validate(checkpoint))


@router.get("/entries", responses=_ERRORS, summary="Log entries [start, end)")
async def get_entries(
    session: DbSession,
    start: Annotated[int, Query(ge=0)],
    end: Annotated[int, Query(ge=0)],
) -> APIResponse[list[EntryRead]]:
    if end < start:
        raise ValidationFailed.for_field(
            "end must not be before start", field="end", problem="before start", reason="bad_range"
        )
    if end - start > MAX_ENTRIES:
        raise ValidationFailed.for_field(
            f"At most {MAX_ENTRIES} entries per request",
            field="end",
            problem=f"end - start exceeds {MAX_ENTRIES}",
            reason="range_too_large",
        )
    size = await service.log_size(session)
    if start > size or (start == size and end > start):
        raise NotFound(
            f"The log has {size} entries: start {start} is beyond it",
            details={"reason": "beyond_log", "logSize": size},
        )
    entries = await service.entries_between(session, start, min(end, size))
    return ok(
        [EntryRead(leaf_index=e.leaf_index, leaf_hash=e.leaf_hash, entry=e.entry) for e in entries]
    )


def _hex_hash(value: str, field: str) -> bytes:
    if not _HEX_HASH.match(value):
        raise ValidationFailed.for_field(
            f"{field} must be 64 lowercase hex digits",
            field=field,
            problem="not a lowercase hex SHA-256",
            reason="bad_hex",
        )
    return bytes.fromhex(value)


@router.get("/proof/inclusion", responses=_ERRORS, summary="Inclusion proof of an entry")
async def get_inclusion_proof(
    session: DbSession,
    tree_size: Annotated[int, Query(alias="treeSize", ge=1)],
    leaf_index: Annotated[int | None, Query(alias="leafIndex", ge=0)] = None,
    leaf_hash: Annotated[str | None, Query(alias="leafHash")] = None,
) -> APIResponse[InclusionRead]:
    if (leaf_index is None) == (leaf_hash is None):
        raise ValidationFailed(
            "Give exactly one of leafIndex and leafHash", details={"reason": "leaf_required"}
        )
    if leaf_hash is not None:
        found = await service.entry_with_hash(session, _hex_hash(leaf_hash, "leafHash"))
        if found is None:
            raise NotFound("No entry has this leaf hash", details={"reason": "unknown_leaf"})
        index, hash_hex = found.leaf_index, found.leaf_hash
    else:
        assert leaf_index is not None
        size = await service.log_size(session)
        if tree_size > size:
            raise NotFound(
                f"The log has {size} entries: treeSize {tree_size} is beyond it",
                details={"reason": "beyond_log", "logSize": size},
            )
        at = await service.entry_at(session, leaf_index) if leaf_index < tree_size else None
        if at is None:
            raise ValidationFailed(
                f"Leaf {leaf_index} is not in the tree of size {tree_size}",
                details={"reason": "leaf_not_in_tree"},
            )
        index, hash_hex = at.leaf_index, at.leaf_hash
    hashes = await service.inclusion_proof(session, index, tree_size)
    return ok(
        InclusionRead(
            leaf_index=index,
            tree_size=tree_size,
            leaf_hash=hash_hex,
            hashes=[h.hex() for h in hashes],
        )
    )


@router.get("/proof/consistency", responses=_ERRORS, summary="Consistency proof of two heads")
async def get_consistency_proof(
    session: DbSession,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> APIResponse[ConsistencyRead]:
    hashes = await service.consistency_proof(session, first, second)
    return ok(ConsistencyRead(first=first, second=second, hashes=[h.hex() for h in hashes]))


@router.get("/key", responses=_ERRORS, summary="The public key that signs checkpoints")
async def get_key() -> APIResponse[KeyRead]:
    key = signer()
    return ok(KeyRead(key_id=key.key_id, algorithm=ALGORITHM, public_key=key.public_key.hex()))
