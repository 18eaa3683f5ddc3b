"""Canonical JSON: one byte string per value, refusing what other languages would write
differently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ipmarket.transparency import NotCanonical, canonical_json, rfc3339


def test_keys_are_sorted_without_spaces_and_text_is_utf8() -> None:
    value = {"b": [1, True, None], "a": {"z": "é✓", "y": -3}}
    assert canonical_json(value) == '{"a":{"y":-3,"z":"é✓"},"b":[1,true,null]}'.encode()


def test_the_same_object_built_in_another_order_gives_the_same_bytes() -> None:
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


@pytest.mark.parametrize(
    "value", [1.5, {"a": 0.0}, [1, 2.0], {"ключ": 1}, {1: "a"}, {"a": b"bytes"}, {"a": (1,)}]
)
def test_floats_non_ascii_keys_and_non_json_values_are_refused(value: object) -> None:
    with pytest.raises(NotCanonical):
        canonical_json(value)


def test_timestamps_are_utc_with_microseconds_and_z() -> None:
    moment = datetime(2026, 12, 4, 14, 5, 6, 7, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(moment) == "2026-12-04T13:05:06.000007Z"
    assert rfc3339(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"
    with pytest.raises(NotCanonical):
        rfc3339(datetime(2026, 1, 1))  # noqa: DTZ001 - the naive value under test
