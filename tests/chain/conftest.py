"""Chain fixtures: the contract deployed on web3's in-memory eth-tester chain (fast, one per
test) and on a real local JSON-RPC node (`npx hardhat node`, one per session)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.providers.eth_tester import AsyncEthereumTesterProvider

import ipmarket.registrations  # noqa: F401 - the consumers and jobs under test
from ipmarket.chain.ledger import Policy
from ipmarket.chain.runtime import install_chain
from ipmarket.chain.web3_adapter import Web3AuthorizationChain, deploy_contract
from tests.conftest import ROOT

# eth-tester's funded accounts have the private keys 1, 2, ...
TESTER_PLATFORM_KEY = "0x" + "00" * 31 + "01"
TESTER_STRANGER_KEY = "0x" + "00" * 31 + "02"
# The first account of hardhat's default mnemonic (public test key, funded on its node).
HARDHAT_PLATFORM_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_STRANGER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
CONTRACTS = ROOT / "contracts"


@dataclass
class Deployed:
    w3: AsyncWeb3[Any]
    chain: Web3AuthorizationChain
    stranger: Web3AuthorizationChain
    address: str


@pytest.fixture
async def tester() -> Deployed:
    """The contract on a fresh eth-tester chain (automine: a block per transaction)."""
    w3 = AsyncWeb3(AsyncEthereumTesterProvider())
    address = await deploy_contract(w3, TESTER_PLATFORM_KEY)
    chain_id = await w3.eth.chain_id
    chain = Web3AuthorizationChain(
        w3, private_key=TESTER_PLATFORM_KEY, contract_address=address, chain_id=chain_id
    )
    stranger = Web3AuthorizationChain(
        w3, private_key=TESTER_STRANGER_KEY, contract_address=address, chain_id=chain_id
    )
    return Deployed(w3=w3, chain=chain, stranger=stranger, address=address)


@pytest.fixture
def use_chain() -> Iterator[Any]:
    """Installs an adapter for the consumers and the job; removed after the test."""

    def install(chain: Any, policy: Policy | None = None) -> None:
        install_chain(chain, policy or Policy(confirmations=1))

    yield install
    install_chain(None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def hardhat_url() -> Iterator[str]:
    """A real local JSON-RPC node for the session: `npx hardhat node` on a free port."""
    if not (CONTRACTS / "node_modules" / ".bin" / "hardhat").exists() or not shutil.which("node"):
        pytest.fail("hardhat is not installed: run `make chain-deps`")
    port = _free_port()
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "CI": "true"}
    process = subprocess.Popen(
        [
            str(CONTRACTS / "node_modules" / ".bin" / "hardhat"),
            "node",
            "--hostname",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=CONTRACTS,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                httpx.post(
                    url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1
                )
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"hardhat node did not start: {stderr[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
async def hardhat(hardhat_url: str) -> AsyncIterator[Deployed]:
    """A fresh deployment of the contract on the session's hardhat node."""
    w3 = AsyncWeb3(AsyncHTTPProvider(hardhat_url))
    address = await deploy_contract(w3, HARDHAT_PLATFORM_KEY)
    chain = await Web3AuthorizationChain.connect(
        rpc_url=hardhat_url, private_key=HARDHAT_PLATFORM_KEY, contract_address=address
    )
    stranger = await Web3AuthorizationChain.connect(
        rpc_url=hardhat_url, private_key=HARDHAT_STRANGER_KEY, contract_address=address
    )
    yield Deployed(w3=w3, chain=chain, stranger=stranger, address=address)
    for closing in (chain, stranger):
        await closing.close()
    await w3.provider.disconnect()
