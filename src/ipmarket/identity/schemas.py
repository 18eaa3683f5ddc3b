"""Identity API models (camelCase on the wire; unknown input fields are rejected)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator

from ipmarket.kit.schemas import JsonObject, ReadSchema, Schema

Username = Annotated[
    str,
    StringConstraints(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Token = Annotated[str, StringConstraints(min_length=16, max_length=256)]
ProfileData = JsonObject


def _normalise_email(value: str) -> str:
    return value.strip().lower()


class RegisterRequest(Schema):
    username: Username
    email: EmailStr
    password: Password
    user_type: Literal["creator", "secondary_creator", "buyer"]
    profile_data: ProfileData = Field(default_factory=dict)

    _email = field_validator("email")(_normalise_email)


class LoginRequest(Schema):
    email: EmailStr
    password: Password

    _email = field_validator("email")(_normalise_email)


class RefreshRequest(Schema):
    refresh_token: Token


class ForgotPasswordRequest(Schema):
    email: EmailStr

    _email = field_validator("email")(_normalise_email)


class ResetPasswordRequest(Schema):
    token: Token
    password: Password


class UpdateMeRequest(Schema):
    username: Username | None = None
    profile_data: ProfileData | None = None
    current_password: Password | None = None
    new_password: Password | None = None


class UserRead(ReadSchema):
    """The public face of a user: never a password hash or a token."""

    id: uuid.UUID
    username: str
    email: str
    user_type: str
    verification_level: str
    status: str
    email_verified: bool
    profile_data: dict[str, Any]
    admin_level: str | None = None
    departments: list[str] | None = None
    last_login_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class AuthResult(ReadSchema):
    user: UserRead
    token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class MessageRead(ReadSchema):
    message: str


# --- administration -------------------------------------------------------------------


class UserStatusUpdate(Schema):
    status: Literal["active", "suspended", "banned"]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None


class UserVerificationUpdate(Schema):
    verification_level: Literal["unverified", "verified", "premium"]


class SuspendRequest(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]


class UnsuspendRequest(Schema):
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None
