"""Secrets never reach the logs."""

from __future__ import annotations

from ipmarket.kit.logging import REDACTED, redact_secrets, redact_text


def test_free_text_is_redacted() -> None:
    line = '127.0.0.1:1 - "GET /v1/auth/verify-email/yiDN0nl1k6PwGu1K02G8h_AVeOshxB2wvp12ZXYlO8s HTTP/1.1" 200'
    assert "yiDN0nl1k6Pw" not in redact_text(line)
    assert f"verify-email/{REDACTED}" in redact_text(line)
    assert "abcdefghijklmnopqrstuv" not in redact_text(
        "GET /reset-password?token=abcdefghijklmnopqrstuv"
    )
    assert "s3cret" not in redact_text("postgresql://user:s3cret@db:5432/x")
    assert "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln" not in redact_text(
        "Authorization: Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln"
    )
    assert redact_text("GET /v1/users/me 200") == "GET /v1/users/me 200"


def test_structured_values_under_sensitive_keys_are_redacted() -> None:
    event = redact_secrets(
        None, "info", {"event": "x", "password": "hunter2", "refreshToken": "abc", "user": "ada"}
    )
    assert event["password"] == REDACTED
    assert event["refreshToken"] == REDACTED
    assert event["user"] == "ada"
