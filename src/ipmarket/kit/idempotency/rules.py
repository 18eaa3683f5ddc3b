"""What every route taking an `Idempotency-Key` shares: the header, its limits, how long a
key is honoured, what makes two requests the same, and whether a row derived from a key
belongs to the key as it is now."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from ipmarket.kit.clock import utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII without spaces, as Stripe accepts.
KEY_PATTERN = r"^[\x21-\x7e]+$"
KEY_MAX_LENGTH = 255
# Keys are honoured this long (Stripe keeps them 24 hours), then forgotten.
RETENTION = timedelta(hours=24)
# A key still in flight after this long belongs to a request that died.
STALE_AFTER = timedelta(minutes=5)


def is_continuation(created_at: datetime) -> bool:
    """Whether a row with a key-derived id was made under the key as it is now, rather than
    under an earlier use of the key that has since been forgotten."""
    return created_at > utcnow() - RETENTION


def canonical_body(raw: bytes) -> str:
    """The body as canonical JSON (sorted keys, no spaces), so formatting does not matter."""
    if not raw.strip():
        return ""
    try:
        return json.dumps(
            json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except (ValueError, UnicodeDecodeError):
        return raw.hex()


def request_hash(method: str, path: str, raw_body: bytes) -> str:
    """What a key remembers of its request: method, path and canonical body."""
    text = f"{method.upper()}\n{path}\n{canonical_body(raw_body)}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
