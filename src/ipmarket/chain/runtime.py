"""Which chain adapter the consumers and the job use: the one CHAIN_RPC_URL names, or none
(nothing is sent; the transparency log alone vouches). Tests install their own."""

from __future__ import annotations

from datetime import timedelta

import structlog

from ipmarket.chain.ledger import Policy
from ipmarket.chain.port import AuthorizationChainPort
from ipmarket.config import Settings, get_settings

log = structlog.get_logger(__name__)

_installed: AuthorizationChainPort | None = None
_installed_policy: Policy | None = None
_connected: dict[tuple[str, str, str], AuthorizationChainPort] = {}


def install_chain(chain: AuthorizationChainPort | None, policy: Policy | None = None) -> None:
    """Use `chain` (and `policy`) instead of the configured node; None goes back to settings."""
    global _installed, _installed_policy  # noqa: PLW0603 - the process's one adapter
    _installed = chain
    _installed_policy = policy


def chain_policy(settings: Settings | None = None) -> Policy:
    if _installed_policy is not None:
        return _installed_policy
    settings = settings or get_settings()
    return Policy(
        confirmations=settings.chain_confirmations,
        stuck_after=timedelta(seconds=settings.chain_stuck_after_seconds),
    )


async def current_chain(settings: Settings | None = None) -> AuthorizationChainPort | None:
    """The adapter of the configured node, or None when no CHAIN_RPC_URL is set."""
    if _installed is not None:
        return _installed
    settings = settings or get_settings()
    if not settings.chain_rpc_url:
        return None
    if settings.chain_private_key is None or not settings.chain_contract_address:
        log.error("chain.misconfigured", missing="CHAIN_PRIVATE_KEY or CHAIN_CONTRACT_ADDRESS")
        return None
    key = settings.chain_private_key.get_secret_value()
    cache_key = (settings.chain_rpc_url, settings.chain_contract_address, key)
    if cache_key not in _connected:
        # web3 loads only where a node is configured (not in every API process at start).
        from ipmarket.chain.web3_adapter import Web3AuthorizationChain  # noqa: PLC0415

        # Raises ChainUnavailable when the node is down (without CHAIN_ID): the caller retries.
        _connected[cache_key] = await Web3AuthorizationChain.connect(
            rpc_url=settings.chain_rpc_url,
            private_key=key,
            contract_address=settings.chain_contract_address,
            chain_id=settings.chain_id,
        )
    return _connected[cache_key]
