"""Notifications: the email port, its adapters and the emails the platform sends."""

from ipmarket.notifications.email import (
    DEFAULT_MAIL_DIRECTORY,
    DEFAULT_SENDER,
    EmailDeliveryError,
    EmailMessage,
    EmailSender,
    FileEmailSender,
    MemoryEmailSender,
    SmtpConfig,
    SmtpEmailSender,
    build_mime_message,
    configure_email,
    get_email_sender,
    make_email_sender,
    parse_smtp_url,
)
from ipmarket.notifications.templates import password_reset_email, verification_email

__all__ = [
    "DEFAULT_MAIL_DIRECTORY",
    "DEFAULT_SENDER",
    "EmailDeliveryError",
    "EmailMessage",
    "EmailSender",
    "FileEmailSender",
    "MemoryEmailSender",
    "SmtpConfig",
    "SmtpEmailSender",
    "build_mime_message",
    "configure_email",
    "get_email_sender",
    "make_email_sender",
    "parse_smtp_url",
    "password_reset_email",
    "verification_email",
]
