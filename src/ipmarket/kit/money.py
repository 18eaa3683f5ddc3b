"""Money: integer minor units in storage, decimals with two places on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, PlainSerializer
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

CURRENCY = "USD"
_CENT = Decimal("0.01")

# A non-negative amount with at most two decimal places, shown as a JSON number.
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
PositiveAmount = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Percentage = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]


def _number_only(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("number_type", "Input should be a number")
    return value


@dataclass(frozen=True)
class JsonNumberOnly:
    """Added to an `Amount` or a `Percentage` (`Annotated[Amount, JsonNumberOnly()]`): the
    value must come as a JSON number, not a numeric string or a boolean, and its JSON schema
    says "number" only. The platform settings take amounts this way."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(_number_only, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        # A Decimal's schema is "a number or a string"; keep the number.
        numbers = [item for item in json_schema.pop("anyOf", []) if item.get("type") == "number"]
        json_schema.update(numbers[0] if numbers else {})
        # Serialized as a float, the bounds would be lost from the schema; state them.
        decimal = schema.get("schema", {})
        for bound, keyword in (("ge", "minimum"), ("le", "maximum")):
            if bound in decimal:
                json_schema.setdefault(keyword, float(decimal[bound]))
        return json_schema


def to_minor(amount: Decimal) -> int:
    return int((amount / _CENT).to_integral_value(rounding=ROUND_HALF_UP))


def from_minor(minor: int) -> Decimal:
    return (Decimal(minor) * _CENT).quantize(_CENT)
