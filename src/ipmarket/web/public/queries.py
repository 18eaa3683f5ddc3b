"""The query strings of the catalogue pages: read with the same limits as the API's list
endpoints (`GET /v1/products`, `GET /v1/ip-assets`), so a shared URL means the same thing
on both, and a bad value is shown beside its box instead of failing the page."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.datastructures import QueryParams

from ipmarket.kit.schemas import storable_text_problem
from ipmarket.web.forms import Problems, problems_of

PAGE_SIZE = 20

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Text50 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
PageNumber = Annotated[int, Field(ge=1, le=100_000)]


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    page: PageNumber = 1


class ProductQuery(_Query):
    """`/products`: the filters of `GET /v1/products`; the seller by username."""

    q: Text200 | None = None
    category: Text100 | None = None
    min_price: Price | None = Field(default=None, alias="minPrice")
    max_price: Price | None = Field(default=None, alias="maxPrice")
    ip_asset_id: uuid.UUID | None = Field(default=None, alias="ipAssetId")
    seller: Text50 | None = None
    sort: Literal["newest", "price", "-price", "relevance"] | None = None

    @property
    def chosen_sort(self) -> str:
        return self.sort or ("relevance" if self.q else "newest")


class AssetQuery(_Query):
    """`/ip`: the filters of `GET /v1/ip-assets`; the creator by username."""

    q: Text200 | None = None
    category: Text100 | None = None
    content_type: Text50 | None = Field(default=None, alias="contentType")
    creator: Text50 | None = None
    sort: Literal["relevance", "newest", "oldest", "title"] | None = None

    @property
    def chosen_sort(self) -> str:
        return self.sort or ("relevance" if self.q else "newest")


QueryT = TypeVar("QueryT", bound=_Query)


def given(params: QueryParams) -> dict[str, str]:
    """The query's fields that have a value (a form sends empty boxes as `name=`)."""
    return {k: v for k, v in params.items() if v.strip() != ""}


def read_query(
    model: type[QueryT], params: QueryParams
) -> tuple[QueryT | None, dict[str, str], Problems | None]:
    """The parsed query, what to put back in the boxes, and what is wrong (if anything)."""
    values = given(params)
    for name, value in values.items():
        problem = storable_text_problem(value)
        if problem:
            return None, {}, Problems("Some filters need your attention.", {name: problem})
    try:
        return model.model_validate(values), values, None
    except ValidationError as exc:
        problems = problems_of(exc)
        return None, values, Problems("Some filters need your attention.", problems.fields)


def url_with(path: str, kept: dict[str, str], **changes: Any) -> str:
    """`path` with the kept query, `changes` applied (None removes a field) and no page."""
    query = {k: v for k, v in kept.items() if k != "page"}
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = str(value)
    return f"{path}?{urlencode(query)}" if query else path
