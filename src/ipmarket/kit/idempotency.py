"""What every route taking an `Idempotency-Key` shares (Stripe's semantics, ARCHITECTURE §5):
the header, its limits, how long a key is honoured, and whether a row derived from a key
belongs to the key as it is now. The payments module's `idempotency` builds the full
mechanism on these; licensing's apply uses them directly."""

from __future__ import annotations

from datetime import datetime, timedelta

from ipmarket.kit.clock import utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII without spaces, as Stripe accepts.
KEY_PATTERN = r"^[\x21-\x7e]+$"
KEY_MAX_LENGTH = 255
# Keys are honoured this long (Stripe keeps them 24 hours), then forgotten.
RETENTION = timedelta(hours=24)


def is_continuation(created_at: datetime) -> bool:
    """Whether a row with a key-derived id was made under the key as it is now, rather than
    under an earlier use of the key that has since been forgotten."""
    return created_at > utcnow() - RETENTION
