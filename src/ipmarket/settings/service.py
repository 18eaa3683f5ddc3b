"""Reading and changing the platform settings.

Each setting is one admin_settings row, category = section (``payments``) and key = the
camelCase field name (``platformFeePercentage``), value = its JSON value. A missing row means
the default. There is no in-process cache: every read goes to the database, so a change is
seen at once by every process.

This is the low-level reader and writer. An administrator's change goes through
`ipmarket.admin.service.change_platform_settings`, which adds the audit row and the event.
Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.errors import ValidationFailed
from ipmarket.settings.repository import SettingRow, SettingsRepository
from ipmarket.settings.schemas import SETTINGS_SECTIONS, PlatformSettings, PlatformSettingsPatch

__all__ = ["get_platform_settings", "update_platform_settings"]

log = structlog.get_logger(__name__)

_Model = TypeVar("_Model", bound=BaseModel)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _validation_failed(message: str, exc: ValidationError) -> ValidationFailed:
    """The same error shape as the request validation handler: a list of field paths."""
    errors = [
        {"field": _field_path(tuple(e["loc"])), "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return ValidationFailed(message, details={"errors": errors})


def _validate(model: type[_Model], data: Mapping[str, Any], message: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_failed(message, exc) from exc


def _keys(section: str) -> dict[str, str | None]:
    """The stored keys of a section (camelCase aliases) and their descriptions."""
    fields = SETTINGS_SECTIONS[section].model_fields
    return {(info.alias or name): info.description for name, info in fields.items()}


def _data_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _from_stored(
    stored: Mapping[tuple[str, str], Any],
) -> tuple[PlatformSettings, set[tuple[str, str]]]:
    """The settings from the stored rows, defaults filling the gaps.

    A stored value that is no longer valid (edited by hand, or a rule tightened since) falls
    back to its default with a warning rather than taking the platform down. The second
    item names those rows.
    """
    data: dict[str, dict[str, Any]] = {
        section: {key: stored[(section, key)] for key in _keys(section) if (section, key) in stored}
        for section in SETTINGS_SECTIONS
    }
    try:
        return PlatformSettings.model_validate(data), set()
    except ValidationError as exc:
        invalid: set[tuple[str, str]] = set()
        for error in exc.errors(include_url=False, include_input=False):
            if len(error["loc"]) < 2:
                raise
            section, key = str(error["loc"][0]), str(error["loc"][1])
            data[section].pop(key, None)
            invalid.add((section, key))
            log.warning("platform_setting_invalid", category=section, key=key, error=error["msg"])
        return PlatformSettings.model_validate(data), invalid


def _deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `patch` laid over it: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in patch.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


async def get_platform_settings(session: AsyncSession) -> PlatformSettings:
    """The current platform settings (one query)."""
    settings, _ = _from_stored(await SettingsRepository(session).values())
    return settings


async def update_platform_settings(
    session: AsyncSession,
    patch: Mapping[str, Any] | PlatformSettingsPatch,
    *,
    updated_by: uuid.UUID | None,
) -> tuple[PlatformSettings, PlatformSettings]:
    """Deep-merge a partial update into the settings; return the settings before and after.

    `patch` is a `PlatformSettingsPatch` or its camelCase JSON form; unknown keys, nulls and
    invalid values raise `ValidationFailed` whose details list each field path, and nothing
    is written. Only the settings whose value changes are written (upserted), with
    `updated_by`. Concurrent updates are serialised. Does not commit.
    """
    if not isinstance(patch, PlatformSettingsPatch):
        patch = _validate(PlatformSettingsPatch, patch, "Invalid platform settings update")
    changes = patch.model_dump(mode="json", by_alias=True, exclude_unset=True)

    repository = SettingsRepository(session)
    await repository.lock_for_update()
    old, invalid = _from_stored(await repository.values())
    old_data = old.model_dump(mode="json", by_alias=True)
    new = _validate(PlatformSettings, _deep_merge(old_data, changes), "Invalid platform settings")
    new_data = new.model_dump(mode="json", by_alias=True)

    rows = [
        SettingRow(
            category=section,
            key=key,
            value=new_data[section][key],
            data_type=_data_type(new_data[section][key]),
            description=description,
        )
        for section in SETTINGS_SECTIONS
        for key, description in _keys(section).items()
        if new_data[section][key] != old_data[section][key] or (section, key) in invalid
    ]
    await repository.upsert(rows, updated_by=updated_by)
    if rows:
        log.info(
            "platform_settings_updated",
            keys=[f"{row.category}.{row.key}" for row in rows],
            updated_by=str(updated_by) if updated_by else None,
        )
    return old, new
