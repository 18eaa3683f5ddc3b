"""Forms: reading a posted form into the API's own input models, and showing what was wrong
beside each field with the same messages the API gives.

A page handler wraps its work in `rejects_form(...)`: a validation or service error raises
`FormRejected`, which carries the page to draw again. Because it is raised, the request's
transaction rolls back, so a refused form changes nothing (ARCHITECTURE.md §4.1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from ipmarket.kit.errors import AppError, ErrorCode, ValidationFailed
from ipmarket.web.csrf import CSRF_FIELD

ModelT = TypeVar("ModelT", bound=BaseModel)

# Never sent back to the browser in a re-drawn form.
_SECRET_FIELDS = {"password", "confirm", "currentPassword", "newPassword", "cardNumber", "cvc"}


@dataclass
class Problems:
    """What is wrong with a form: one message overall, and one per field by its name."""

    message: str
    fields: dict[str, str] = field(default_factory=dict)


def problems_of(exc: AppError | ValidationError) -> Problems:
    fields: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        for problem in exc.errors():
            name = ".".join(str(part) for part in problem["loc"]) or "form"
            fields.setdefault(name, problem["msg"])
        return Problems("Some fields need your attention.", fields)
    for detail in exc.details.get("errors", []) or []:
        if isinstance(detail, dict) and detail.get("field"):
            fields.setdefault(str(detail["field"]), str(detail.get("message") or exc.message))
    for name in exc.details.get("fields", []) or []:
        fields.setdefault(str(name), exc.message)
    if isinstance(exc.details.get("field"), str):  # one field named by the service
        fields.setdefault(exc.details["field"], exc.message)
    return Problems(exc.message, fields)


def form_values(form: FormData, *, lists: Iterable[str] = ()) -> dict[str, Any]:
    """The posted fields by name, without the CSRF token; an empty box counts as not given
    (so a required field says "Field required"), and `lists` are read as repeated fields."""
    many = set(lists)
    values: dict[str, Any] = {}
    for name in form:
        if name == CSRF_FIELD:
            continue
        if name in many:
            values[name] = [v for v in form.getlist(name) if isinstance(v, str) and v != ""]
            continue
        value = form.get(name)
        if isinstance(value, str):
            if value.strip() != "":
                values[name] = value
        elif value is not None:
            values[name] = value  # an uploaded file
    return values


def parse(model: type[ModelT], values: dict[str, Any]) -> ModelT:
    return model.model_validate(values)


def kept_input(values: dict[str, Any]) -> dict[str, Any]:
    """What to put back in the boxes: everything typed, never a secret or a file."""
    return {
        k: v for k, v in values.items() if k not in _SECRET_FIELDS and isinstance(v, str | list)
    }


class FormRejected(AppError):
    """A form to draw again with its problems; raised so that the transaction rolls back."""

    def __init__(
        self, template: str, context: dict[str, Any], problems: Problems, *, status: int
    ) -> None:
        super().__init__(problems.message, status_code=status)
        self.code = ErrorCode.VALIDATION_ERROR if status == 422 else self.code
        self.template = template
        self.context = context
        self.problems = problems


@asynccontextmanager
async def rejects_form(
    template: str,
    context: dict[str, Any],
    values: dict[str, Any],
    *,
    keep_failure_in: AsyncSession | None = None,
    kept_failures: tuple[type[AppError], ...] = (AppError,),
    field_names: dict[str, str] | None = None,
) -> AsyncIterator[None]:
    """Turn a validation or service error inside the block into `FormRejected` for
    `template`, with the input kept. `keep_failure_in`: commit what the failure itself
    recorded first when the error is one of `kept_failures` (a failed sign-in's attempt
    counter), as the API does. `field_names`: the form's name of an API field whose box is
    named otherwise (the API's `paymentMethod` is asked as a `cardNumber`)."""
    try:
        yield
    except (AppError, ValidationError) as exc:
        if isinstance(exc, FormRejected):
            raise
        if keep_failure_in is not None and isinstance(exc, kept_failures):
            await keep_failure_in.commit()
        status = 422 if isinstance(exc, ValidationError) else exc.status
        page = context | {"form": kept_input(values)}
        problems = problems_of(exc)
        for api_name, form_name in (field_names or {}).items():
            if api_name in problems.fields:
                problems.fields.setdefault(form_name, problems.fields.pop(api_name))
        rejected = FormRejected(template, page, problems, status=status)
        if isinstance(exc, AppError):
            rejected.headers = exc.headers
        raise rejected from exc


def field_problem(message: str, *, field_name: str) -> ValidationFailed:
    """A problem with one field that only the page knows (two passwords that differ)."""
    return ValidationFailed.for_field(message, field=field_name, problem="invalid")
