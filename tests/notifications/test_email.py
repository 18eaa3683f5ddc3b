"""The email port: the file adapter, the SMTP adapter against a real local server, wiring."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage as MimeMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ipmarket.config import Settings
from ipmarket.notifications import (
    EmailDeliveryError,
    EmailMessage,
    EmailSender,
    FileEmailSender,
    MemoryEmailSender,
    SmtpEmailSender,
    configure_email,
    get_email_sender,
    make_email_sender,
    parse_smtp_url,
    password_reset_email,
    verification_email,
)
from tests.notifications.smtp_server import (
    Credentials,
    free_port,
    make_self_signed,
    run_smtp_server,
)

TOKEN = "tok_5f2b8c0e9a7d4e1f8b3c6a2d9e0f1a4b"
LINK = f"https://ipmarket.example/verify-email?token={TOKEN}"
SENDER = "ipmarket <no-reply@ipmarket.example>"


def _parse(data: bytes) -> MimeMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, MimeMessage)
    return message


def _text_of(message: MimeMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


@pytest.fixture
def reset_configured_sender() -> Iterator[None]:
    configure_email(None)
    yield
    configure_email(None)


# -- message ---------------------------------------------------------------------------------


def test_message_rejects_header_injection_and_bad_addresses() -> None:
    with pytest.raises(ValueError, match="recipient"):
        EmailMessage(to="alice@example.com\r\nBcc: eve@example.com", subject="Hi", text="x")
    with pytest.raises(ValueError, match="recipient"):
        EmailMessage(to="not-an-address", subject="Hi", text="x")
    with pytest.raises(ValueError, match="line breaks"):
        EmailMessage(to="alice@example.com", subject="Hi\nBcc: eve@example.com", text="x")
    with pytest.raises(ValueError, match="subject"):
        EmailMessage(to="alice@example.com", subject="  ", text="x")


# -- file adapter ----------------------------------------------------------------------------


async def test_file_sender_writes_a_parsable_eml_with_token_and_link(tmp_path: Path) -> None:
    sender = FileEmailSender(tmp_path / "mail", sender=SENDER)
    message = verification_email("alice@example.com", "alice", TOKEN, LINK)

    with capture_logs() as logs:
        await sender.send(message)

    files = list((tmp_path / "mail").iterdir())
    assert len(files) == 1
    path = files[0]
    assert path.suffix == ".eml"
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # tokens inside: owner only
    parsed = _parse(path.read_bytes())
    assert parsed["To"] == "alice@example.com"
    assert parsed["From"] == SENDER
    assert parsed["Subject"] == message.subject
    assert parsed["Date"] is not None
    assert parsed["Message-ID"].endswith("@ipmarket.example>")
    text = _text_of(parsed)
    assert TOKEN in text
    assert LINK in text

    assert len(logs) == 1
    line = logs[0]
    assert line["event"] == "email_written"
    assert line["to"] == "alice@example.com"
    assert line["subject"] == message.subject
    assert line["path"] == str(path)
    assert TOKEN not in repr(line)


async def test_file_sender_one_file_per_message_with_html_alternative(tmp_path: Path) -> None:
    sender = FileEmailSender(tmp_path / "mail")
    await sender.send(EmailMessage(to="a@example.com", subject="One", text="first"))
    await sender.send(
        EmailMessage(to="b@example.com", subject="Two", text="second", html="<p>second</p>")
    )

    files = sorted((tmp_path / "mail").iterdir())
    assert len(files) == 2
    messages = {m["Subject"]: m for m in (_parse(f.read_bytes()) for f in files)}
    assert _text_of(messages["One"]).strip() == "first"
    html = messages["Two"].get_body(preferencelist=("html",))
    assert html is not None
    assert "<p>second</p>" in html.get_content()
    assert _text_of(messages["Two"]).strip() == "second"


async def test_file_sender_reports_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    sender = FileEmailSender(blocker / "mail")
    with pytest.raises(EmailDeliveryError, match="could not write email"):
        await sender.send(EmailMessage(to="a@example.com", subject="One", text="first"))


# -- SMTP adapter ----------------------------------------------------------------------------


async def test_smtp_sender_delivers_to_a_local_server() -> None:
    message = password_reset_email(
        "bob@example.com", "bob", TOKEN, LINK.replace("verify-email", "reset-password"), 30
    )
    with run_smtp_server() as server:
        sender = SmtpEmailSender(f"smtp://127.0.0.1:{server.port}", sender=SENDER)
        await sender.send(message)

    assert len(server.received) == 1
    received = server.received[0]
    assert received.mail_from == "no-reply@ipmarket.example"
    assert received.rcpt_tos == ["bob@example.com"]
    parsed = _parse(received.content)
    assert parsed["To"] == "bob@example.com"
    assert parsed["Subject"] == message.subject
    text = _text_of(parsed)
    assert TOKEN in text
    assert "reset-password?token=" in text
    assert "30 minutes" in text


async def test_smtp_sender_logs_in_with_url_credentials() -> None:
    credentials = Credentials("mailer", "p@ss:w/rd")
    with run_smtp_server(authenticator=credentials, auth_require_tls=False) as server:
        url = f"smtp://mailer:p%40ss%3Aw%2Frd@127.0.0.1:{server.port}"
        await SmtpEmailSender(url).send(
            EmailMessage(to="carol@example.com", subject="Hello", text="body")
        )
        assert [r.rcpt_tos for r in server.received] == [["carol@example.com"]]

        wrong = SmtpEmailSender(f"smtp://mailer:wrong@127.0.0.1:{server.port}")
        with pytest.raises(EmailDeliveryError, match="refused the credentials") as info:
            await wrong.send(EmailMessage(to="carol@example.com", subject="Hello", text="body"))
        assert "wrong" not in str(info.value)


async def test_smtp_sender_upgrades_with_starttls(tmp_path: Path) -> None:
    tls = make_self_signed(tmp_path)
    with run_smtp_server(
        tls_context=tls.server_context(),
        require_starttls=True,
        authenticator=Credentials("mailer", "secret"),
    ) as server:
        url = f"smtp://mailer:secret@127.0.0.1:{server.port}?starttls=true"
        sender = SmtpEmailSender(url, ssl_context=tls.client_context())
        await sender.send(EmailMessage(to="dan@example.com", subject="Over TLS", text="body"))

        # Without trusting the certificate the send fails; it never falls back to plain text.
        untrusting = SmtpEmailSender(url, timeout=5)
        with pytest.raises(EmailDeliveryError, match="TLS"):
            await untrusting.send(EmailMessage(to="dan@example.com", subject="X", text="body"))

    assert [r.rcpt_tos for r in server.received] == [["dan@example.com"]]


async def test_smtp_sender_refuses_to_continue_without_offered_starttls() -> None:
    with run_smtp_server() as server:
        sender = SmtpEmailSender(f"smtp://127.0.0.1:{server.port}?starttls=true")
        with pytest.raises(EmailDeliveryError, match="STARTTLS"):
            await sender.send(EmailMessage(to="dan@example.com", subject="X", text="body"))
    assert server.received == []


async def test_smtps_sender_uses_implicit_tls(tmp_path: Path) -> None:
    tls = make_self_signed(tmp_path)
    with run_smtp_server(ssl_context=tls.server_context()) as server:
        sender = SmtpEmailSender(
            f"smtps://127.0.0.1:{server.port}", ssl_context=tls.client_context()
        )
        await sender.send(EmailMessage(to="erin@example.com", subject="Implicit", text="body"))
    assert [r.rcpt_tos for r in server.received] == [["erin@example.com"]]


async def test_unreachable_smtp_server_raises_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    sender = SmtpEmailSender(f"smtp://user:hunter2@127.0.0.1:{port}", timeout=2)
    with pytest.raises(EmailDeliveryError) as info:
        await sender.send(EmailMessage(to="a@example.com", subject="X", text="body"))
    message = str(info.value)
    assert f"cannot reach SMTP server smtp://user:***@127.0.0.1:{port}" in message
    assert "hunter2" not in message


async def test_silent_smtp_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection, never says hello
        port = listener.getsockname()[1]
        sender = SmtpEmailSender(f"smtp://127.0.0.1:{port}", timeout=0.3)
        with pytest.raises(EmailDeliveryError, match=r"did not answer within 0\.3 s"):
            await sender.send(EmailMessage(to="a@example.com", subject="X", text="body"))


# -- SMTP_URL --------------------------------------------------------------------------------


def test_parse_smtp_url_forms() -> None:
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "mail.example.com",
        25,
        False,
        False,
    )
    assert plain.username is None
    assert plain.password is None

    submission = parse_smtp_url("smtp://me%40x.org:s%3Acret@mail.example.com:587?starttls=true")
    assert (submission.port, submission.starttls) == (587, True)
    assert (submission.username, submission.password) == ("me@x.org", "s:cret")
    assert "s:cret" not in repr(submission)
    assert submission.redacted_url == "smtp://me@x.org:***@mail.example.com:587"

    implicit = parse_smtp_url("smtps://mail.example.com?timeout=2.5")
    assert (implicit.port, implicit.implicit_tls, implicit.timeout) == (465, True, 2.5)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://mail.example.com", "smtp:// or smtps://"),
        ("smtp://", "must name a host"),
        ("smtp://mail.example.com:99999", "invalid port"),
        ("smtp://mail.example.com/path", "no path"),
        ("smtp://mail.example.com?starttls=maybe", "true or false"),
        ("smtp://mail.example.com?tls=true", "unknown parameter 'tls'"),
        ("smtp://mail.example.com?timeout=0", "timeout"),
        ("smtps://mail.example.com?starttls=true", "cannot use starttls"),
    ],
)
def test_parse_smtp_url_rejects_bad_urls(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_smtp_url(url)


def test_smtp_sender_repr_hides_the_password() -> None:
    sender = SmtpEmailSender("smtp://user:hunter2@mail.example.com:587")
    assert "hunter2" not in repr(sender)
    assert "mail.example.com:587" in repr(sender)


# -- wiring ----------------------------------------------------------------------------------


def test_make_email_sender_follows_the_settings(settings: Settings) -> None:
    file_sender = make_email_sender(settings)
    assert isinstance(file_sender, FileEmailSender)
    assert file_sender.directory == settings.var_dir / "mail"
    assert file_sender.sender == settings.smtp_sender

    with_smtp = settings.model_copy(update={"smtp_url": "smtp://mail.example.com:2525"})
    smtp_sender = make_email_sender(with_smtp)
    assert isinstance(smtp_sender, SmtpEmailSender)
    assert (smtp_sender.config.host, smtp_sender.config.port) == ("mail.example.com", 2525)


@pytest.mark.usefixtures("reset_configured_sender")
async def test_configured_sender_is_process_wide() -> None:
    default = get_email_sender()
    assert isinstance(default, FileEmailSender)
    assert default.directory == Path("var") / "mail"
    assert get_email_sender() is default

    memory = MemoryEmailSender()
    configure_email(memory)
    assert get_email_sender() is memory
    assert isinstance(memory, EmailSender)
    await get_email_sender().send(EmailMessage(to="Zoe@example.com", subject="Hi", text="x"))
    assert [m.subject for m in memory.sent_to("zoe@example.com")] == ["Hi"]
    memory.clear()
    assert memory.messages == []

    configure_email(None)
    assert isinstance(get_email_sender(), FileEmailSender)
