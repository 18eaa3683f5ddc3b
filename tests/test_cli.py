"""The `ipmarket` command line, against scratch databases on the machine's PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from typer.testing import CliRunner, Result

from ipmarket.cli import ALEMBIC_INI, AdminLevelChoice, app
from ipmarket.identity import AdminLevel

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GOOD_PASSWORD = "Quartz-Lantern-Orbit-58"

runner = CliRunner()


def _url(database: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + database


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No service variables from the caller; logging as it was before the command ran."""
    for name in ("DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "SMTP_URL", "IPMARKET_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog_config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**structlog_config)


def _scratch_database() -> Iterator[str]:
    name = f"ipmarket_cli_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _url(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_database() -> Iterator[str]:
    yield from _scratch_database()


@pytest.fixture(scope="module")
def migrated_database() -> Iterator[str]:
    for url in _scratch_database():
        config = Config(str(ALEMBIC_INI))
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head")
        yield url


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", "worker", "migrate", "create-admin"):
        assert name in result.output


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("serve", ["--host", "--port"]),
        ("worker", []),
        ("migrate", ["--revision"]),
        ("create-admin", ["--username", "--email", "--password", "--level", "--department"]),
    ],
)
def test_command_help(command: str, options: list[str]) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output


def test_migrate_builds_the_schema_and_is_idempotent(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    head = ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()

    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "Migrated to head" in result.stdout
    versions = asyncio.run(_fetch(empty_database, "SELECT version_num FROM alembic_version"))
    assert [row["version_num"] for row in versions] == [head]
    tables = asyncio.run(
        _fetch(empty_database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    )
    assert {"users", "audit_logs"} <= {row["tablename"] for row in tables}

    again = runner.invoke(app, ["migrate"])
    assert again.exit_code == 0, again.output


def test_an_unreachable_database_is_one_clean_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:hunter2@127.0.0.1:1/nowhere")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "cannot connect to the database" in result.stderr
    assert "Traceback" not in result.output
    assert "hunter2" not in result.output


def test_bad_configuration_is_reported_without_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATE_LIMIT_USER_PER_HOUR", "s3cr3t-not-a-number")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "invalid configuration" in result.stderr
    assert "RATE_LIMIT_USER_PER_HOUR" in result.stderr
    assert "s3cr3t" not in result.output

    monkeypatch.delenv("RATE_LIMIT_USER_PER_HOUR")
    monkeypatch.setenv("IPMARKET_ENV", "production")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "JWT_PRIVATE_KEY must be set" in result.stderr


class _ServeCall:
    """What `ipmarket serve` handed uvicorn, and the settings its application would read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import signal

        import uvicorn

        self.kwargs: dict[str, Any] = {}
        self.public_base_url = ""
        monkeypatch.setattr(uvicorn, "run", self._run)
        monkeypatch.setattr(signal, "signal", lambda *_: None)  # keep pytest's own handlers
        # serve writes PUBLIC_BASE_URL for the application: undone after the test
        monkeypatch.setenv("PUBLIC_BASE_URL", "placeholder")
        monkeypatch.delenv("PUBLIC_BASE_URL")
        monkeypatch.chdir(Path(os.environ["VAR_DIR"]).parent)  # no .env of the checkout

    def _run(self, _app: str, **kwargs: Any) -> None:
        from ipmarket.config import get_settings

        self.kwargs = kwargs
        get_settings.cache_clear()  # as in the server's own process: read once, there
        self.public_base_url = get_settings().public_base_url


@pytest.fixture
def serve_call(monkeypatch: pytest.MonkeyPatch) -> Iterator[_ServeCall]:
    from ipmarket.config import get_settings

    yield _ServeCall(monkeypatch)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ([], "http://127.0.0.1:8000"),
        (["--port", "8123"], "http://127.0.0.1:8123"),
        (["--host", "0.0.0.0", "--port", "9001"], "http://127.0.0.1:9001"),
    ],
)
def test_serve_links_emails_to_the_address_it_serves(
    migrated_database: str,
    monkeypatch: pytest.MonkeyPatch,
    serve_call: _ServeCall,
    arguments: list[str],
    expected: str,
) -> None:
    call = serve_call
    monkeypatch.setenv("DATABASE_URL", migrated_database)
    result = runner.invoke(app, ["serve", *arguments])
    assert result.exit_code == 0, result.output
    assert call.public_base_url == expected
    assert f"Links in emails: {expected}" in result.output
    assert call.kwargs["port"] == int(expected.rsplit(":", 1)[1])


def test_serve_keeps_a_public_base_url_that_is_set(
    migrated_database: str, monkeypatch: pytest.MonkeyPatch, serve_call: _ServeCall
) -> None:
    call = serve_call
    monkeypatch.setenv("DATABASE_URL", migrated_database)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://market.example")
    result = runner.invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert call.public_base_url == "https://market.example"
    assert call.kwargs["port"] == 8123


def test_admin_levels_match_identity() -> None:
    assert {level.value for level in AdminLevelChoice} == {level.value for level in AdminLevel}


def _admin_row(url: str, username: str) -> asyncpg.Record | None:
    rows = asyncio.run(
        _fetch(
            url,
            "SELECT user_type, admin_level, departments, email FROM users WHERE username = $1",
            username,
        )
    )
    return rows[0] if rows else None


def _create_admin(username: str, email: str, password: str, *extra: str) -> Result:
    flags = ["--username", username, "--email", email, "--password", password]
    return runner.invoke(app, ["create-admin", *flags, *extra])


def test_create_admin_from_flags(migrated_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated_database)
    result = _create_admin(
        "root_admin",
        "Root.Admin@ipmarket.dev",
        GOOD_PASSWORD,
        *("--level", "super_admin", "--department", "users", "--department", "payments"),
    )
    assert result.exit_code == 0, result.output
    assert "Created super_admin root_admin" in result.stdout
    assert GOOD_PASSWORD not in result.output
    row = _admin_row(migrated_database, "root_admin")
    assert row is not None
    assert row["user_type"] == "admin"
    assert row["admin_level"] == "super_admin"
    assert sorted(row["departments"]) == ["payments", "users"]
    assert row["email"] == "root.admin@ipmarket.dev"

    again = _create_admin("root_admin", "other@ipmarket.dev", GOOD_PASSWORD)
    assert again.exit_code == 1
    assert "already registered" in again.stderr
    assert "Traceback" not in again.output


def test_create_admin_prompts_for_what_is_missing(
    migrated_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated_database)
    answers = f"prompted_admin\nprompted@ipmarket.dev\n{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n"
    result = runner.invoke(app, ["create-admin", "--level", "moderator"], input=answers)
    assert result.exit_code == 0, result.output
    assert GOOD_PASSWORD not in result.output  # the password prompt hides the input
    row = _admin_row(migrated_database, "prompted_admin")
    assert row is not None
    assert row["admin_level"] == "moderator"
    assert len(row["departments"]) >= 1  # all departments by default


def test_create_admin_refusal_is_printed_cleanly(
    migrated_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated_database)
    result = _create_admin("weak_admin", "weak@ipmarket.dev", "password")
    assert result.exit_code == 1
    assert "Password does not meet the policy" in result.stderr
    assert "- password:" in result.stderr
    assert "Traceback" not in result.output
    assert _admin_row(migrated_database, "weak_admin") is None

    bad_level = _create_admin("x_admin", "x@ipmarket.dev", GOOD_PASSWORD, "--level", "emperor")
    assert bad_level.exit_code == 2  # a usage error, reported by the option parser
