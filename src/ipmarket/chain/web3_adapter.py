"""The web3.py adapter of the contract port: any EVM JSON-RPC node (hardhat in tests,
Polygon in production) or, for tests, web3's in-memory eth-tester provider.

Signing happens here with the platform's key (the node never holds it), so the signed bytes
can be stored before they are sent. Gas limits are fixed per function rather than estimated:
an estimate runs against the latest block, where a parent still pending in the same batch
does not exist yet and the estimate would revert; the contract's writes take a constant gas.
"""

from __future__ import annotations

import ast
import asyncio
import re
from typing import Any, cast

import aiohttp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception
from web3.providers.async_base import AsyncBaseProvider
from web3.types import TxParams

from ipmarket.chain.artifact import contract_artifact
from ipmarket.chain.port import (
    ChainUnavailable,
    Fees,
    OnChainAuthorization,
    Receipt,
    SignedTransaction,
)

# Gas limits, over what bench/chain_gas.py measures (createAuthorizationWithId 118k for a
# root, 185k with a parent: six storage slots and the parent's list of derivations;
# revokeAuthorization 26k; anchorCheckpoint 46k). No write of the contract loops, so none
# needs more on a deeper chain.
GAS_LIMITS = {
    "createAuthorizationWithId": 300_000,
    "revokeAuthorization": 80_000,
    "anchorCheckpoint": 100_000,
}
RPC_TIMEOUT_SECONDS = 10

_TRANSPORT_ERRORS = (Web3Exception, OSError, aiohttp.ClientError, asyncio.TimeoutError)
# What nodes answer when the same signed transaction arrives twice: it is not an error here.
# Hardhat in automine mode mines a transaction that reverts and answers the send with the
# revert: it is on chain, and its receipt says it failed.
_ALREADY_SENT = (
    "already known",
    "known transaction",
    "nonce too low",
    "already imported",
    "vm exception while processing transaction",
)


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


class Web3AuthorizationChain:
    """`AuthorizationChainPort` over web3.py 8 (async)."""

    def __init__(
        self, w3: AsyncWeb3[Any], *, private_key: str, contract_address: str, chain_id: int
    ) -> None:
        self._w3 = w3
        self._account: LocalAccount = Account.from_key(private_key)
        self._address = to_checksum_address(contract_address)
        self._chain_id = chain_id
        self._contract: AsyncContract = w3.eth.contract(
            address=self._address, abi=contract_artifact().abi
        )

    @classmethod
    async def connect(
        cls,
        *,
        rpc_url: str | None = None,
        provider: AsyncBaseProvider | None = None,
        private_key: str,
        contract_address: str,
        chain_id: int | None = None,
    ) -> Web3AuthorizationChain:
        """An adapter for the node at `rpc_url` (or `provider`); `chain_id`, when given, must be
        the node's."""
        if provider is None:
            if rpc_url is None:
                raise ValueError("rpc_url or provider is required")
            provider = AsyncHTTPProvider(
                rpc_url, request_kwargs={"timeout": aiohttp.ClientTimeout(RPC_TIMEOUT_SECONDS)}
            )
        w3 = AsyncWeb3(provider)
        if chain_id is None:
            try:
                chain_id = await w3.eth.chain_id
            except _TRANSPORT_ERRORS as exc:
                raise ChainUnavailable(f"the chain node does not answer: {exc}") from exc
        return cls(
            w3, private_key=private_key, contract_address=contract_address, chain_id=chain_id
        )

    async def close(self) -> None:
        """Closes the HTTP session of the provider (a no-op for in-memory providers)."""
        if isinstance(self._w3.provider, AsyncHTTPProvider):
            await self._w3.provider.disconnect()

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def contract_address(self) -> str:
        return self._address

    @property
    def sender(self) -> str:
        return self._account.address

    @property
    def contract(self) -> AsyncContract:
        """The web3 contract object (for tests and benchmarks)."""
        return self._contract

    # --- writes: signed, never sent here ---------------------------------------------------

    async def _sign(
        self, function: str, args: list[Any], nonce: int, fees: Fees
    ) -> SignedTransaction:
        gas = GAS_LIMITS[function]
        call = self._contract.get_function_by_name(function)(*args)
        tx: dict[str, Any] = {
            "from": self._account.address,
            "to": self._address,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "chainId": self._chain_id,
            "value": 0,
            "data": call._encode_transaction_data(),
        }
        signed = self._account.sign_transaction(tx)
        return SignedTransaction(
            raw=_hex(bytes(signed.raw_transaction)), hash=_hex(bytes(signed.hash)), gas_limit=gas
        )

    async def create_authorization_record(
        self,
        *,
        auth_id: bytes,
        ip_hash: bytes,
        licensor: str,
        licensee: str,
        parent_auth: bytes,
        nonce: int,
        fees: Fees,
    ) -> SignedTransaction:
        args = [
            auth_id,
            ip_hash,
            to_checksum_address(licensor),
            to_checksum_address(licensee),
            parent_auth,
        ]
        return await self._sign("createAuthorizationWithId", args, nonce, fees)

    async def revoke_authorization(
        self, *, auth_id: bytes, nonce: int, fees: Fees
    ) -> SignedTransaction:
        return await self._sign("revokeAuthorization", [auth_id], nonce, fees)

    async def anchor_checkpoint(
        self, *, tree_size: int, root_hash: bytes, nonce: int, fees: Fees
    ) -> SignedTransaction:
        return await self._sign("anchorCheckpoint", [tree_size, root_hash], nonce, fees)

    # --- reads --------------------------------------------------------------------------------

    async def verify_authorization_chain(self, auth_id: bytes) -> bool:
        try:
            return bool(await self._contract.functions.verifyAuthorizationChain(auth_id).call())
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(str(exc)) from exc

    async def get_authorization_history(self, auth_id: bytes) -> list[OnChainAuthorization]:
        try:
            path = await self._contract.functions.getAuthorizationPath(auth_id).call()
            history = []
            for link in path:
                (
                    ip_hash,
                    licensor,
                    licensee,
                    timestamp,
                    active,
                    parent,
                ) = await self._contract.functions.authorizations(link).call()
                history.append(
                    OnChainAuthorization(
                        auth_id=_hex(bytes(link)),
                        ip_hash=_hex(bytes(ip_hash)),
                        licensor=licensor,
                        licensee=licensee,
                        timestamp=int(timestamp),
                        is_active=bool(active),
                        parent_auth=_hex(bytes(parent)),
                    )
                )
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(str(exc)) from exc
        return history

    async def checkpoint_root(self, tree_size: int) -> bytes | None:
        try:
            root = bytes(await self._contract.functions.checkpointRoots(tree_size).call())
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(str(exc)) from exc
        return None if root == b"\x00" * 32 else root

    # --- transport ----------------------------------------------------------------------------

    async def send_raw_transaction(self, raw: str) -> str:
        expected = _hex(keccak(HexBytes(raw)))
        try:
            sent = await self._w3.eth.send_raw_transaction(HexBytes(raw))
        except Exception as exc:
            if _already_sent(str(exc)):
                # The node has it already (a re-broadcast), or its nonce is used: the receipt
                # of one of our hashes will say which.
                return expected
            raise ChainUnavailable(f"the node did not take the transaction: {exc}") from exc
        return _hex(bytes(sent))

    async def get_receipt(self, transaction_hash: str) -> Receipt | None:
        try:
            receipt = await self._w3.eth.get_transaction_receipt(HexBytes(transaction_hash))
        except TransactionNotFound:
            return None
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(str(exc)) from exc
        return Receipt(
            transaction_hash=transaction_hash,
            block_number=int(receipt["blockNumber"]),
            block_hash=_hex(bytes(receipt["blockHash"])),
            succeeded=receipt["status"] == 1,
            gas_used=int(receipt["gasUsed"]),
        )

    async def block_number(self) -> int:
        try:
            return int(await self._w3.eth.block_number)
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(str(exc)) from exc

    async def pending_nonce(self) -> int:
        try:
            return int(await self._w3.eth.get_transaction_count(self._account.address, "pending"))
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(str(exc)) from exc

    async def suggest_fees(self) -> Fees:
        try:
            block = await self._w3.eth.get_block("latest")
            priority = int(await self._w3.eth.max_priority_fee)
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(str(exc)) from exc
        base = int(block.get("baseFeePerGas", 0))
        # Twice the base fee: room for six full blocks of base fee growth before it is stuck.
        return Fees(max_fee_per_gas=2 * base + priority, max_priority_fee_per_gas=priority)

    async def revert_reason(self, transaction_hash: str) -> str:
        """Why a mined transaction reverted: its call replayed on the block before its own."""
        try:
            tx = await self._w3.eth.get_transaction(HexBytes(transaction_hash))
            block = int(tx["blockNumber"] or 0)
            call: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["input"]}
        except _TRANSPORT_ERRORS as exc:
            return f"reverted (reason unavailable: {exc})"
        try:
            await self._w3.eth.call(call, max(block - 1, 0))
        except ContractLogicError as exc:
            data = exc.data if isinstance(exc.data, str) else None
            return _decode_error(data or _hex_data_in(str(exc)), exc)
        except Exception as exc:
            return _decode_error(_revert_data_in(str(exc)), exc)
        return "reverted (its call succeeds when replayed: out of gas, or its block changed state)"


def _already_sent(message: str) -> bool:
    text = message.lower()
    if any(phrase in text for phrase in _ALREADY_SENT):
        return True
    # eth-tester: "Invalid transaction nonce: Expected 2, but got 1" (used, not a gap).
    found = re.search(r"invalid transaction nonce: expected (\d+), but got (\d+)", text)
    return found is not None and int(found.group(2)) < int(found.group(1))


def _hex_data_in(message: str) -> str | None:
    """The first 0x value of 4 bytes or more in a node's message (hardhat quotes it)."""
    found = re.search(r"0x[0-9a-fA-F]{8,}", message)
    return found.group(0).lower() if found else None


def _revert_data_in(message: str) -> str | None:
    """The revert data in eth-tester's message, which shows it as a bytes literal."""
    start = message.find("b'")
    if start < 0:
        start = message.find('b"')
    if start < 0:
        return None
    try:
        value = ast.literal_eval(message[start:])
    except (ValueError, SyntaxError):
        return None
    return "0x" + value.hex() if isinstance(value, bytes) else None


def _decode_error(data: str | None, exc: Exception) -> str:
    """`reverted: <ErrorName>` for the contract's custom errors, else the node's message."""
    if data and data.startswith("0x") and len(data) >= 10:
        selector = data[2:10]
        for item in contract_artifact().abi:
            if item.get("type") != "error":
                continue
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            if keccak(text=signature)[:4].hex() == selector:
                return f"reverted: {item['name']}"
    return f"reverted: {exc}"


async def deploy_contract(w3: AsyncWeb3[Any], private_key: str) -> str:
    """Deploys the contract from `private_key`'s account (the platform) and returns its address."""
    account: LocalAccount = Account.from_key(private_key)
    artifact = contract_artifact()
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    chain_id = await w3.eth.chain_id
    block = await w3.eth.get_block("latest")
    priority = int(await w3.eth.max_priority_fee)
    tx: dict[str, Any] = {
        "from": account.address,
        "nonce": await w3.eth.get_transaction_count(account.address, "pending"),
        "maxPriorityFeePerGas": priority,
        "maxFeePerGas": 2 * int(block.get("baseFeePerGas", 0)) + priority,
        "chainId": chain_id,
    }
    built = await factory.constructor().build_transaction(cast(TxParams, tx))
    built["gas"] = int(await w3.eth.estimate_gas(built))
    signed = account.sign_transaction(cast(dict[str, Any], built))
    tx_hash = await w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1 or receipt["contractAddress"] is None:
        raise RuntimeError(f"the deployment reverted (transaction {_hex(bytes(tx_hash))})")
    return str(receipt["contractAddress"])
