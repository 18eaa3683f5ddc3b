"""The `ipmarket` command line: serve, worker, migrate, create-admin, ledger check, verify-proof.

Settings come from the environment (and `.env`), as for the API. Expected failures (bad
configuration, an unreachable database, input the service refuses) print one red line and
exit with status 1; only a bug shows a traceback, and never with local variables.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ipmarket.config import DEFAULT_HOST, DEFAULT_PORT, Settings, get_settings, serving_base_url
from ipmarket.kit.embedded_db import EmbeddedPostgresError, pgdata_dir, resolve_database_url
from ipmarket.kit.errors import AppError
from ipmarket.kit.logging import configure_logging, redact_text

if TYPE_CHECKING:
    from ipmarket.identity.models import User
    from ipmarket.payments import LedgerSize

# The repository's alembic.ini (the package is installed in editable mode from the checkout).
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

app = typer.Typer(
    name="ipmarket",
    help="ipmarket: a marketplace for licensed secondary creation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold passwords and keys
)
ledger_app = typer.Typer(
    name="ledger",
    help="Inspect the payments ledger.",
    no_args_is_help=True,
)
app.add_typer(ledger_app)
chain_app = typer.Typer(
    name="chain",
    help="The IPAuthorizationChain contract on the chain CHAIN_RPC_URL names.",
    no_args_is_help=True,
)
app.add_typer(chain_app)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class AdminLevelChoice(StrEnum):
    """The admin levels of seed §4.1 (identity's AdminLevel, kept here for a light --help)."""

    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"
    MODERATOR = "moderator"


def _fail(message: str, details: dict[str, Any] | None = None) -> NoReturn:
    err.print(f"[bold red]error:[/bold red] [red]{escape(redact_text(message))}[/red]")
    for item in (details or {}).get("errors", []):
        if isinstance(item, dict) and "message" in item:
            line = f"{item['field']}: {item['message']}" if item.get("field") else item["message"]
            err.print(f"  [red]- {escape(redact_text(str(line)))}[/red]")
    raise typer.Exit(1)


@contextmanager
def _expected_errors() -> Iterator[None]:
    """Turn the failures an operator can fix into a clean message."""
    try:
        yield
    except AppError as exc:
        _fail(exc.message, exc.details)
    except EmbeddedPostgresError as exc:
        _fail(str(exc))
    except DBAPIError as exc:
        if exc.statement is not None:
            raise  # a failing statement is a bug: keep the traceback
        _fail(f"cannot connect to the database: {exc.orig}")
    except (ConnectionError, TimeoutError, socket.gaierror) as exc:
        _fail(f"cannot connect to the database: {exc}")
    except OSError as exc:  # the machine's side: permissions, disk space, missing files
        _fail(str(exc))


def _settings() -> Settings:
    """Read the settings and configure logging; a bad value is reported without its value."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        _fail(f"invalid configuration: {problems}")
    configure_logging(settings)
    return settings


def _describe_database(settings: Settings, url: str) -> str:
    if settings.database_url:
        return make_url(url).render_as_string(hide_password=True)
    return f"embedded PostgreSQL in {pgdata_dir(settings.var_dir)}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = DEFAULT_PORT,
) -> None:
    """Serve the API and the web UI (uvicorn).

    Without DATABASE_URL the embedded PostgreSQL under VAR_DIR is started first. Without
    PUBLIC_BASE_URL, links in emails point at this --host and --port.
    """
    settings = _settings()
    if "public_base_url" not in settings.model_fields_set:
        # The application below reads its settings anew (uvicorn's factory): hand it the
        # address it is served at, through the environment, as if PUBLIC_BASE_URL were set.
        os.environ["PUBLIC_BASE_URL"] = serving_base_url(host, port)
        get_settings.cache_clear()
        settings = settings.model_copy(update={"public_base_url": os.environ["PUBLIC_BASE_URL"]})
    with _expected_errors():
        # Start the embedded server now, so a problem is reported before anything binds.
        url = resolve_database_url(settings)
    out.print(f"Database: {escape(_describe_database(settings, url))}")
    out.print(f"Links in emails: {escape(settings.public_base_url)}")

    import uvicorn  # noqa: PLC0415 - only this command needs it

    # uvicorn re-raises the SIGTERM it caught once it has shut down; by default that kills
    # the process before exit handlers run, leaving the embedded PostgreSQL without its
    # owner. Turn it into a normal exit instead.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(
        "ipmarket.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,  # the app's configure_logging routes uvicorn's loggers
        server_header=False,
    )


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


@app.command()
def worker() -> None:
    """Run a worker: the event outbox relay and consumers (through RabbitMQ with RABBITMQ_URL)."""
    settings = _settings()
    from ipmarket.worker.main import run_worker  # noqa: PLC0415 - heavy, only this command

    with _expected_errors():
        try:
            asyncio.run(run_worker(settings))
        except KeyboardInterrupt:
            err.print("worker stopped")


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Alembic revision to upgrade to.")] = "head",
) -> None:
    """Apply the database migrations (alembic upgrade)."""
    settings = _settings()
    if not ALEMBIC_INI.is_file():
        _fail(f"{ALEMBIC_INI} not found: run ipmarket from a checkout of the repository")

    from alembic import command  # noqa: PLC0415 - only this command needs alembic
    from alembic.config import Config  # noqa: PLC0415

    with _expected_errors():
        url = resolve_database_url(settings)
        config = Config(str(ALEMBIC_INI))
        # alembic.ini values are interpolated: a literal % must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        command.upgrade(config, revision)
    where = escape(_describe_database(settings, url))
    out.print(f"[green]Migrated to {escape(revision)}[/green]: {where}")


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(prompt=True, help="Login name of the administrator.")],
    email: Annotated[str, typer.Option(prompt=True, help="Email address.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="Password (prompted, hidden, when omitted).",
        ),
    ],
    level: Annotated[
        AdminLevelChoice, typer.Option(case_sensitive=False, help="Admin level.")
    ] = AdminLevelChoice.ADMIN,
    department: Annotated[
        list[str] | None,
        typer.Option(
            "--department",
            help="A department the admin works in; repeat for several. Default: all.",
        ),
    ] = None,
) -> None:
    """Create an administrator account (admins never register through the API)."""
    settings = _settings()
    with _expected_errors():
        user = asyncio.run(
            _create_admin(
                settings,
                username=username,
                email=email,
                password=password,
                level=level.value,
                departments=department or None,
            )
        )
    out.print(
        f"[green]Created {level.value} {escape(user.username)}[/green] "
        f"<{escape(user.email)}> id {user.id}"
    )


async def _create_admin(
    settings: Settings,
    *,
    username: str,
    email: str,
    password: str,
    level: str,
    departments: list[str] | None,
) -> User:
    from ipmarket.identity import create_admin as create  # noqa: PLC0415
    from ipmarket.runtime import bootstrap  # noqa: PLC0415 - imports every module

    runtime = bootstrap(settings)
    try:
        async with runtime.db.transaction() as session:
            return await create(
                session,
                username=username,
                email=email,
                password=password,
                level=level,
                departments=departments,
            )
    finally:
        await runtime.close()


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify the ledger's invariants over the whole database (reads only).

    Exits with status 1, naming each discrepancy, when one fails.
    """
    settings = _settings()
    with _expected_errors():
        problems, size = asyncio.run(_check_ledger(settings))
    if problems:
        for problem in problems:
            err.print(f"[red]{escape(problem)}[/red]")
        err.print(
            f"[bold red]ledger check: {len(problems)} "
            f"discrepanc{'y' if len(problems) == 1 else 'ies'}[/bold red]"
        )
        raise typer.Exit(1)
    out.print(
        f"[green]ledger check: OK ({size.postings} postings, "
        f"{size.transactions} transactions)[/green]"
    )


async def _check_ledger(settings: Settings) -> tuple[list[str], LedgerSize]:
    from sqlalchemy import text  # noqa: PLC0415

    from ipmarket.payments import check_ledger, ledger_size  # noqa: PLC0415
    from ipmarket.runtime import bootstrap  # noqa: PLC0415 - imports every module

    runtime = bootstrap(settings)
    try:
        async with runtime.db.sessionmaker() as session, session.begin():
            # One snapshot for every query, and nothing written.
            await session.execute(
                text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            )
            return await check_ledger(session), await ledger_size(session)
    finally:
        await runtime.close()


@app.command(
    "verify-proof",
    add_help_option=False,  # --help goes to the checker's own parser, which defines the options
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def verify_proof(ctx: typer.Context) -> None:
    """Check a verification answer offline (FILE|URL; --help for the options).

    The same code as the stand-alone tools/verify_proof.py: ipmarket.transparency.offline,
    which imports nothing from ipmarket. Exits 0 when every check passed, 1 when one failed,
    2 on unusable input.
    """
    from ipmarket.transparency.offline import main as check  # noqa: PLC0415

    raise typer.Exit(check(list(ctx.args)))


def main() -> None:
    """Console entry point (`ipmarket`)."""
    app()


@chain_app.command("deploy")
def chain_deploy() -> None:
    """Deploy the contract from CHAIN_PRIVATE_KEY's account (the platform, its only writer)
    to CHAIN_RPC_URL and print its address, for CHAIN_CONTRACT_ADDRESS."""
    settings = _settings()
    if not settings.chain_rpc_url or settings.chain_private_key is None:
        _fail("set CHAIN_RPC_URL and CHAIN_PRIVATE_KEY to deploy the contract")
    from web3 import AsyncHTTPProvider, AsyncWeb3  # noqa: PLC0415 - heavy, only this command

    from ipmarket.chain.web3_adapter import deploy_contract  # noqa: PLC0415

    async def deploy(rpc_url: str, key: str) -> tuple[int, str]:
        w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url))
        try:
            chain_id = int(await w3.eth.chain_id)
            if settings.chain_id is not None and chain_id != settings.chain_id:
                _fail(f"the node is on chain {chain_id}, CHAIN_ID says {settings.chain_id}")
            return chain_id, await deploy_contract(w3, key)
        finally:
            await w3.provider.disconnect()

    try:
        chain_id, address = asyncio.run(
            deploy(settings.chain_rpc_url, settings.chain_private_key.get_secret_value())
        )
    except (OSError, RuntimeError, ValueError) as exc:
        _fail(f"deployment failed: {exc}")
    err.print(f"IPAuthorizationChain deployed on chain {chain_id}")
    out.print(address)
