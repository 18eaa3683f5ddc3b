"""Fixtures of the worker tests: a consumer registry of the test's own and its recorder."""

from __future__ import annotations

import pytest

from ipmarket.eventbus.registry import ConsumerRegistry
from ipmarket.kit.db import Database
from tests.eventbus.support import Recorder, create_effects_table


@pytest.fixture
async def recorder(db: Database) -> Recorder:
    await create_effects_table(db)
    return Recorder(ConsumerRegistry())
