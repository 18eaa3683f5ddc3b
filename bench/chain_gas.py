"""Gas of each write of the IPAuthorizationChain contract, on eth-tester (py-evm, prague).

    .venv/bin/python -m bench.chain_gas [--depth N] [--rpc-url URL --private-key KEY]

Creates a chain of N authorizations (the root, then each under the previous one), revokes
the last, anchors three checkpoints, and prints the gas used by each kind of write. With
--rpc-url the same runs against that node (e.g. a local `npx hardhat node`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.providers.eth_tester import AsyncEthereumTesterProvider

from ipmarket.chain.ids import ZERO_AUTH, auth_id, user_address
from ipmarket.chain.port import SignedTransaction
from ipmarket.chain.web3_adapter import Web3AuthorizationChain, deploy_contract

TESTER_KEY = "0x" + "00" * 31 + "01"


async def _gas(w3: AsyncWeb3[Any], signed: SignedTransaction) -> int:
    tx_hash = await w3.eth.send_raw_transaction(bytes.fromhex(signed.raw[2:]))
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise RuntimeError(f"reverted: {signed.hash}")
    return int(receipt["gasUsed"])


async def run(depth: int, rpc_url: str | None, private_key: str) -> dict[str, list[int]]:
    w3: AsyncWeb3[Any] = AsyncWeb3(
        AsyncHTTPProvider(rpc_url) if rpc_url else AsyncEthereumTesterProvider()
    )
    address = await deploy_contract(w3, private_key)
    chain = Web3AuthorizationChain(
        w3, private_key=private_key, contract_address=address, chain_id=await w3.eth.chain_id
    )
    gas: dict[str, list[int]] = {
        "createAuthorization (root)": [],
        "createAuthorization (child)": [],
        "revokeAuthorization": [],
        "anchorCheckpoint": [],
    }
    parent = ZERO_AUTH
    for i in range(depth):
        auth = auth_id("license", f"bench-{i}")
        signed = await chain.create_authorization_record(
            auth_id=auth,
            ip_hash=bytes(32),
            licensor=user_address(f"licensor-{i}"),
            licensee=user_address(f"licensee-{i}"),
            parent_auth=parent,
            nonce=await chain.pending_nonce(),
            fees=await chain.suggest_fees(),
        )
        gas["createAuthorization (root)" if i == 0 else "createAuthorization (child)"].append(
            await _gas(w3, signed)
        )
        parent = auth
    signed = await chain.revoke_authorization(
        auth_id=parent, nonce=await chain.pending_nonce(), fees=await chain.suggest_fees()
    )
    gas["revokeAuthorization"].append(await _gas(w3, signed))
    for size in (10, 20, 30):
        signed = await chain.anchor_checkpoint(
            tree_size=size,
            root_hash=size.to_bytes(32, "big"),
            nonce=await chain.pending_nonce(),
            fees=await chain.suggest_fees(),
        )
        gas["anchorCheckpoint"].append(await _gas(w3, signed))
    await chain.close()
    return gas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=5, help="authorizations in the chain")
    parser.add_argument("--rpc-url", help="a JSON-RPC node instead of eth-tester")
    parser.add_argument("--private-key", default=TESTER_KEY, help="funded key (with --rpc-url)")
    args = parser.parse_args()
    gas = asyncio.run(run(max(args.depth, 2), args.rpc_url, args.private_key))
    print(f"{'write':<30} {'calls':>5} {'gas (median)':>13} {'max':>8}")
    for name, values in gas.items():
        print(f"{name:<30} {len(values):>5} {int(statistics.median(values)):>13} {max(values):>8}")


if __name__ == "__main__":
    main()
