"""Verification answers carry their evidence: each link's log entry and inclusion proof against
the signed checkpoint, checked by the offline verifier we ship (the same code as
tools/verify_proof.py); a log rewritten behind the API fails that check."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from ipmarket.kit.db import Database
from ipmarket.transparency.offline import Options, verify_answer
from ipmarket.transparency.service import sign_checkpoint
from tests.rights import Rights
from tests.support import deliver_events


async def _signed(db: Database) -> None:
    await deliver_events(db)
    async with db.transaction() as session:
        await sign_checkpoint(session)


async def _answer(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.get(f"/v1/verify/{code}")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["data"]
    return answer


async def _key(client: httpx.AsyncClient) -> str:
    key: str = (await client.get("/v1/transparency/key")).json()["data"]["publicKey"]
    return key


def _check(answer: dict[str, Any], key: str, tmp_path: Path, name: str) -> tuple[int, str]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"data": answer}))
    out = io.StringIO()
    status = verify_answer(Options(source=str(path), key_hex=key), out=out)
    return status, out.getvalue()


async def test_a_product_answer_carries_every_links_entry_and_proof_and_checks_offline(
    client: httpx.AsyncClient, db: Database, tmp_path: Path
) -> None:
    # given a chain of three licenses, logged and signed
    world = await Rights(client, db).chain_of_three()
    await _signed(db)

    # when anyone verifies the deepest product
    answer = await _answer(client, world["p3"]["verificationCode"])

    # then the answer names the checkpoint, and the product and every link its entry and proof
    checkpoint = answer["checkpoint"]
    assert checkpoint["treeSize"] >= 9
    assert answer["product"]["log"]["entry"]["kind"] == "product.published"
    assert answer["product"]["log"]["entry"]["productId"] == world["p3"]["id"]
    licenses = [link["log"]["entry"]["licenseId"] for link in answer["chain"]]
    assert licenses == [world["l3"]["id"], world["l2"]["id"], world["l1"]["id"]]
    for link in answer["chain"]:
        assert link["log"]["inclusionProof"]["treeSize"] == checkpoint["treeSize"]
        assert link["ipAsset"]["log"]["entry"]["kind"] == "ip_asset.approved"
        # without a chain node configured, nothing is anchored, and the answer says so
        assert link["anchor"] is None
    # and the offline verifier accepts all of it with the published key
    status, report = _check(answer, await _key(client), tmp_path, "answer")
    assert status == 0, report
    assert "FAIL" not in report


async def test_an_entry_rewritten_in_the_database_fails_the_offline_check(
    client: httpx.AsyncClient, db: Database, tmp_path: Path
) -> None:
    # given a logged, signed chain
    world = await Rights(client, db).chain_of_three()
    await _signed(db)
    key = await _key(client)
    l2 = world["l2"]["id"]

    # when someone with the database's keys rewrites L2's entry to another licensee (the
    # tables refuse UPDATE, so they switch the triggers off as a superuser would)
    async with db.transaction() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        row = (
            await session.execute(
                text(
                    "SELECT leaf_index, data FROM transparency_entries "
                    "WHERE kind = 'license.approved' AND :subject = ANY(subjects) "
                    "ORDER BY leaf_index LIMIT 1"
                ),
                {"subject": f"license:{l2}"},
            )
        ).one()
        entry = json.loads(row.data)
        entry["licenseeId"] = str(world["s3"].id)
        forged = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        await session.execute(
            text("UPDATE transparency_entries SET data = :data WHERE leaf_index = :i"),
            {"data": forged, "i": row.leaf_index},
        )

    # then the answer served from the rewritten log fails the stranger's check
    answer = await _answer(client, world["p3"]["verificationCode"])
    status, report = _check(answer, key, tmp_path, "rewritten")
    assert status == 1
    assert "FAIL" in report


async def test_a_removed_entry_fails_the_offline_check(
    client: httpx.AsyncClient, db: Database, tmp_path: Path
) -> None:
    # given a logged, signed chain
    world = await Rights(client, db).chain_of_three()
    await _signed(db)
    key = await _key(client)

    # when L1's approval is deleted from the log behind the API
    async with db.transaction() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(
            text(
                "DELETE FROM transparency_entries "
                "WHERE kind = 'license.approved' "
                "AND convert_from(data, 'UTF8')::jsonb ->> 'licenseId' = :license"
            ),
            {"license": world["l1"]["id"]},
        )

    # then the answer lacks that link's evidence and the check fails
    answer = await _answer(client, world["p1"]["verificationCode"])
    assert answer["chain"][0]["log"] is None
    status, report = _check(answer, key, tmp_path, "removed")
    assert status == 1
    assert "no log evidence" in report


async def test_a_revocation_is_in_the_history_and_the_old_proof_stays_valid_but_not_authentic(
    client: httpx.AsyncClient, db: Database, tmp_path: Path
) -> None:
    # given a verified answer saved by a buyer
    world = await Rights(client, db).chain_of_three()
    await _signed(db)
    key = await _key(client)
    code = world["p2"]["verificationCode"]
    before = await _answer(client, code)
    assert before["authentic"] is True

    # when L1 (at the root) is revoked and the log signs again
    revoked = await client.put(
        f"/v1/licenses/{world['l1']['id']}/revoke",
        json={"reason": "terms breached"},
        headers=world["creator"].auth,
    )
    assert revoked.status_code == 200, revoked.text
    await _signed(db)

    # then the history lists the revocation after the grants
    history = await client.get(f"/v1/verify/{code}/history")
    assert history.status_code == 200, history.text
    events = history.json()["data"]["events"]
    kinds = [e["entry"]["kind"] for e in events]
    assert kinds.index("authorization.revoked") > kinds.index("license.approved")
    assert [e["leafIndex"] for e in events] == sorted(e["leafIndex"] for e in events)
    assert history.json()["data"]["authentic"] is False
    # and names the product without evidence of its own (the events are the evidence)
    assert set(history.json()["data"]["product"]) == {"id", "title", "seller"}
    # and the saved answer's proofs still check (the log only grew) ...
    assert _check(before, key, tmp_path, "before")[0] == 0
    # ... while today's answer, with valid proofs too, says NOT authentic
    after = await _answer(client, code)
    assert after["authentic"] is False
    assert after["checkpoint"]["treeSize"] > before["checkpoint"]["treeSize"]
    assert _check(after, key, tmp_path, "after")[0] == 0


async def test_history_of_an_unknown_or_malformed_code(client: httpx.AsyncClient) -> None:
    # when the history of a code nobody issued, or of no code at all, is asked for
    unknown = await client.get(f"/v1/verify/{'0' * 32}/history")
    malformed = await client.get("/v1/verify/not-a-code/history")
    # then a 404 and a 422 in the envelope
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"]
    assert malformed.status_code == 422
