"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import asyncio
import os

from alembic import command
from alembic.config import Config

from tests.conftest import ROOT, _admin_execute, _db_url


def test_models_and_migrations_agree() -> None:
    # given a fresh database built from the migrations alone (the shared test database may
    # hold tables other tests make for themselves)
    name = f"ipmarket_migrations_{os.getpid()}"
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    try:
        config = Config(str(ROOT / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", _db_url(name))
        command.upgrade(config, "head")
        # then autogenerate finds nothing to add, drop or change
        command.check(config)
        # and every migration can be undone and redone
        command.downgrade(config, "base")
        command.upgrade(config, "head")
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
