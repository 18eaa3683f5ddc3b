"""The email port and its adapters.

`EmailSender` is the port. Two adapters implement it: `FileEmailSender` (the embedded
default: one RFC 5322 ``.eml`` file per message under ``VAR_DIR/mail`` plus one log line) and
`SmtpEmailSender` (production: ``SMTP_URL``). `MemoryEmailSender` keeps messages in a list
for tests.

Event handlers do not build a sender themselves: the process configures one at startup with
`configure_email` and handlers read it with `get_email_sender`.

Message bodies carry secrets (verification and password-reset tokens): they are never
logged, and neither is the SMTP password.
"""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
import ssl
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit

import structlog

from ipmarket.kit.clock import utcnow
from ipmarket.kit.ids import new_id

if TYPE_CHECKING:
    from ipmarket.config import Settings

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
]

log = structlog.get_logger(__name__)

DEFAULT_SENDER = "ipmarket <no-reply@ipmarket.local>"
DEFAULT_MAIL_DIRECTORY = Path("var") / "mail"
DEFAULT_SMTP_TIMEOUT_SECONDS = 10.0

_SMTP_PORT = 25
_SMTPS_PORT = 465
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _validate_addr_spec(value: str, what: str) -> str:
    """A bare address (``user@example.com``), without display name or line breaks."""
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{what} is not a valid email address: {value!r}") from exc
    if not address.domain:
        raise ValueError(f"{what} is not a valid email address: {value!r}")
    return address.addr_spec


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One email to one recipient: a plain-text body and an optional HTML alternative."""

    to: str
    subject: str
    text: str
    html: str | None = None

    def __post_init__(self) -> None:
        _validate_addr_spec(self.to, "recipient")
        if not self.subject.strip():
            raise ValueError("an email needs a subject")
        if "\r" in self.subject or "\n" in self.subject:
            raise ValueError("an email subject cannot contain line breaks")


class EmailDeliveryError(Exception):
    """The message could not be handed to the mail system. The message says why."""


@runtime_checkable
class EmailSender(Protocol):
    """The email port."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver `message` or raise `EmailDeliveryError`."""
        ...


def _sender_address(sender: str) -> str:
    """The envelope address of a ``From`` value such as ``ipmarket <no-reply@x.org>``."""
    if "\r" in sender or "\n" in sender:
        raise ValueError("the sender cannot contain line breaks")
    _, addr = parseaddr(sender)
    return _validate_addr_spec(addr, "sender") if addr else _validate_addr_spec(sender, "sender")


def build_mime_message(message: EmailMessage, *, sender: str) -> MimeMessage:
    """The RFC 5322 message (headers, text part, optional HTML alternative)."""
    domain = _sender_address(sender).rpartition("@")[2]
    mime = MimeMessage(policy=policy.SMTP)
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(utcnow())
    # An explicit domain: make_msgid would otherwise resolve this host's FQDN (slow DNS).
    mime["Message-ID"] = make_msgid(domain=domain)
    # 8bit keeps links whole in the raw message (quoted-printable would fold them).
    mime.set_content(message.text, cte="8bit")
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    return mime


class FileEmailSender:
    """Writes each message to ``<directory>/<UTC time>-<id>.eml`` and logs one line.

    Files are created readable by their owner only: they hold one-time tokens.
    """

    def __init__(self, directory: Path | str, *, sender: str = DEFAULT_SENDER) -> None:
        _sender_address(sender)
        self.directory = Path(directory)
        self.sender = sender

    def __repr__(self) -> str:
        return f"FileEmailSender(directory={str(self.directory)!r})"

    async def send(self, message: EmailMessage) -> None:
        mime = build_mime_message(message, sender=self.sender)
        name = f"{utcnow():%Y%m%dT%H%M%S%fZ}-{new_id().hex[:12]}.eml"
        try:
            path = await asyncio.to_thread(self._write, name, mime.as_bytes())
        except OSError as exc:
            raise EmailDeliveryError(
                f"could not write email to {self.directory}: {exc.strerror or exc}"
            ) from exc
        log.info("email_written", to=message.to, subject=message.subject, path=str(path))

    def _write(self, name: str, data: bytes) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.directory / name
        partial = self.directory / f".{name}.part"
        partial.touch(mode=0o600, exist_ok=False)
        try:
            partial.write_bytes(data)
            partial.replace(final)  # readers never see a half-written file
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return final


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to reach the SMTP server, parsed from ``SMTP_URL``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = DEFAULT_SMTP_TIMEOUT_SECONDS

    @property
    def redacted_url(self) -> str:
        """The URL without the password, safe to log and to put in error messages."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}:***@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"SMTP_URL parameter {name} must be true or false, not {value!r}")


def parse_smtp_url(url: str) -> SmtpConfig:
    """Parse ``smtp[s]://[user[:password]@]host[:port][?starttls=true&timeout=10]``.

    ``smtp://`` is plain SMTP (port 25 by default), upgraded with STARTTLS when
    ``starttls=true``; ``smtps://`` is SMTP over implicit TLS (port 465 by default). The user
    and password are percent-decoded. Errors never echo the password.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    host = parts.hostname
    if not host:
        raise ValueError("SMTP_URL must name a host, as in smtp://mail.example.com:587")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("SMTP_URL has an invalid port") from exc
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("SMTP_URL takes no path or fragment")
    implicit_tls = scheme == "smtps"
    starttls = False
    timeout = DEFAULT_SMTP_TIMEOUT_SECONDS
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "starttls":
            starttls = _parse_bool(name, value)
        elif name == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= 600:
                raise ValueError("SMTP_URL parameter timeout must be seconds in (0, 600]")
        else:
            raise ValueError(f"SMTP_URL has an unknown parameter {name!r}")
    if implicit_tls and starttls:
        raise ValueError("SMTP_URL cannot use starttls with smtps:// (TLS is already on)")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError("SMTP_URL has a password but no user")
    return SmtpConfig(
        host=host,
        port=port if port is not None else (_SMTPS_PORT if implicit_tls else _SMTP_PORT),
        username=username,
        password=password,
        implicit_tls=implicit_tls,
        starttls=starttls,
        timeout=timeout,
    )


class SmtpEmailSender:
    """Sends through an SMTP server with the standard library, in a worker thread.

    Every connection attempt and command is bounded by the timeout. TLS (implicit or
    STARTTLS) verifies the server certificate with the system trust store unless an
    `ssl_context` is given. When STARTTLS is asked for and the server does not offer it, the
    send fails rather than falling back to plain text.
    """

    def __init__(
        self,
        url: str,
        *,
        sender: str = DEFAULT_SENDER,
        timeout: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        config = parse_smtp_url(url)
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("the SMTP timeout must be positive")
            config = dataclasses.replace(config, timeout=timeout)
        self.config = config
        self.sender = sender
        self._envelope_sender = _sender_address(sender)
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SmtpEmailSender({self.config.redacted_url!r})"

    async def send(self, message: EmailMessage) -> None:
        mime = build_mime_message(message, sender=self.sender)
        await asyncio.to_thread(self._send_blocking, mime, message.to)
        log.info(
            "email_sent", to=message.to, subject=message.subject, server=self.config.redacted_url
        )

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _send_blocking(self, mime: MimeMessage, recipient: str) -> None:
        config = self.config
        where = config.redacted_url
        try:
            client: smtplib.SMTP
            if config.implicit_tls:
                client = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout, context=self._context()
                )
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with client:
                if config.starttls:
                    client.starttls(context=self._context())
                if config.username:
                    client.login(config.username, config.password or "")
                client.send_message(mime, from_addr=self._envelope_sender, to_addrs=[recipient])
        except smtplib.SMTPAuthenticationError as exc:
            raise EmailDeliveryError(
                f"SMTP server {where} refused the credentials ({exc.smtp_code})"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise EmailDeliveryError(
                f"SMTP server {where} refused the recipient {recipient}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error
            if isinstance(reply, bytes):
                reply = reply.decode("utf-8", "replace")
            raise EmailDeliveryError(
                f"SMTP server {where} answered {exc.smtp_code}: {reply}"
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib turns a read timeout into a disconnection; say what happened.
            if isinstance(exc.__context__, TimeoutError):
                raise EmailDeliveryError(
                    f"SMTP server {where} did not answer within {config.timeout:g} s"
                ) from exc
            raise EmailDeliveryError(f"SMTP server {where} closed the connection: {exc}") from exc
        except smtplib.SMTPException as exc:
            raise EmailDeliveryError(f"SMTP error with {where}: {exc}") from exc
        except TimeoutError as exc:
            raise EmailDeliveryError(
                f"SMTP server {where} did not answer within {config.timeout:g} s"
            ) from exc
        except ssl.SSLError as exc:
            raise EmailDeliveryError(f"TLS with SMTP server {where} failed: {exc}") from exc
        except OSError as exc:
            raise EmailDeliveryError(
                f"cannot reach SMTP server {where}: {exc.strerror or exc}"
            ) from exc


class MemoryEmailSender:
    """Keeps sent messages in `messages` (tests and local experiments)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.messages.append(message)

    def sent_to(self, address: str) -> list[EmailMessage]:
        wanted = address.lower()
        return [m for m in self.messages if m.to.lower() == wanted]

    def clear(self) -> None:
        self.messages.clear()


def make_email_sender(settings: Settings) -> EmailSender:
    """SMTP when ``SMTP_URL`` is set, otherwise files under ``VAR_DIR/mail``."""
    if settings.smtp_url:
        return SmtpEmailSender(settings.smtp_url, sender=settings.smtp_sender)
    return FileEmailSender(settings.var_dir / "mail", sender=settings.smtp_sender)


@dataclass
class _Configured:
    sender: EmailSender | None = None


_configured = _Configured()


def configure_email(sender: EmailSender | None) -> None:
    """Set the sender of this process (at startup); None restores the default."""
    _configured.sender = sender


def get_email_sender() -> EmailSender:
    """The sender configured for this process; files under ./var/mail if none was."""
    if _configured.sender is None:
        _configured.sender = FileEmailSender(DEFAULT_MAIL_DIRECTORY)
    return _configured.sender
