"""The account emails carry the plain token and the link, and nothing else secret."""

from __future__ import annotations

import pytest

from ipmarket.notifications import password_reset_email, verification_email

TOKEN = "Zq3v-7Xc9_pL2mN8kR4tY6wB1dF5hJ0a"
LINK = f"https://ipmarket.example/reset-password?token={TOKEN}"


def test_verification_email() -> None:
    message = verification_email("alice@example.com", "alice", TOKEN, LINK)
    assert message.to == "alice@example.com"
    assert message.subject == "Confirm your email address for ipmarket"
    assert message.html is None
    assert "Hello alice," in message.text
    assert f"\n{LINK}\n" in message.text
    assert f"\n{TOKEN}\n" in message.text
    assert TOKEN not in message.subject


def test_verification_email_uses_the_platform_name() -> None:
    message = verification_email("a@example.com", "a", TOKEN, LINK, platform_name="Fanworks")
    assert message.subject == "Confirm your email address for Fanworks"
    assert "Welcome to Fanworks!" in message.text


@pytest.mark.parametrize(
    ("minutes", "words"),
    [(1, "1 minute"), (30, "30 minutes"), (60, "1 hour"), (120, "2 hours"), (1440, "1 day")],
)
def test_password_reset_email(minutes: int, words: str) -> None:
    message = password_reset_email("bob@example.com", "bob", TOKEN, LINK, minutes)
    assert message.to == "bob@example.com"
    assert message.subject == "Reset your ipmarket password"
    assert "Hello bob," in message.text
    assert f"\n{LINK}\n" in message.text
    assert f"\n{TOKEN}\n" in message.text
    assert f"expire in {words} " in message.text


def test_account_emails_refuse_missing_parts() -> None:
    with pytest.raises(ValueError, match="token"):
        verification_email("a@example.com", "a", "", LINK)
    with pytest.raises(ValueError, match="link"):
        password_reset_email("a@example.com", "a", TOKEN, "", 30)
    with pytest.raises(ValueError, match="expires_minutes"):
        password_reset_email("a@example.com", "a", TOKEN, LINK, 0)
    with pytest.raises(ValueError, match="recipient"):
        verification_email("nobody", "a", TOKEN, LINK)
