"""Base API models: camelCase on the wire, unknown input fields rejected, only storable
values (text PostgreSQL can hold, finite numbers) accepted."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator, model_validator
from pydantic.alias_generators import to_camel


def storable_text_problem(value: str) -> str | None:
    """Why PostgreSQL could not store `value` as text, or None if it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogates)"
    return None


def _check_storable(value: Any, path: str) -> None:
    if isinstance(value, str):
        problem = storable_text_problem(value)
        if problem:
            raise ValueError(f"{path or 'value'} {problem}")
    elif isinstance(value, float) and not math.isfinite(value):
        # NaN, Infinity and numbers beyond a double (1e400) parse, but are not JSON.
        raise ValueError(f"{path or 'value'} must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, path)
            _check_storable(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}[{index}]")


class Schema(BaseModel):
    """An API model read from the client: camelCase, unknown fields are an error."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=False,
    )

    @model_validator(mode="before")
    @classmethod
    def _only_storable_text(cls, data: Any) -> Any:
        # Every string, including keys and values nested in free-form JSON, must be text
        # PostgreSQL can store, and every number must be finite; otherwise the request is a
        # 422, not a database error.
        _check_storable(data, "")
        return data


class ReadSchema(BaseModel):
    """An API model sent to the client: camelCase, built from attributes."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
    )


class PatchSchema(Schema):
    """A partial update: any field may be left out, but none may be sent as null."""

    @field_validator("*")
    @classmethod
    def _no_nulls(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


MAX_JSON_OBJECT_BYTES = 16_384


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > MAX_JSON_OBJECT_BYTES:
        raise ValueError(f"must be at most {MAX_JSON_OBJECT_BYTES} bytes as JSON")
    return value


# A free-form JSON object from a client (profile data, metadata, specifications), bounded.
JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
