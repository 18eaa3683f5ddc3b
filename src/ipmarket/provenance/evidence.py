"""What a stranger needs to check a verification answer without trusting us.

The answer itself comes from our database (queries.verify). Evidence adds, for the product
and for each link of its chain, the transparency log's entry that recorded it, an inclusion
proof of that entry against the latest signed checkpoint, and, when the log has been
anchored on chain, the anchor's transaction and a proof against the anchored root. The
offline verifier (`ipmarket verify-proof`, tools/verify_proof.py) checks all of it.

Evidence is never cached with the answer: checkpoints are signed every minute and anchors
confirm later, and a proof is a handful of indexed reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import chain, transparency

# Which entry records the grant of each kind of subject, and the entry field naming it.
_GRANT = {
    "product": ("product.published", "productId"),
    "license": ("license.approved", "licenseId"),
    "ip_asset": ("ip_asset.approved", "ipAssetId"),
}


def _subjects(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind of subject, id) of the product and of each link's license and IP asset."""
    found = [("product", str(answer["product"]["id"]))]
    for link in answer.get("chain") or []:
        found += [("license", str(link["license"]["id"])), ("ip_asset", str(link["ipAsset"]["id"]))]
    return found


def _grants(entries: list[transparency.Entry]) -> dict[tuple[str, str], transparency.Entry]:
    """The first entry granting each subject (a subject is granted once; later entries about
    it are revocations and suspensions, which the history lists)."""
    grants: dict[tuple[str, str], transparency.Entry] = {}
    for entry in entries:
        for subject, (kind, field) in _GRANT.items():
            if entry.entry.get("kind") == kind:
                grants.setdefault((subject, str(entry.entry.get(field))), entry)
    return grants


async def _log(
    session: AsyncSession,
    entry: transparency.Entry | None,
    checkpoint: transparency.Checkpoint | None,
) -> dict[str, Any] | None:
    if entry is None:
        return None
    proof: dict[str, Any] | None = None
    if checkpoint is not None and entry.leaf_index < checkpoint.tree_size:
        hashes = await transparency.inclusion_proof(session, entry.leaf_index, checkpoint.tree_size)
        proof = {"treeSize": checkpoint.tree_size, "hashes": [h.hex() for h in hashes]}
    return {
        "leafIndex": entry.leaf_index,
        "leafHash": entry.leaf_hash,
        "entry": entry.entry,
        "inclusionProof": proof,
    }


async def _anchor(session: AsyncSession, entry: transparency.Entry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    anchor = await chain.anchor_covering(session, entry.leaf_index)
    if anchor is None:
        return None
    hashes = await transparency.inclusion_proof(session, entry.leaf_index, anchor.tree_size)
    return {
        "chainId": anchor.chain_id,
        "contract": anchor.contract,
        "transactionHash": anchor.transaction_hash,
        "blockNumber": anchor.block_number,
        "treeSize": anchor.tree_size,
        "rootHash": anchor.root_hash,
        "inclusionProof": {"treeSize": anchor.tree_size, "hashes": [h.hex() for h in hashes]},
    }


async def with_evidence(session: AsyncSession, answer: dict[str, Any]) -> dict[str, Any]:
    """A copy of `answer` with `checkpoint`, and `log` (entry and inclusion proof) and `anchor`
    on the product, on each link (its license's grant) and on each link's IP asset; None
    where nothing was logged or anchored yet."""
    checkpoint = await transparency.latest_checkpoint(session)
    subjects = [f"{kind}:{id_}" for kind, id_ in _subjects(answer)]
    grants = _grants(await transparency.entries_for_subjects(session, subjects))

    async def evidence(kind: str, id_: Any) -> dict[str, Any]:
        entry = grants.get((kind, str(id_)))
        return {
            "log": await _log(session, entry, checkpoint),
            "anchor": await _anchor(session, entry),
        }

    links = []
    for link in answer.get("chain") or []:
        asset = {**link["ipAsset"], **await evidence("ip_asset", link["ipAsset"]["id"])}
        # A link is its license: the license's grant is the link's own evidence.
        links.append({**link, **await evidence("license", link["license"]["id"]), "ipAsset": asset})
    return {
        **answer,
        "product": {**answer["product"], **await evidence("product", answer["product"]["id"])},
        "chain": links,
        "checkpoint": checkpoint.as_json() if checkpoint is not None else None,
    }


async def history(session: AsyncSession, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every log entry about the product's chain, oldest first: the grants, and every
    revocation, expiry and suspension that touched one of its licenses or assets."""
    subjects = [f"{kind}:{id_}" for kind, id_ in _subjects(answer)]
    return [
        {"leafIndex": e.leaf_index, "leafHash": e.leaf_hash, "entry": e.entry}
        for e in await transparency.entries_for_subjects(session, subjects)
    ]
