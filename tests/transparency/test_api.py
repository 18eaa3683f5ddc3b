"""The public log API: a chain of three licenses and its revocation, as anyone reads them
from /v1/transparency, checked with nothing but the RFC algorithms and the published key."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ipmarket.kit.db import Database
from ipmarket.transparency import merkle, verify_signature
from ipmarket.transparency.service import sign_checkpoint
from tests.rights import Rights
from tests.support import deliver_events


async def _data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def _signed(db: Database) -> None:
    await deliver_events(db)
    async with db.transaction() as session:
        await sign_checkpoint(session)


async def test_a_chain_of_three_and_its_revocation_are_in_the_log_with_proofs(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a chain of three licenses with a product at each level, then L2 revoked
    rights = Rights(client, db)
    world = await rights.chain_of_three()
    revoked = await client.put(
        f"/v1/licenses/{world['l2']['id']}/revoke",
        json={"reason": "terms breached"},
        headers=world["s1"].auth,
    )
    assert revoked.status_code == 200, revoked.text
    await _signed(db)

    # when anyone reads the log
    checkpoint = await _data(await client.get("/v1/transparency/checkpoint"))
    key = await _data(await client.get("/v1/transparency/key"))
    size = checkpoint["treeSize"]
    entries = await _data(await client.get(f"/v1/transparency/entries?start=0&end={size}"))

    # then every authorization is there, causes first
    kinds = [e["entry"]["kind"] for e in entries]
    assert kinds.count("ip_asset.approved") == 3
    assert kinds.count("license.approved") == 3
    assert kinds.count("product.published") == 3
    assert kinds[-2:] == ["ip_asset.suspended", "authorization.revoked"]
    position = {
        (e["entry"]["kind"], e["entry"].get("licenseId") or e["entry"].get("ipAssetId")): i
        for i, e in enumerate(entries)
    }
    for child, parent in (("l2", "l1"), ("l3", "l2")):
        assert (
            position[("license.approved", world[parent]["id"])]
            < position[("license.approved", world[child]["id"])]
        )
    l2 = next(
        e["entry"]
        for e in entries
        if e["entry"].get("licenseId") == world["l2"]["id"]
        and e["entry"]["kind"] == "license.approved"
    )
    assert l2["parentLicenseId"] == world["l1"]["id"]
    assert len(l2["termsHash"]) == 64
    revocation = entries[-1]["entry"]
    assert revocation["cause"] == "revoked"
    assert revocation["rootLicenseId"] == world["l2"]["id"]
    assert sorted(revocation["licenseIds"]) == sorted([world["l2"]["id"], world["l3"]["id"]])

    # and the checkpoint is signed by the published key
    assert key["algorithm"] == "ed25519"
    assert set(checkpoint) == {"treeSize", "rootHash", "timestamp", "signature", "keyId"}
    assert checkpoint["keyId"] == key["keyId"]
    assert verify_signature(
        bytes.fromhex(key["publicKey"]),
        size,
        checkpoint["rootHash"],
        checkpoint["timestamp"],
        checkpoint["signature"],
    )
    root = bytes.fromhex(checkpoint["rootHash"])
    # and each entry's proof leads to the checkpoint's root, by index and by hash
    for entry in entries:
        canonical = json.dumps(
            entry["entry"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        leaf = merkle.leaf_hash(canonical.encode())
        assert leaf.hex() == entry["leafHash"]
        proof = await _data(
            await client.get(
                f"/v1/transparency/proof/inclusion?leafIndex={entry['leafIndex']}&treeSize={size}"
            )
        )
        assert proof["leafHash"] == entry["leafHash"]
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        assert merkle.verify_inclusion(entry["leafIndex"], size, leaf, hashes, root)
    by_hash = await _data(
        await client.get(
            f"/v1/transparency/proof/inclusion?leafHash={entries[3]['leafHash']}&treeSize={size}"
        )
    )
    assert by_hash["leafIndex"] == 3
    assert set(by_hash) == {"leafIndex", "treeSize", "leafHash", "hashes"}

    # and an earlier tree is consistent with this one
    first_root = merkle.root_of(
        5, merkle.all_nodes([bytes.fromhex(e["leafHash"]) for e in entries])
    )
    consistency = await _data(
        await client.get(f"/v1/transparency/proof/consistency?first=5&second={size}")
    )
    assert set(consistency) == {"first", "second", "hashes"}
    assert merkle.verify_consistency(
        5, size, first_root, root, [bytes.fromhex(h) for h in consistency["hashes"]]
    )


async def test_bad_requests_get_clear_errors(client: httpx.AsyncClient, db: Database) -> None:
    # an empty log has no checkpoint yet
    error = await _error(await client.get("/v1/transparency/checkpoint"), 404)
    assert error["code"] == "NOT_FOUND"
    # given a log of three entries
    rights = Rights(client, db)
    creator = await rights.user("creator")
    for _ in range(3):
        await rights.asset(creator)
    await _signed(db)
    base = "/v1/transparency"
    beyond = await _error(await client.get(f"{base}/proof/inclusion?leafIndex=0&treeSize=4"), 404)
    assert beyond["details"]["reason"] == "beyond_log"
    outside = await _error(await client.get(f"{base}/proof/inclusion?leafIndex=3&treeSize=3"), 422)
    assert outside["details"]["reason"] == "leaf_not_in_tree"
    bad_hex = await _error(await client.get(f"{base}/proof/inclusion?leafHash=XYZ&treeSize=3"), 422)
    assert bad_hex["details"]["reason"] == "bad_hex"
    unknown = await _error(
        await client.get(f"{base}/proof/inclusion?leafHash={'0' * 64}&treeSize=3"), 404
    )
    assert unknown["details"]["reason"] == "unknown_leaf"
    both = await _error(await client.get(f"{base}/proof/inclusion?treeSize=3"), 422)
    assert both["details"]["reason"] == "leaf_required"
    backwards = await _error(await client.get(f"{base}/proof/consistency?first=3&second=2"), 422)
    assert backwards["details"]["reason"] == "first_after_second"
    future = await _error(await client.get(f"{base}/proof/consistency?first=1&second=9"), 404)
    assert future["details"]["reason"] == "beyond_log"
    too_many = await _error(await client.get(f"{base}/entries?start=0&end=1001"), 422)
    assert too_many["details"]["reason"] == "range_too_large"
    past_end = await _error(await client.get(f"{base}/entries?start=4&end=5"), 404)
    assert past_end["details"]["reason"] == "beyond_log"
    # an end past the log is cut at its size
    assert len(await _data(await client.get(f"{base}/entries?start=1&end=10"))) == 2
    same = await _data(await client.get(f"{base}/proof/consistency?first=3&second=3"))
    assert same["hashes"] == []
