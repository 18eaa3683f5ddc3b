"""Every row lock the identity module takes (kind: `ipmarket.kit.locks`).

A token is locked before its user: a reset or a verification spends its one-time token,
then changes the user; a refresh locks its token and session together.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity.models import AuthSession, OneTimeToken, RefreshToken, User
from ipmarket.kit.locks import for_no_key_update


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user, locked and re-read even if the session already holds it."""
    stmt = for_no_key_update(select(User).where(User.id == user_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = for_no_key_update(select(User).where(User.email == email.lower()))
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_refresh_token(
    session: AsyncSession, token_hash: str
) -> tuple[RefreshToken, AuthSession] | None:
    """The refresh token and its session, both locked so that rotations are serialised."""
    stmt = for_no_key_update(
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_hash == token_hash)
    )
    row = (await session.execute(stmt)).one_or_none()
    return (row[0], row[1]) if row else None


async def lock_usable_one_time_token(
    session: AsyncSession, token_hash: str, purpose: str, *, now: datetime
) -> OneTimeToken | None:
    """The unused, unexpired token, locked so that it is spent once."""
    stmt = for_no_key_update(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == token_hash,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > now,
        )
    )
    return (await session.execute(stmt)).scalar_one_or_none()
