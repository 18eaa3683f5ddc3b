"""The port to the `IPAuthorizationChain` contract (seed §5.2 `BlockchainService`).

The writes (`create_authorization_record`, `revoke_authorization`, `anchor_checkpoint`) only
*sign*: they return a transaction for the given nonce and fees and send nothing, so that the
ledger (`ipmarket.chain.ledger`) can store the signed bytes before anything leaves. Sending,
receipts and blocks are the transport half. The reads (`verify_authorization_chain`,
`get_authorization_history`, `checkpoint_root`) ask the contract's current state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def bumped(self, percent: int = 25) -> Fees:
        """Fees a node accepts as a replacement of a transaction with these (nodes ask 10%+)."""
        return Fees(
            max_fee_per_gas=self.max_fee_per_gas * (100 + percent) // 100 + 1,
            max_priority_fee_per_gas=self.max_priority_fee_per_gas * (100 + percent) // 100 + 1,
        )

    def at_least(self, other: Fees) -> Fees:
        return Fees(
            max_fee_per_gas=max(self.max_fee_per_gas, other.max_fee_per_gas),
            max_priority_fee_per_gas=max(
                self.max_priority_fee_per_gas, other.max_priority_fee_per_gas
            ),
        )


@dataclass(frozen=True)
class SignedTransaction:
    raw: str  # 0x hex
    hash: str  # 0x hex, lowercase
    gas_limit: int


@dataclass(frozen=True)
class Receipt:
    transaction_hash: str
    block_number: int
    block_hash: str
    succeeded: bool
    gas_used: int


@dataclass(frozen=True)
class OnChainAuthorization:
    auth_id: str  # 0x hex
    ip_hash: str  # 0x hex
    licensor: str
    licensee: str
    timestamp: int
    is_active: bool
    parent_auth: str  # 0x hex, zero for a root


class ChainUnavailable(Exception):
    """The node could not be reached or answered with an error: try again later."""


class AuthorizationChainPort(Protocol):
    @property
    def chain_id(self) -> int: ...
    @property
    def contract_address(self) -> str: ...
    @property
    def sender(self) -> str: ...

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
    ) -> SignedTransaction: ...

    async def revoke_authorization(
        self, *, auth_id: bytes, nonce: int, fees: Fees
    ) -> SignedTransaction: ...

    async def anchor_checkpoint(
        self, *, tree_size: int, root_hash: bytes, nonce: int, fees: Fees
    ) -> SignedTransaction: ...

    async def verify_authorization_chain(self, auth_id: bytes) -> bool: ...

    async def get_authorization_history(self, auth_id: bytes) -> list[OnChainAuthorization]:
        """The authorization and its parents up to the root, the authorization first."""
        ...

    async def checkpoint_root(self, tree_size: int) -> bytes | None: ...

    # transport
    async def send_raw_transaction(self, raw: str) -> str: ...
    async def get_receipt(self, transaction_hash: str) -> Receipt | None: ...
    async def block_number(self) -> int: ...
    async def pending_nonce(self) -> int: ...
    async def suggest_fees(self) -> Fees: ...
    async def revert_reason(self, transaction_hash: str) -> str: ...
