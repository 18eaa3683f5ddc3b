"""HTML pages. The password reset email links here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ipmarket.identity import AppSettings, IdentityService, Signer
from ipmarket.kit.deps import DbSession
from ipmarket.kit.errors import AppError

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_password_form(
    request: Request, token: Annotated[str, Query(max_length=256)] = ""
) -> HTMLResponse:
    return templates.TemplateResponse(request, "reset_password.html", {"token": token})


@router.post("/reset-password", response_class=HTMLResponse)
async def reset_password_submit(
    request: Request,
    session: DbSession,
    signer: Signer,
    settings: AppSettings,
    token: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=128)],
    confirm: Annotated[str, Form(max_length=128)],
) -> HTMLResponse:
    context: dict[str, object] = {"token": token}
    if password != confirm:
        context |= {
            "message": "The two passwords differ.",
            "errors": ["Type the same password twice."],
        }
        return templates.TemplateResponse(request, "reset_password.html", context, status_code=422)
    try:
        await IdentityService(session, signer=signer, settings=settings).reset_password(
            token, password
        )
    except AppError as exc:
        problems = [str(e.get("message")) for e in exc.details.get("errors", [])] or [exc.message]
        context |= {"message": exc.message, "errors": problems}
        return templates.TemplateResponse(
            request, "reset_password.html", context, status_code=exc.status
        )
    return templates.TemplateResponse(request, "reset_password.html", {"done": True})
