"""Rendering pages: the one Jinja environment, its filters, and the headers every page gets.

Filters: `money(amount, currency)` ("12.50 EUR"), `iso_date` and `ago` for times (every
time is shown as an ISO date plus relative text: the `when` macro does both).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ipmarket.kit.clock import utcnow
from ipmarket.web.csrf import CSRF_FIELD, csrf_token, persist_csrf_cookie
from ipmarket.web.flash import FlashKind, clear_taken_flash, set_flash, take_flash
from ipmarket.web.navigation import navigation
from ipmarket.web.session import forget_refused_session
from ipmarket.web.static import static_url

TEMPLATES_DIR = Path(__file__).parent / "templates"

# No inline scripts or styles anywhere; the hardening issue only adds to this.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def money(amount: Decimal | int | float | str | None, currency: str | None = None) -> str:
    """'1234.50 USD'. Decimal amounts as the API shows them: two places, never floats."""
    if amount is None:
        return "—"
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    text = f"{value:,.2f}"
    return f"{text} {currency.upper()}" if currency else text


def iso_date(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


def iso_datetime(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'3 days ago', 'in 2 hours', 'just now'."""
    if moment is None:
        return ""
    seconds = int(((now or utcnow()) - moment).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now"
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            text = _plural(seconds // size, unit)
            return f"in {text}" if future else f"{text} ago"
    return "just now"


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters.update(money=money, iso_date=iso_date, iso_datetime=iso_datetime, ago=ago)
templates.env.globals.update(static_url=static_url, CSRF_FIELD=CSRF_FIELD)


def _finish(request: Request, response: HTMLResponse | RedirectResponse) -> None:
    persist_csrf_cookie(request, response)
    clear_taken_flash(request, response)
    forget_refused_session(request, response)
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page in the layout, with the visitor, navigation, flash message and CSRF token."""
    visitor = getattr(request.state, "visitor", None)
    page: dict[str, Any] = {
        "visitor": visitor,
        "nav": navigation(visitor, request.url.path),
        "flash": take_flash(request),
        "csrf_token": csrf_token(request),
        "now": utcnow(),
    }
    response = templates.TemplateResponse(
        request, template, page | (context or {}), status_code=status_code, headers=headers
    )
    _finish(request, response)
    return response


def redirect(
    request: Request, url: str, *, flash: str | None = None, kind: FlashKind = "success"
) -> RedirectResponse:
    """After a form POST: 303 to the page that shows the result (post/redirect/get)."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        set_flash(request, response, flash, kind)
    _finish(request, response)
    return response
