"""The canonical JSON of log entries (the bytes a leaf hashes), as every trust component
writes it: sorted keys, no spaces, UTF-8, no ASCII escaping of text.

Only values that serialise one way everywhere are allowed: text, integers (no floats, whose
decimal form differs between languages), booleans, null, lists, and objects with ASCII keys
(key order is by code point, which only ASCII makes identical across sort implementations).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


class NotCanonical(ValueError):
    """The value cannot be written as canonical JSON."""


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise NotCanonical(f"{path or 'value'}: floats are not canonical; use integers")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise NotCanonical(f"{path or 'value'}: object keys must be ASCII text")
            _check(item, f"{path}.{key}" if path else key)
        return
    raise NotCanonical(f"{path or 'value'}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of `value`; raises NotCanonical for anything outside the format."""
    _check(value, "")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def rfc3339(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, the one timestamp form of entries."""
    if moment.tzinfo is None:
        raise NotCanonical("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
