"""One-time messages shown on the page after a redirect ("Your asset was submitted")."""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass
from typing import Literal

from fastapi import Request, Response

from ipmarket.web.cookies import FLASH_COOKIE, clear_cookie, set_cookie, settings_of, sign

FlashKind = Literal["success", "info", "error"]


@dataclass(frozen=True)
class Flash:
    kind: FlashKind
    text: str


def set_flash(request: Request, response: Response, text: str, kind: FlashKind = "success") -> None:
    body = base64.urlsafe_b64encode(json.dumps({"k": kind, "t": text}).encode()).decode()
    set_cookie(
        request, response, FLASH_COOKIE, f"{body}.{sign(settings_of(request), 'flash', body)}"
    )


def take_flash(request: Request) -> Flash | None:
    """The flash message the browser carries, if it is ours; the response clears it."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    request.state.clear_flash = True
    body, _, mac = raw.rpartition(".")
    if not body or not hmac.compare_digest(mac, sign(settings_of(request), "flash", body)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
        kind, text = data["k"], data["t"]
    except (ValueError, KeyError, TypeError):
        return None
    if kind not in ("success", "info", "error") or not isinstance(text, str):
        return None
    return Flash(kind=kind, text=text)


def clear_taken_flash(request: Request, response: Response) -> None:
    if getattr(request.state, "clear_flash", False):
        clear_cookie(request, response, FLASH_COOKIE)
