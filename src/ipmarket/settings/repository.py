"""All SQL of the settings module: one row per (category, key) in admin_settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.kit.ids import new_id
from ipmarket.settings.models import AdminSetting

# Serialises concurrent updates of the platform settings (transaction-scoped advisory lock,
# so that rows which do not exist yet are covered too).
_UPDATE_LOCK_KEY = 0x69706D5F73657474  # "ipm_sett"


@dataclass(frozen=True, slots=True)
class SettingRow:
    category: str
    key: str
    value: Any
    data_type: str
    description: str | None


class SettingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def values(self) -> dict[tuple[str, str], Any]:
        """Every stored value by (category, key), in one query."""
        stmt = select(AdminSetting.category, AdminSetting.key, AdminSetting.value)
        rows = (await self.session.execute(stmt)).all()
        return {(category, key): value for category, key, value in rows}

    async def lock_for_update(self) -> None:
        """Wait for other transactions updating the settings; held until this one ends."""
        await self.session.execute(select(func.pg_advisory_xact_lock(_UPDATE_LOCK_KEY)))

    async def upsert(self, rows: Sequence[SettingRow], *, updated_by: uuid.UUID | None) -> None:
        """Insert or overwrite the rows, keyed by (category, key)."""
        if not rows:
            return
        now = utcnow()
        stmt = insert(AdminSetting).values(
            [
                {
                    "id": new_id(),
                    "category": row.category,
                    "key": row.key,
                    "value": row.value,
                    "data_type": row.data_type,
                    "description": row.description,
                    "updated_by": updated_by,
                    "created_at": now,
                    "updated_at": now,
                }
                for row in rows
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[AdminSetting.category, AdminSetting.key],
            set_={
                "value": stmt.excluded.value,
                "data_type": stmt.excluded.data_type,
                "description": stmt.excluded.description,
                "updated_by": stmt.excluded.updated_by,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        await self.session.execute(stmt)
