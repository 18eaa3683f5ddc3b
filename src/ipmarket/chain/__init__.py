"""The chain module: the seed's `IPAuthorizationChain` contract on an EVM chain, behind a port,
fed from the transparency log's events on the `blockchain` queue.

Other modules use: `anchor_covering` (provenance's verification evidence), `RecordAnchored`
(the `chain.record_anchored` event, to fill `blockchain_hash`), `auth_id` (the contract id
of a record: "ip_asset", "license" or "chain_record" and its id) and `current_chain()` (the
configured adapter or None) for live reads such as `verify_authorization_chain(auth_id)`.
"""

from ipmarket.chain.events import RecordAnchored
from ipmarket.chain.ids import auth_id
from ipmarket.chain.port import AuthorizationChainPort, ChainUnavailable, OnChainAuthorization
from ipmarket.chain.queries import Anchor, anchor_covering
from ipmarket.chain.runtime import current_chain

__all__ = [
    "Anchor",
    "AuthorizationChainPort",
    "ChainUnavailable",
    "OnChainAuthorization",
    "RecordAnchored",
    "anchor_covering",
    "auth_id",
    "current_chain",
]
