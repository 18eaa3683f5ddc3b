"""Identity tables: users, sessions, refresh tokens and one-time tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base, IdMixin, TimestampMixin


class UserType(StrEnum):
    CREATOR = "creator"
    SECONDARY_CREATOR = "secondary_creator"
    BUYER = "buyer"
    ADMIN = "admin"


class VerificationLevel(StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    PREMIUM = "premium"


class UserStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    BANNED = "banned"


class AdminLevel(StrEnum):
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"
    MODERATOR = "moderator"


class OneTimeTokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"


def _in(column: str, enum: type[StrEnum]) -> str:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


USERNAME_LOWER_INDEX = "uq_users_username_lower"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("user_type", UserType), name="user_type"),
        CheckConstraint(_in("verification_level", VerificationLevel), name="verification_level"),
        CheckConstraint(_in("status", UserStatus), name="status"),
        CheckConstraint(
            f"admin_level IS NULL OR {_in('admin_level', AdminLevel)}", name="admin_level"
        ),
        CheckConstraint(
            "(user_type = 'admin') = (admin_level IS NOT NULL)", name="admin_level_iff_admin"
        ),
        Index("idx_users_type_status", "user_type", "status"),
        # Usernames are unique whatever their case; the database enforces it, so two
        # registrations racing with "Alice" and "alice" cannot both succeed.
        Index(USERNAME_LOWER_INDEX, text("lower(username)"), unique=True),
        Index(
            "idx_users_search",
            "username",
            "email",
            postgresql_using="gin",
            postgresql_ops={"username": "gin_trgm_ops", "email": "gin_trgm_ops"},
        ),
    )

    # Kept as typed; unique ignoring case (see USERNAME_LOWER_INDEX).
    username: Mapped[str] = mapped_column(String(50), unique=True)
    # Stored lower-cased so that uniqueness ignores case.
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    user_type: Mapped[str] = mapped_column(String(20))
    verification_level: Mapped[str] = mapped_column(
        String(20), default=VerificationLevel.UNVERIFIED.value
    )
    status: Mapped[str] = mapped_column(String(20), default=UserStatus.ACTIVE.value)
    status_reason: Mapped[str | None] = mapped_column(Text)
    profile_data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    email_verified_at: Mapped[datetime | None]
    admin_level: Mapped[str | None] = mapped_column(String(20))
    departments: Mapped[list[str]] = mapped_column(ARRAY(String(30)), default=list)
    failed_login_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    last_active_at: Mapped[datetime | None]
    # Access tokens issued before this instant are refused (password change or reset).
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class AuthSession(IdMixin, Base):
    """A login session: one family of rotating refresh tokens."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(50))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)


class RefreshToken(IdMixin, Base):
    """One refresh token of a session. Only its SHA-256 is stored; it can be used once."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OneTimeToken(IdMixin, Base):
    """A single-use, expiring token sent by email (verification, password reset)."""

    __tablename__ = "one_time_tokens"
    __table_args__ = (CheckConstraint(_in("purpose", OneTimeTokenPurpose), name="purpose"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
