"""All SQL of the identity module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity.models import AuthSession, OneTimeToken, RefreshToken, User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        """The user, unlocked (to lock it: `ipmarket.identity.locks`)."""
        stmt = select(User).where(User.id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_email(self, email: str) -> User | None:
        stmt = select(User).where(User.email == email.lower())
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def taken(
        self, *, username: str | None, email: str | None, exclude: uuid.UUID | None = None
    ) -> list[str]:
        """Which of `username` / `email` another user already has."""
        conditions: list[ColumnElement[bool]] = []
        if username is not None:
            conditions.append(func.lower(User.username) == username.lower())
        if email is not None:
            conditions.append(User.email == email.lower())
        if not conditions:
            return []
        stmt = select(User.username, User.email).where(or_(*conditions))
        if exclude is not None:
            stmt = stmt.where(User.id != exclude)
        fields: list[str] = []
        for row in (await self.session.execute(stmt)).all():
            if username is not None and row.username.lower() == username.lower():
                fields.append("username")
            if email is not None and row.email == email.lower():
                fields.append("email")
        return sorted(set(fields))

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def with_session(
        self, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> tuple[User, AuthSession] | None:
        """The user and their login session in one query (the per-request check)."""
        stmt = (
            select(User, AuthSession)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(User.id == user_id, AuthSession.id == session_id)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], row[1]) if row else None

    async def with_refresh_token(
        self, token_hash: str
    ) -> tuple[User, AuthSession, RefreshToken] | None:
        """The user, login session and refresh token of a token digest, in one query (the
        per-request check of a browser session, whose cookie is its session's token)."""
        stmt = (
            select(User, AuthSession, RefreshToken)
            .join(AuthSession, AuthSession.user_id == User.id)
            .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
            .where(RefreshToken.token_hash == token_hash)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], row[1], row[2]) if row else None

    async def list(
        self,
        *,
        user_type: str | None,
        status: str | None,
        verification_level: str | None,
        search: str | None,
        sort: str,
        offset: int,
        limit: int,
    ) -> tuple[list[User], int]:
        conditions: list[ColumnElement[bool]] = []
        if user_type:
            conditions.append(User.user_type == user_type)
        if status:
            conditions.append(User.status == status)
        if verification_level:
            conditions.append(User.verification_level == verification_level)
        if search:
            pattern = (
                "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            conditions.append(or_(User.username.ilike(pattern), User.email.ilike(pattern)))
        where = and_(True, *conditions)
        order: dict[str, tuple[ColumnElement[Any], ...]] = {
            "newest": (User.created_at.desc(), User.id.asc()),
            "oldest": (User.created_at.asc(), User.id.asc()),
            "username": (User.username.asc(), User.id.asc()),
        }
        total = (
            await self.session.execute(select(func.count()).select_from(User).where(where))
        ).scalar_one()
        rows = await self.session.execute(
            select(User).where(where).order_by(*order[sort]).offset(offset).limit(limit)
        )
        return list(rows.scalars()), int(total)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, auth_session: AuthSession, token: RefreshToken) -> None:
        self.session.add(auth_session)
        await self.session.flush()
        self.session.add(token)
        await self.session.flush()

    async def add_token(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def revoke_all_of_user(
        self, user_id: uuid.UUID, *, now: datetime, reason: str, keep: uuid.UUID | None = None
    ) -> int:
        stmt = (
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        if keep is not None:
            stmt = stmt.where(AuthSession.id != keep)
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]


class OneTimeTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: OneTimeToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def spend_all(self, user_id: uuid.UUID, purpose: str, *, now: datetime) -> None:
        """Retire every unused token of this purpose (a newer one replaces them)."""
        await self.session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.user_id == user_id,
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
            )
            .values(used_at=now)
        )
