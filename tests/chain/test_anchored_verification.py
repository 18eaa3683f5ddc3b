"""The whole trust path on a real JSON-RPC node: a chain of three licenses is logged, signed
and anchored by the worker's jobs, the verification answer names the anchor, and the offline
verifier checks it against the node itself (`--rpc`)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain.jobs import advance_open_transactions
from ipmarket.kit.db import Database
from ipmarket.transparency.offline import Options, verify_answer
from ipmarket.transparency.service import sign_checkpoint
from tests.chain.conftest import Deployed
from tests.rights import Rights
from tests.support import deliver_events


async def test_a_verified_answer_names_its_anchor_and_checks_against_the_node(
    client: httpx.AsyncClient,
    db: Database,
    session: AsyncSession,
    hardhat: Deployed,
    hardhat_url: str,
    use_chain: Any,
    tmp_path: Path,
) -> None:
    # given the platform writing to a contract on a local node
    use_chain(hardhat.chain)
    # and a chain of three licenses, logged, signed, and the worker's chain jobs run
    world = await Rights(client, db).chain_of_three()
    await deliver_events(db)
    async with db.transaction() as s:
        checkpoint = await sign_checkpoint(s)
    assert checkpoint is not None
    await deliver_events(db)
    await advance_open_transactions(session, rounds=6)

    # when anyone verifies the deepest product
    response = await client.get(f"/v1/verify/{world['p3']['verificationCode']}")
    assert response.status_code == 200, response.text
    answer = response.json()["data"]

    # then every link names the anchor on chain 31337 of the checkpoint that covers it
    for subject in [answer["product"], *answer["chain"]]:
        anchor = subject["anchor"]
        assert anchor is not None, subject
        assert anchor["chainId"] == 31337
        assert anchor["contract"].lower() == hardhat.address.lower()
        assert anchor["treeSize"] == checkpoint.tree_size
        assert anchor["rootHash"] == checkpoint.root_hash
        assert anchor["blockNumber"] > 0
    # and the verification page says so in plain words
    page = await client.get(f"/verify/{world['p3']['verificationCode']}")
    assert "Anchored on a local development chain in block" in page.text
    # and a stranger's check against the node passes, anchors included
    path = tmp_path / "answer.json"
    path.write_text(json.dumps({"data": answer}))
    key = (await client.get("/v1/transparency/key")).json()["data"]["publicKey"]
    out = io.StringIO()
    status = verify_answer(Options(source=str(path), key_hex=key, rpc=hardhat_url), out=out)
    report = out.getvalue()
    assert status == 0, report
    assert "is in the anchored tree" in report
    assert "FAIL" not in report
