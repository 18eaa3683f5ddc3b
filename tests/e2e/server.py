"""A real ipmarket server for the browser tests, and what a test does beside the pages.

`start_app_server` does what `make run` does, in a database of its own: `ipmarket migrate`,
then `ipmarket serve --host 127.0.0.1 --port <free port>` in a child process, with the
embedded relay in process, emails written under its VAR_DIR, rate limits raised and no
PUBLIC_BASE_URL (so links in emails follow the port, as for a user). Beside it:

- `latest_email` / `emailed_link`: the newest email to an address, the link it carries;
- `make_admin`: an administrator from the `ipmarket create-admin` command line;
- `Api`: the JSON API, for what no page does yet (an admin's approval), failing with the
  API's error envelope.
"""

from __future__ import annotations

import contextlib
import email
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REDIS_URL
from tests.support import STRONG_PASSWORD, body_of, token_in, unique

IPMARKET = Path(sys.executable).parent / "ipmarket"
STARTUP_SECONDS = 60.0
# Settings of the server's environment that the test run must not pass on to it.
_CALLER_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_PREFIX",
    "RABBITMQ_URL",
    "SMTP_URL",
    "IPMARKET_ENV",
    "PUBLIC_BASE_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
)


@dataclass
class AppServer:
    """A running `ipmarket serve`: its URL, its state directory and its environment."""

    url: str
    port: int
    var_dir: Path
    database_url: str
    env: dict[str, str] = field(repr=False)
    log_file: Path

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    def cli(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `ipmarket ARGUMENTS...` against this server's database and VAR_DIR."""
        done = subprocess.run(
            [str(IPMARKET), *arguments],
            env=self.env,
            cwd=self.var_dir.parent,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"ipmarket {' '.join(arguments)} exited {done.returncode}: {done.stderr}"
            )
        return done

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(
    database_url: str, var_dir: Path, jwt_private_key_pem: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CALLER_SETTINGS}
    env |= {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        # keys of this server's own: several test processes may serve at once
        "REDIS_PREFIX": f"ipmarket-e2e-{uuid.uuid4().hex[:12]}:",
        "JWT_PRIVATE_KEY": jwt_private_key_pem,
        "VAR_DIR": str(var_dir),
        "RELAY_IN_PROCESS": "true",
        "RATE_LIMIT_USER_PER_HOUR": "1000000",
        "RATE_LIMIT_AUTH_PER_MINUTE": "1000000",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    return env


def _wait_until_up(process: subprocess.Popen[bytes], url: str, server: AppServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"ipmarket serve exited {process.returncode} at startup:\n{server.log_tail()}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"ipmarket serve did not answer within {STARTUP_SECONDS}s")


@contextlib.contextmanager
def start_app_server(
    database_url: str, var_dir: Path, jwt_private_key_pem: str
) -> Iterator[AppServer]:
    """Migrate the (empty) database, serve it, and stop the server when done."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = server_environment(database_url, var_dir, jwt_private_key_pem)
    port = free_port()
    server = AppServer(
        url=f"http://127.0.0.1:{port}",
        port=port,
        var_dir=var_dir,
        database_url=database_url,
        env=env,
        log_file=var_dir / "server.log",
    )
    server.cli("migrate")
    with server.log_file.open("wb") as log:
        process = subprocess.Popen(
            [str(IPMARKET), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=var_dir.parent,  # no .env of the checkout
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(process, server.url, server)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- email -------------------------------------------------------------------------------------


def _emails_to(mail_dir: Path, address: str) -> list[Message]:
    if not mail_dir.exists():
        return []
    # Files are named for the UTC time they were written: by name is oldest first.
    messages = (email.message_from_bytes(p.read_bytes()) for p in sorted(mail_dir.glob("*.eml")))
    return [m for m in messages if m["To"] == address]


def latest_email(
    server: AppServer, address: str, *, after: int = 0, timeout: float = 15.0
) -> Message:
    """The newest email to `address`, waiting for one; with `after=N`, for its (N+1)th."""
    deadline = time.monotonic() + timeout
    while True:
        messages = _emails_to(server.mail_dir, address)
        if len(messages) > after:
            return messages[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no email number {after + 1} to {address} within {timeout}s")
        time.sleep(0.1)


def count_emails(server: AppServer, address: str) -> int:
    return len(_emails_to(server.mail_dir, address))


_LINK = re.compile(r"https?://[^\s<>\"']+")


def link_in(message: Message, containing: str = "") -> str:
    """The first link of the email's text whose URL contains `containing`."""
    links: list[str] = [link for link in _LINK.findall(body_of(message)) if containing in link]
    assert links, f"no link containing {containing!r} in:\n{body_of(message)}"
    return links[0]


def emailed_link(server: AppServer, address: str, containing: str = "", *, after: int = 0) -> str:
    """The link (containing `containing`) of the newest email to `address`."""
    return link_in(latest_email(server, address, after=after), containing)


# --- the API, for what the pages do not do (yet) -----------------------------------------------


class ApiError(AssertionError):
    """The API refused: the message carries its status and error envelope."""


@dataclass
class Api:
    """The JSON API of a server, as one user (or anonymous). Returns `data` of the envelope."""

    server: AppServer
    token: str | None = None

    def request(self, method: str, path: str, json: Any = None, **headers: str) -> Any:
        if self.token:
            headers = {"Authorization": f"Bearer {self.token}", **headers}
        response = httpx.request(
            method, f"{self.server.url}/v1{path}", json=json, headers=headers, timeout=30
        )
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json().get("data") if response.content else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, json: Any = None, **headers: str) -> Any:
        return self.request("POST", path, json, **headers)

    def put(self, path: str, json: Any = None, **headers: str) -> Any:
        return self.request("PUT", path, json, **headers)

    def login(self, address: str, password: str) -> Api:
        """A client signed in as that user."""
        data = Api(self.server).post("/auth/login", {"email": address, "password": password})
        return Api(self.server, str(data["token"]))


@dataclass(frozen=True)
class Person:
    username: str
    email: str
    password: str


def new_person(prefix: str = "user") -> Person:
    """A fresh username, address and strong password (nobody registered yet)."""
    name = unique(prefix)
    return Person(name, f"{name}@example.com", STRONG_PASSWORD)


def make_admin(server: AppServer, level: str = "super_admin") -> tuple[Person, Api]:
    """An administrator made with `ipmarket create-admin`, and the API signed in as them."""
    admin = new_person("admin")
    server.cli(
        "create-admin",
        "--username",
        admin.username,
        "--email",
        admin.email,
        "--password",
        admin.password,
        "--level",
        level,
    )
    return admin, Api(server).login(admin.email, admin.password)


def register_through_api(
    server: AppServer, user_type: str = "buyer", *, verify: bool = True, prefix: str = ""
) -> tuple[Person, Api]:
    """A user registered (and by default verified by the emailed link) through the API, for
    tests about something else than signing up; the API signed in as them. Their username
    starts with `prefix` (by default, the user type's first letters)."""
    person = new_person(prefix or user_type[:4])
    Api(server).post(
        "/auth/register",
        {
            "username": person.username,
            "email": person.email,
            "password": person.password,
            "userType": user_type,
        },
    )
    if verify:
        token = token_in(latest_email(server, person.email))
        Api(server).get(f"/auth/verify-email/{token}")
    return person, Api(server).login(person.email, person.password)


def approve_ip_asset(admin: Api, asset_id: str) -> Any:
    """What the back office will do: approve an IP asset submitted for review."""
    return admin.put(f"/admin/ip-assets/{asset_id}/verify", {"decision": "approved"})
