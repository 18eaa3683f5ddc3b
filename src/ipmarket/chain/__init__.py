"""The chain module: the seed's `IPAuthorizationChain` contract on an EVM chain, behind a port,
fed from the transparency log's events on the `blockchain` queue.

Other modules use: `anchor_covering` (provenance's verification evidence), `RecordAnchored`
(the `chain.record_anchored` event, to fill `blockchain_hash`), `auth_id` (the contract id
of a record).
"""

from ipmarket.chain.events import RecordAnchored
from ipmarket.chain.ids import auth_id
from ipmarket.chain.queries import Anchor, anchor_covering

__all__ = ["Anchor", "RecordAnchored", "anchor_covering", "auth_id"]
