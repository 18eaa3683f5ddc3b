"""Admin use cases that span modules: changing the platform settings.

The settings module stores the values (`update_platform_settings`); this service adds what a
change by an administrator also needs, the audit row and the PlatformSettingsChanged event,
in the caller's transaction. It never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.admin.events import PlatformSettingsChanged
from ipmarket.eventbus import publish
from ipmarket.settings import PlatformSettings, PlatformSettingsPatch, update_platform_settings

__all__ = ["change_platform_settings", "settings_changes"]


def _dump(settings: PlatformSettings) -> dict[str, Any]:
    return settings.model_dump(mode="json", by_alias=True)


def settings_changes(
    old: PlatformSettings, new: PlatformSettings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings that differ, as {section: {field: value}} for the old and the new side."""
    old_data, new_data = _dump(old), _dump(new)
    before: dict[str, dict[str, Any]] = {}
    after: dict[str, dict[str, Any]] = {}
    for section, fields in new_data.items():
        old_fields = old_data[section]
        for key, value in fields.items():
            if old_fields.get(key) != value:
                before.setdefault(section, {})[key] = old_fields.get(key)
                after.setdefault(section, {})[key] = value
    return before, after


async def change_platform_settings(
    session: AsyncSession,
    patch: Mapping[str, Any] | PlatformSettingsPatch,
    *,
    actor_id: uuid.UUID,
) -> PlatformSettings:
    """Deep-merge `patch` into the platform settings for administrator `actor_id`; return
    the whole new settings.

    When a value changes, one audit row and one PlatformSettingsChanged event record what
    changed, both in the caller's transaction; a patch that changes nothing leaves no trail.
    Invalid patches raise `ValidationFailed` and write nothing.
    """
    old, new = await update_platform_settings(session, patch, updated_by=actor_id)
    before, after = settings_changes(old, new)
    if after:
        await audit.record(
            session,
            actor_id=actor_id,
            action="admin.settings_updated",
            resource_type="platform_settings",
            resource_id=None,
            old_values=before,
            new_values=after,
        )
        await publish(
            session, PlatformSettingsChanged(actor_id=actor_id, old_values=before, new_values=after)
        )
    return new
