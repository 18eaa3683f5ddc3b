"""`ipmarket chain deploy` against the hardhat node."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner
from web3 import AsyncHTTPProvider, AsyncWeb3

from ipmarket.chain.artifact import contract_artifact
from ipmarket.cli import app
from tests.chain.conftest import HARDHAT_PLATFORM_KEY


async def test_deploy_prints_the_address_of_a_working_contract(
    hardhat_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAIN_RPC_URL", hardhat_url)
    monkeypatch.setenv("CHAIN_PRIVATE_KEY", HARDHAT_PLATFORM_KEY)
    monkeypatch.delenv("CHAIN_ID", raising=False)
    # when the operator deploys
    import asyncio

    result = await asyncio.to_thread(CliRunner().invoke, app, ["chain", "deploy"])
    # then the address printed holds the contract, with the platform as its writer
    assert result.exit_code == 0, result.output
    address = result.stdout.strip().splitlines()[-1]
    w3 = AsyncWeb3(AsyncHTTPProvider(hardhat_url))
    contract = w3.eth.contract(address=w3.to_checksum_address(address), abi=contract_artifact().abi)
    platform = await contract.functions.platform().call()
    assert platform == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    await w3.provider.disconnect()


def test_deploy_needs_a_node_and_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAIN_RPC_URL", raising=False)
    result = CliRunner().invoke(app, ["chain", "deploy"])
    assert result.exit_code == 1
    assert "CHAIN_RPC_URL" in result.output
