"""The contract on eth-tester (py-evm, prague): a chain of authorizations, revocation,
checkpoint anchors, and the platform as the only writer."""

from __future__ import annotations

from typing import Any

import pytest
from eth_tester.exceptions import TransactionFailed
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError

from ipmarket.chain.ids import ZERO_AUTH, auth_id, user_address
from ipmarket.chain.port import Fees
from tests.chain.conftest import Deployed

ROOT_HASH = bytes.fromhex("ab" * 32)


async def _send(deployed: Deployed, signed_raw: str) -> Any:
    tx_hash = await deployed.w3.eth.send_raw_transaction(HexBytes(signed_raw))
    return await deployed.w3.eth.wait_for_transaction_receipt(tx_hash)


async def _write(deployed: Deployed, method: str, **kwargs: Any) -> Any:
    chain = deployed.chain
    fees = await chain.suggest_fees()
    nonce = await chain.pending_nonce()
    signed = await getattr(chain, method)(nonce=nonce, fees=fees, **kwargs)
    return await _send(deployed, signed.raw)


async def _chain_of_three(deployed: Deployed) -> tuple[bytes, bytes, bytes]:
    asset, license_, product = (
        auth_id(k, f"id-{k}") for k in ("ip_asset", "license", "chain_record")
    )
    for auth, parent in ((asset, ZERO_AUTH), (license_, asset), (product, license_)):
        receipt = await _write(
            deployed,
            "create_authorization_record",
            auth_id=auth,
            ip_hash=bytes(32),
            licensor=user_address("licensor"),
            licensee=user_address("licensee"),
            parent_auth=parent,
        )
        assert receipt["status"] == 1
    return asset, license_, product


async def test_a_chain_of_three_verifies_until_a_link_is_revoked(tester: Deployed) -> None:
    # given an original asset, a license under it and a product under the license
    asset, license_, product = await _chain_of_three(tester)
    # then the product's chain verifies, and its history walks up to the root
    assert await tester.chain.verify_authorization_chain(product) is True
    history = await tester.chain.get_authorization_history(product)
    assert [h.auth_id for h in history] == ["0x" + a.hex() for a in (product, license_, asset)]
    assert history[1].licensee == user_address("licensee")
    # when the license is revoked
    receipt = await _write(tester, "revoke_authorization", auth_id=license_)
    assert receipt["status"] == 1
    # then the product and the license fail verification, the asset's root still holds
    assert await tester.chain.verify_authorization_chain(product) is False
    assert await tester.chain.verify_authorization_chain(license_) is False
    assert await tester.chain.verify_authorization_chain(asset) is True
    # and an unknown id never verifies
    assert await tester.chain.verify_authorization_chain(auth_id("license", "nobody")) is False


async def test_the_seed_call_derives_distinct_ids(tester: Deployed) -> None:
    contract = tester.chain.contract
    platform = tester.chain.sender
    # when the seed's createAuthorization is called twice with the same arguments
    first = await contract.functions.createAuthorization(bytes(32), platform, ZERO_AUTH).call(
        {"from": platform}
    )
    await contract.functions.createAuthorization(bytes(32), platform, ZERO_AUTH).transact(
        {"from": platform}
    )
    second = await contract.functions.createAuthorization(bytes(32), platform, ZERO_AUTH).call(
        {"from": platform}
    )
    # then each call makes its own authorization
    assert first != second
    assert await tester.chain.verify_authorization_chain(first) is True


async def test_a_child_needs_an_existing_parent_and_an_id_is_written_once(tester: Deployed) -> None:
    contract = tester.chain.contract
    platform = tester.chain.sender
    orphan = contract.functions.createAuthorizationWithId(
        auth_id("license", "x"), bytes(32), platform, platform, auth_id("license", "missing")
    )
    with pytest.raises((ContractLogicError, TransactionFailed)):
        await orphan.call({"from": platform})
    asset, _, _ = await _chain_of_three(tester)
    again = contract.functions.createAuthorizationWithId(
        asset, bytes(32), platform, platform, ZERO_AUTH
    )
    with pytest.raises((ContractLogicError, TransactionFailed)):
        await again.call({"from": platform})


async def test_checkpoints_are_anchored_once_and_never_rewritten(tester: Deployed) -> None:
    # when the log's root at size 7 is anchored
    receipt = await _write(tester, "anchor_checkpoint", tree_size=7, root_hash=ROOT_HASH)
    # then the contract holds it and said so in an event
    assert receipt["status"] == 1
    assert await tester.chain.checkpoint_root(7) == ROOT_HASH
    assert await tester.chain.checkpoint_root(8) is None
    contract = tester.chain.contract
    (event,) = contract.events.CheckpointAnchored().process_receipt(receipt)
    assert event["args"]["treeSize"] == 7
    # and the same anchor again is a harmless no-op, another root for size 7 reverts
    assert (await _write(tester, "anchor_checkpoint", tree_size=7, root_hash=ROOT_HASH))[
        "status"
    ] == 1
    conflicting = await _write(tester, "anchor_checkpoint", tree_size=7, root_hash=bytes(32))
    assert conflicting["status"] == 0
    assert await tester.chain.checkpoint_root(7) == ROOT_HASH


async def test_only_the_platform_writes(tester: Deployed) -> None:
    # given someone else's account, funded
    stranger = tester.stranger
    fees = await stranger.suggest_fees()
    for method, kwargs in (
        ("anchor_checkpoint", {"tree_size": 1, "root_hash": ROOT_HASH}),
        ("revoke_authorization", {"auth_id": auth_id("license", "a")}),
        (
            "create_authorization_record",
            {
                "auth_id": auth_id("license", "b"),
                "ip_hash": bytes(32),
                "licensor": stranger.sender,
                "licensee": stranger.sender,
                "parent_auth": ZERO_AUTH,
            },
        ),
    ):
        signed = await getattr(stranger, method)(
            nonce=await stranger.pending_nonce(), fees=fees, **kwargs
        )
        # when it writes, the transaction is mined but reverted
        receipt = await _send(tester, signed.raw)
        assert receipt["status"] == 0
        # and the reason read back names the rule
        assert "NotPlatform" in await tester.chain.revert_reason(signed.hash)
    assert await tester.chain.checkpoint_root(1) is None
    assert await tester.chain.verify_authorization_chain(auth_id("license", "b")) is False


def test_fee_bumps_exceed_what_nodes_require() -> None:
    fees = Fees(max_fee_per_gas=1000, max_priority_fee_per_gas=100)
    bumped = fees.bumped()
    assert bumped.max_fee_per_gas >= 1100
    assert bumped.max_priority_fee_per_gas >= 110
