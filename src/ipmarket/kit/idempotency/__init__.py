"""Stripe-style idempotency for the POSTs that move money (ARCHITECTURE.md §5), shared by
every module that has them (payments, licensing's apply).

Such a route takes an `Idempotency-Key` header. Keys belong to the caller. The first
request under a key runs; after it:

- the same key with the same request (method, path and canonical JSON body) replays the
  first response (header `Idempotent-Replayed: true`) and does nothing more;
- the same key with another request is a 422 (`details.reason = idempotency_key_reused`);
- while the first request is still running, another under the same key is a 409
  (`details.reason = idempotency_key_in_flight`), or, for work done in one transaction,
  waits for it and replays its answer (`IdempotentRequest.run_in_transaction`).

Keys are honoured for `RETENTION`, then forgotten (purged by `purge_expired_keys`; a key
past its retention is claimed afresh even before the purge).

Deterministic ids: a request's new rows (a sale, a refund, a payout, a license application)
take an id derived from the caller and the key, and the provider's idempotency keys derive
from those ids, so every attempt under a key reaches the provider under the same keys. A row
older than `RETENTION` belongs to an earlier use of a forgotten key (`is_continuation`).

`rules` holds the header and its limits, `models` the table, `repository` its SQL and
`requests` the mechanism.
"""

from ipmarket.kit.idempotency.models import IdempotencyKey
from ipmarket.kit.idempotency.requests import (
    Idempotency,
    IdempotentRequest,
    KeyHeader,
    idempotent_request,
    purge_expired_keys,
)
from ipmarket.kit.idempotency.rules import (
    HEADER,
    KEY_MAX_LENGTH,
    KEY_PATTERN,
    REPLAYED_HEADER,
    RETENTION,
    STALE_AFTER,
    is_continuation,
    request_hash,
)

__all__ = [
    "HEADER",
    "KEY_MAX_LENGTH",
    "KEY_PATTERN",
    "REPLAYED_HEADER",
    "RETENTION",
    "STALE_AFTER",
    "Idempotency",
    "IdempotencyKey",
    "IdempotentRequest",
    "KeyHeader",
    "idempotent_request",
    "is_continuation",
    "purge_expired_keys",
    "request_hash",
]
