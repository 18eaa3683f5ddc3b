"""Sign-up, sign-in, sign-out, email verification, forgotten and reset passwords, the
profile and the password change: the identity service's use cases as pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ipmarket.identity import (
    AccountLocked,
    AppSettings,
    IdentityService,
    Principal,
    Signer,
    WrongCurrentPassword,
)
from ipmarket.identity.schemas import (
    ForgotPasswordRequest,
    LoginRequest,
    RegisterRequest,
    ResetPasswordRequest,
    UpdateMeRequest,
)
from ipmarket.kit.deps import DbSession
from ipmarket.web.errors import safe_next
from ipmarket.web.forms import field_problem, form_values, rejects_form
from ipmarket.web.session import (
    SignedIn,
    Visitor,
    end_browser_session,
    start_browser_session,
)
from ipmarket.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

USER_TYPES = [
    ("creator", "Original creator", "Register your IP and license it to others."),
    ("secondary_creator", "Secondary creator", "License IP and sell derivative products."),
    ("buyer", "Buyer", "Buy licensed products and check they are authentic."),
]
Account = Annotated[Principal, Depends(SignedIn())]


def _service(session: DbSession, signer: Signer, settings: AppSettings) -> IdentityService:
    return IdentityService(session, signer=signer, settings=settings)


Identity = Annotated[IdentityService, Depends(_service)]


# --- sign up, in, out ----------------------------------------------------------------------


@router.get("/sign-up", response_class=HTMLResponse)
async def sign_up_form(request: Request, visitor: Visitor) -> Response:
    if visitor is not None:
        return redirect(request, "/account")
    return render(request, "account/sign_up.html", {"user_types": USER_TYPES, "form": {}})


@router.post("/sign-up", response_class=HTMLResponse)
async def sign_up(request: Request, identity: Identity) -> Response:
    values = form_values(await request.form())
    page = {"user_types": USER_TYPES}
    async with rejects_form("account/sign_up.html", page, values):
        data = RegisterRequest.model_validate(values)
        issued = await identity.register(data)
    response = redirect(
        request,
        "/account",
        flash=f"Welcome, {issued.user.username}. We have emailed you a link to verify "
        "your address.",
    )
    start_browser_session(request, response, issued)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(
    request: Request, visitor: Visitor, next_: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    if visitor is not None:
        return redirect(request, safe_next(next_))
    return render(request, "account/sign_in.html", {"form": {"next": safe_next(next_)}})


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, session: DbSession, identity: Identity) -> Response:
    values = form_values(await request.form())
    target = safe_next(values.pop("next", None))
    # A failed sign-in is recorded (attempt counter, lockout, audit), as on the API.
    async with rejects_form(
        "account/sign_in.html", {}, values | {"next": target}, keep_failure_in=session
    ):
        data = LoginRequest.model_validate(values)
        issued = await identity.login(data.email, data.password)
    response = redirect(request, target, flash=f"Signed in as {issued.user.username}.")
    start_browser_session(request, response, issued)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, identity: Identity) -> RedirectResponse:
    response = redirect(request, "/", flash="You are signed out.", kind="info")
    await end_browser_session(request, response, identity)
    return response


# --- email verification ---------------------------------------------------------------------


@router.get("/verify-email/{token}", response_class=HTMLResponse)
async def verify_email(request: Request, token: str, identity: Identity) -> Response:
    async with rejects_form("account/verify_email.html", {}, {}):
        user = await identity.verify_email(token)
    return render(request, "account/verify_email.html", {"verified_user": user.username})


# --- forgotten and reset passwords -----------------------------------------------------------


@router.get("/forgot-password", response_class=HTMLResponse)
async def forgot_password_form(request: Request) -> Response:
    return render(request, "account/forgot_password.html", {"form": {}})


@router.post("/forgot-password", response_class=HTMLResponse)
async def forgot_password(request: Request, identity: Identity) -> Response:
    values = form_values(await request.form())
    async with rejects_form("account/forgot_password.html", {}, values):
        data = ForgotPasswordRequest.model_validate(values)
        await identity.forgot_password(data.email)
    return render(request, "account/forgot_password.html", {"sent_to": data.email, "form": {}})


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_password_form(
    request: Request, token: Annotated[str, Query(max_length=256)] = ""
) -> Response:
    return render(request, "account/reset_password.html", {"form": {"token": token}})


@router.post("/reset-password", response_class=HTMLResponse)
async def reset_password(request: Request, identity: Identity) -> Response:
    values = form_values(await request.form())
    async with rejects_form("account/reset_password.html", {}, values):
        if values.get("password") != values.get("confirm"):
            raise field_problem("Type the same password twice.", field_name="confirm")
        data = ResetPasswordRequest.model_validate(
            {"token": values.get("token", ""), "password": values.get("password", "")}
        )
        await identity.reset_password(data.token, data.password)
    return redirect(
        request,
        "/sign-in",
        flash="Your password is changed and every session was signed out. Sign in with the "
        "new password.",
    )


# --- profile and password --------------------------------------------------------------------


def _profile_form(principal: Principal) -> dict[str, str]:
    profile = principal.user.profile_data or {}
    return {
        "username": principal.user.username,
        "displayName": str(profile.get("displayName", "")),
        "bio": str(profile.get("bio", "")),
    }


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, principal: Account) -> Response:
    return render(request, "account/account.html", {"form": _profile_form(principal)})


@router.post("/account", response_class=HTMLResponse)
async def update_profile(request: Request, principal: Account, identity: Identity) -> Response:
    values = form_values(await request.form())
    async with rejects_form("account/account.html", {}, values):
        profile = dict(principal.user.profile_data or {})
        for key in ("displayName", "bio"):
            if values.get(key):
                profile[key] = values[key]
            else:
                profile.pop(key, None)
        data = UpdateMeRequest.model_validate(
            {"username": values.get("username", ""), "profileData": profile}
        )
        await identity.update_me(principal.user, data, current_session=principal.session_id)
    return redirect(request, "/account", flash="Your profile is saved.")


@router.get("/account/password", response_class=HTMLResponse, dependencies=[Depends(SignedIn())])
async def password_form(request: Request) -> Response:
    return render(request, "account/password.html", {"form": {}})


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(
    request: Request, session: DbSession, principal: Account, identity: Identity
) -> Response:
    values = form_values(await request.form())
    async with rejects_form(
        "account/password.html",
        {},
        values,
        keep_failure_in=session,
        kept_failures=(WrongCurrentPassword, AccountLocked),
    ):
        if values.get("newPassword") != values.get("confirm"):
            raise field_problem("Type the same new password twice.", field_name="confirm")
        data = UpdateMeRequest.model_validate(
            {
                "currentPassword": values.get("currentPassword", ""),
                "newPassword": values.get("newPassword", ""),
            }
        )
        await identity.update_me(principal.user, data, current_session=principal.session_id)
    return redirect(
        request,
        "/account",
        flash="Your password is changed. Your other sessions were signed out.",
    )
