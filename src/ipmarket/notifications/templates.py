"""The emails the platform sends, as plain text.

Each account email carries both the link and the bare token, so that a user whose mail
client mangles links can still paste the token into the web page or the API.
"""

from __future__ import annotations

from ipmarket.notifications.email import EmailMessage

__all__ = ["DEFAULT_PLATFORM_NAME", "password_reset_email", "verification_email"]

DEFAULT_PLATFORM_NAME = "ipmarket"

_MINUTES_PER_HOUR = 60
_MINUTES_PER_DAY = 24 * 60


def _duration(minutes: int) -> str:
    """A human duration: ``30 minutes``, ``1 hour``, ``2 days``."""
    if minutes % _MINUTES_PER_DAY == 0:
        count, unit = minutes // _MINUTES_PER_DAY, "day"
    elif minutes % _MINUTES_PER_HOUR == 0:
        count, unit = minutes // _MINUTES_PER_HOUR, "hour"
    else:
        count, unit = minutes, "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _require(token: str, link: str) -> None:
    if not token:
        raise ValueError("an account email needs a token")
    if not link:
        raise ValueError("an account email needs a link")


def verification_email(
    to: str,
    username: str,
    token: str,
    link: str,
    *,
    platform_name: str = DEFAULT_PLATFORM_NAME,
) -> EmailMessage:
    """Asks a new user to confirm their address: the link and the verification token."""
    _require(token, link)
    text = (
        f"Hello {username},\n"
        "\n"
        f"Welcome to {platform_name}! Please confirm your email address by opening this "
        "link:\n"
        "\n"
        f"{link}\n"
        "\n"
        "Or enter this verification token:\n"
        "\n"
        f"{token}\n"
        "\n"
        f"If you did not create an account on {platform_name}, you can ignore this email.\n"
        "\n"
        f"-- The {platform_name} team\n"
    )
    return EmailMessage(to=to, subject=f"Confirm your email address for {platform_name}", text=text)


def password_reset_email(
    to: str,
    username: str,
    token: str,
    link: str,
    expires_minutes: int,
    *,
    platform_name: str = DEFAULT_PLATFORM_NAME,
) -> EmailMessage:
    """Lets a user choose a new password: the link, the reset token and when they expire."""
    _require(token, link)
    if expires_minutes <= 0:
        raise ValueError("expires_minutes must be positive")
    text = (
        f"Hello {username},\n"
        "\n"
        f"Someone asked to reset the password of your {platform_name} account. To choose a "
        "new password, open this link:\n"
        "\n"
        f"{link}\n"
        "\n"
        "Or enter this reset token:\n"
        "\n"
        f"{token}\n"
        "\n"
        f"The link and the token expire in {_duration(expires_minutes)} and work only once.\n"
        "\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n"
        "\n"
        f"-- The {platform_name} team\n"
    )
    return EmailMessage(to=to, subject=f"Reset your {platform_name} password", text=text)
