"""Stripe webhook signatures: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import stripe

from ipmarket.payments.providers import (
    WebhookSignatureError,
    sign_stripe_payload,
    verify_stripe_signature,
)

SECRET = "whsec_test_5f1b0c7e2a9d4b8c"
NOW = 1_767_225_600
EVENT = {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {}}
PAYLOAD = json.dumps(EVENT).encode()


def test_a_genuine_signature_is_accepted() -> None:
    header = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW)
    assert verify_stripe_signature(PAYLOAD, header, SECRET, now=NOW) == EVENT


def test_the_signature_is_stripes_scheme() -> None:
    header = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + PAYLOAD, hashlib.sha256)
    assert header == f"t={NOW},v1={expected.hexdigest()}"


def test_the_stripe_sdk_accepts_our_signature() -> None:
    now = int(time.time())
    header = sign_stripe_payload(PAYLOAD, SECRET, timestamp=now)
    assert stripe.WebhookSignature.verify_header(PAYLOAD.decode(), header, SECRET, tolerance=300)


def test_a_tampered_payload_is_refused() -> None:
    header = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW)
    tampered = PAYLOAD.replace(b"evt_1", b"evt_2")
    with pytest.raises(WebhookSignatureError, match="no signature"):
        verify_stripe_signature(tampered, header, SECRET, now=NOW)


def test_another_secret_is_refused() -> None:
    header = sign_stripe_payload(PAYLOAD, "whsec_someone_else", timestamp=NOW)
    with pytest.raises(WebhookSignatureError, match="no signature"):
        verify_stripe_signature(PAYLOAD, header, SECRET, now=NOW)


def test_a_swapped_timestamp_is_refused() -> None:
    signature = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW).split(",")[1]
    with pytest.raises(WebhookSignatureError, match="no signature"):
        verify_stripe_signature(PAYLOAD, f"t={NOW + 1},{signature}", SECRET, now=NOW)


def test_the_tolerance_is_300_seconds_either_way() -> None:
    old = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW - 300)
    assert verify_stripe_signature(PAYLOAD, old, SECRET, now=NOW) == EVENT
    future = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW + 300)
    assert verify_stripe_signature(PAYLOAD, future, SECRET, now=NOW) == EVENT

    stale = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW - 301)
    with pytest.raises(WebhookSignatureError, match="301 s old"):
        verify_stripe_signature(PAYLOAD, stale, SECRET, now=NOW)
    ahead = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW + 301)
    with pytest.raises(WebhookSignatureError, match="301 s in the future"):
        verify_stripe_signature(PAYLOAD, ahead, SECRET, now=NOW)
    with pytest.raises(WebhookSignatureError, match="old"):
        verify_stripe_signature(PAYLOAD, old, SECRET, now=NOW, tolerance=60)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "garbage",
        "t=1767225600",
        "v1=" + "a" * 64,
        "t=,v1=" + "a" * 64,
        "t=abc,v1=" + "a" * 64,
        "t=-5,v1=" + "a" * 64,
        "t=1,t=2,v1=" + "a" * 64,
        "t=1767225600,v1=nothex",
        "t=1767225600,v0=" + "a" * 64,
        "x" * 5000,
    ],
)
def test_a_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(WebhookSignatureError, match="header"):
        verify_stripe_signature(PAYLOAD, header, SECRET, now=NOW)


def test_any_of_several_v1_signatures_may_match() -> None:
    good = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW).split(",")[1]
    old_secret = sign_stripe_payload(PAYLOAD, "whsec_old", timestamp=NOW).split(",")[1]
    scheme_v0 = "v0=" + "0" * 64
    header = f"t={NOW}, {old_secret}, {scheme_v0}, {good}"
    assert verify_stripe_signature(PAYLOAD, header, SECRET, now=NOW) == EVENT

    header = f"t={NOW},{old_secret},v1={'f' * 64}"
    with pytest.raises(WebhookSignatureError, match="no signature"):
        verify_stripe_signature(PAYLOAD, header, SECRET, now=NOW)


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_signed_payload_must_be_a_json_object(payload: bytes) -> None:
    header = sign_stripe_payload(payload, SECRET, timestamp=NOW)
    with pytest.raises(WebhookSignatureError, match="JSON"):
        verify_stripe_signature(payload, header, SECRET, now=NOW)


def test_the_secret_never_appears_in_an_error() -> None:
    header = sign_stripe_payload(PAYLOAD, "whsec_other", timestamp=NOW - 1000)
    for candidate in (header, "garbage"):
        with pytest.raises(WebhookSignatureError) as refused:
            verify_stripe_signature(PAYLOAD, candidate, SECRET, now=NOW)
        assert SECRET not in str(refused.value)


def test_a_missing_secret_is_a_configuration_error() -> None:
    header = sign_stripe_payload(PAYLOAD, SECRET, timestamp=NOW)
    with pytest.raises(ValueError, match="secret") as refused:
        verify_stripe_signature(PAYLOAD, header, "", now=NOW)
    assert not isinstance(refused.value, WebhookSignatureError)
