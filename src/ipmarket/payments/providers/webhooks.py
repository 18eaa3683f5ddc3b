"""Stripe's webhook signatures: `Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]`.

Each `v1` is the hex HMAC-SHA256, keyed with the endpoint's signing secret (`whsec_...`), of
`"<t>.<raw request body>"`. Stripe sends several `v1` values while a secret is being rolled;
one match is enough. Other schemes (`v0`, test-mode only) are ignored. A timestamp more than
`tolerance` seconds from now, in the past (a replay) or in the future, is refused.

Callers pass the current time (`now=int(utcnow().timestamp())`) so tests can freeze it, and the
raw body exactly as received: a re-serialised JSON body would not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

DEFAULT_TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "Stripe-Signature"

_SCHEME = "v1"
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
# No genuine header carries more than a handful of signatures.
_MAX_HEADER_LENGTH = 4096


class WebhookSignatureError(ValueError):
    """The webhook is not proven to come from Stripe: a missing or malformed signature header,
    no signature that matches, a timestamp outside the tolerance, or a body that is not a JSON
    object. The message says which; it never contains the secret."""


def sign_stripe_payload(payload: bytes | str, secret: str, *, timestamp: int) -> str:
    """The `Stripe-Signature` header value Stripe would send for `payload` at `timestamp`."""
    return f"t={timestamp},{_SCHEME}={_signature(_as_bytes(payload), secret, str(timestamp))}"


def verify_stripe_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """Check `header` against `payload` and return the event (the decoded JSON object).

    Raises WebhookSignatureError when the event cannot be trusted, and ValueError for an empty
    secret or a negative tolerance (a configuration error, not a bad request).
    """
    if not secret:
        raise ValueError("no webhook signing secret is configured")
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    timestamp, signatures = _parse_header(header)

    expected = _signature(_as_bytes(payload), secret, timestamp).encode()
    matched = False
    for candidate in signatures:
        # Every candidate is compared, in constant time each.
        matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise WebhookSignatureError("no signature in the header matches the payload")

    age = now - int(timestamp)
    if age > tolerance:
        raise WebhookSignatureError(
            f"the signature's timestamp is {age} s old, beyond the {tolerance} s tolerance"
        )
    if -age > tolerance:
        raise WebhookSignatureError(
            f"the signature's timestamp is {-age} s in the future, "
            f"beyond the {tolerance} s tolerance"
        )

    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookSignatureError("the payload is not valid JSON") from None
    if not isinstance(event, dict):
        raise WebhookSignatureError("the payload is not a JSON object")
    return event


def _parse_header(header: str | None) -> tuple[str, list[str]]:
    """The timestamp (as sent) and the well-formed v1 signatures of a Stripe-Signature header."""
    if not header or not header.strip():
        raise WebhookSignatureError(f"the {SIGNATURE_HEADER} header is missing")
    if len(header) > _MAX_HEADER_LENGTH:
        raise WebhookSignatureError(f"the {SIGNATURE_HEADER} header is too long")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookSignatureError(
                f"the {SIGNATURE_HEADER} header is malformed: expected key=value pairs"
            )
        if key == "t":
            timestamps.append(value)
        elif key == _SCHEME and _HEX_SHA256.fullmatch(value):
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} header is malformed: it needs one numeric t= timestamp"
        )
    if not signatures:
        raise WebhookSignatureError(
            f"the {SIGNATURE_HEADER} header has no {_SCHEME} signature (64 hex digits)"
        )
    return timestamps[0], signatures


def _signature(payload: bytes, secret: str, timestamp: str) -> str:
    signed = timestamp.encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _as_bytes(payload: bytes | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload
