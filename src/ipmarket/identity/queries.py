"""Read-side queries other modules may ask of identity: what anyone may know of a user.

A public profile is the username, the account type, the display name and bio the user chose
to show, and when they joined: never an email, a status reason or anything of the login.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity.models import User, UserStatus, UserType


async def usernames_of(
    session: AsyncSession, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The username of each of `user_ids` that exists (one query): what pages show of the
    other party of a license, never more."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(set(user_ids))))
    return {row.id: row.username for row in rows}


@dataclass(frozen=True)
class PublicProfile:
    id: uuid.UUID
    username: str
    user_type: str
    display_name: str | None
    bio: str | None
    member_since: datetime


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


async def public_profile(session: AsyncSession, username: str) -> PublicProfile | None:
    """The public profile of an active, non-admin user by username (any case), or None."""
    row = (
        await session.execute(
            select(User.id, User.username, User.user_type, User.profile_data, User.created_at)
            .where(
                func.lower(User.username) == username.lower(),
                User.status == UserStatus.ACTIVE,
                User.user_type != UserType.ADMIN,
            )
            .limit(1)
        )
    ).one_or_none()
    if row is None:
        return None
    profile = row.profile_data or {}
    return PublicProfile(
        id=row.id,
        username=row.username,
        user_type=row.user_type,
        display_name=_text(profile.get("displayName")),
        bio=_text(profile.get("bio")),
        member_since=row.created_at,
    )
