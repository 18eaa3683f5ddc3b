"""Identity use cases: registration, login, sessions, passwords, email verification and
user administration. Services flush but never commit: the caller owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.config import Settings
from ipmarket.eventbus import publish
from ipmarket.identity.events import (
    PasswordResetRequested,
    UserRegistered,
    UserSuspended,
    UserVerified,
)
from ipmarket.identity.locks import (
    lock_refresh_token,
    lock_usable_one_time_token,
    lock_user,
    lock_user_by_email,
)
from ipmarket.identity.models import (
    USERNAME_LOWER_INDEX,
    AdminLevel,
    AuthSession,
    OneTimeToken,
    OneTimeTokenPurpose,
    RefreshToken,
    User,
    UserStatus,
    UserType,
    VerificationLevel,
)
from ipmarket.identity.passwords import (
    DUMMY_HASH,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from ipmarket.identity.permissions import Department, permissions_for
from ipmarket.identity.repository import OneTimeTokenRepository, SessionRepository, UserRepository
from ipmarket.identity.schemas import RegisterRequest, UpdateMeRequest
from ipmarket.identity.tokens import TokenSigner
from ipmarket.kit.clock import utcnow
from ipmarket.kit.context import current_request
from ipmarket.kit.crypto import random_token, token_digest
from ipmarket.kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from ipmarket.kit.ids import new_id
from ipmarket.settings import PlatformSettings, get_platform_settings

VERIFY_EMAIL_TTL = timedelta(hours=48)
RESET_PASSWORD_TTL = timedelta(hours=1)


class AccountLocked(RateLimited):
    """Too many wrong passwords in a row: the account refuses password checks for a while."""


class WrongCurrentPassword(Forbidden):
    """A signed-in user gave a wrong current password (it counts toward the lockout)."""


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int


def user_snapshot(user: User) -> dict[str, Any]:
    """What the audit trail records of a user: never the password hash."""
    return {
        "username": user.username,
        "email": user.email,
        "userType": user.user_type,
        "status": user.status,
        "statusReason": user.status_reason,
        "verificationLevel": user.verification_level,
        "emailVerified": user.email_verified_at is not None,
        "profileData": user.profile_data,
        "adminLevel": user.admin_level,
        "departments": list(user.departments or []),
    }


# Unique constraints of the users table, by the field a client would change to satisfy them.
_UNIQUE_USER_FIELDS = {
    "uq_users_username": "username",
    USERNAME_LOWER_INDEX: "username",
    "uq_users_email": "email",
}


def conflicting_fields(exc: IntegrityError) -> list[str]:
    """The user fields whose uniqueness a failed insert or update broke (empty if unknown).

    This is the answer to a race the "is it taken?" check cannot see: two requests both
    find a name free and the database refuses the second.
    """
    cause = exc.orig.__cause__ if exc.orig is not None else None
    constraint = getattr(cause, "constraint_name", None)
    if constraint is not None:
        field = _UNIQUE_USER_FIELDS.get(constraint)
        return [field] if field else []
    message = str(exc.orig)
    return sorted({f for name, f in _UNIQUE_USER_FIELDS.items() if f'"{name}"' in message})


def access_claims(user: User, session_id: uuid.UUID) -> dict[str, Any]:
    """Seed JWTPayload, plus AdminJWTPayload for administrators."""
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "sid": str(session_id),
        "userId": str(user.id),
        "username": user.username,
        "userType": user.user_type,
        "verificationLevel": user.verification_level,
        "permissions": permissions_for(user.user_type, user.admin_level, user.departments),
    }
    if user.user_type == UserType.ADMIN:
        claims |= {
            "adminLevel": user.admin_level,
            "departments": list(user.departments or []),
            "lastPasswordChange": int(user.password_changed_at.timestamp()),
            "requiresMFA": False,
        }
    return claims


async def issue_one_time_token(
    session: AsyncSession, user_id: uuid.UUID, purpose: OneTimeTokenPurpose
) -> str:
    """A new single-use token for `purpose`; earlier unused ones stop working."""
    now = utcnow()
    ttl = VERIFY_EMAIL_TTL if purpose == OneTimeTokenPurpose.VERIFY_EMAIL else RESET_PASSWORD_TTL
    tokens = OneTimeTokenRepository(session)
    await tokens.spend_all(user_id, purpose, now=now)
    plain = random_token()
    await tokens.add(
        OneTimeToken(
            id=new_id(),
            user_id=user_id,
            purpose=purpose.value,
            token_hash=token_digest(plain),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return plain


class IdentityService:
    def __init__(self, session: AsyncSession, *, signer: TokenSigner, settings: Settings) -> None:
        self.session = session
        self.signer = signer
        self.settings = settings
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)
        self.one_time = OneTimeTokenRepository(session)

    # --- registration and login ---------------------------------------------------------

    async def register(self, data: RegisterRequest) -> IssuedTokens:
        platform = await get_platform_settings(self.session)
        if not platform.general.allow_new_registrations:
            raise Forbidden("New registrations are closed")
        self._check_password(platform, data.password, username=data.username, email=data.email)
        taken = await self.users.taken(username=data.username, email=data.email)
        if taken:
            raise Conflict(f"{' and '.join(taken)} already registered", details={"fields": taken})
        user = User(
            id=new_id(),
            username=data.username,
            email=data.email,
            password_hash=hash_password(data.password),
            user_type=data.user_type,
            verification_level=VerificationLevel.UNVERIFIED.value,
            status=UserStatus.ACTIVE.value,
            profile_data=data.profile_data,
            departments=[],
        )
        try:
            async with self.session.begin_nested():
                await self.users.add(user)
        except IntegrityError as exc:  # a concurrent registration won the race
            fields = conflicting_fields(exc) or ["username", "email"]
            raise Conflict(
                f"{' or '.join(fields)} already registered", details={"fields": fields}
            ) from exc
        await audit.record(
            self.session,
            actor_id=user.id,
            action="user.registered",
            resource_type="user",
            resource_id=user.id,
            new_values=user_snapshot(user),
        )
        await publish(
            self.session,
            UserRegistered(
                user_id=user.id, username=user.username, email=user.email, user_type=user.user_type
            ),
        )
        return await self._start_session(user, platform)

    async def login(self, email: str, password: str) -> IssuedTokens:
        """Check credentials. A failure is recorded (counter, lockout, audit) and raised;
        the caller commits that record before answering."""
        platform = await get_platform_settings(self.session)
        now = utcnow()
        user = await lock_user_by_email(self.session, email)
        if user is None:
            verify_password(DUMMY_HASH, password)  # same cost as a real check
            raise Unauthorized("Invalid email or password")
        if user.locked_until is not None and user.locked_until > now:
            verify_password(DUMMY_HASH, password)  # a refusal as slow as a real check
            raise self._locked(user.locked_until, now)
        if not verify_password(user.password_hash, password):
            lockout = await self._count_failed_password(user, platform, now)
            if lockout is not None:
                raise lockout
            raise Unauthorized("Invalid email or password")
        if user.status != UserStatus.ACTIVE:
            raise Forbidden(f"Account is {user.status}", details={"status": user.status})
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.failed_login_attempts = 0
        user.locked_until = None
        user.last_login_at = now
        user.last_active_at = now
        await audit.record(
            self.session,
            actor_id=user.id,
            action="user.login",
            resource_type="user",
            resource_id=user.id,
        )
        return await self._start_session(user, platform)

    async def _count_failed_password(
        self, user: User, platform: PlatformSettings, now: datetime, *, via: str | None = None
    ) -> AccountLocked | None:
        """Record a wrong password for `user` (locked by the caller): count it, lock the
        account when the count reaches maxLoginAttempts, and audit it. Returns the error to
        raise when this failure locked the account. Flushes; the caller commits."""
        user.failed_login_attempts += 1
        locked = user.failed_login_attempts >= platform.security.max_login_attempts
        if locked:
            user.locked_until = now + timedelta(minutes=self.settings.login_lockout_minutes)
            user.failed_login_attempts = 0
        await audit.record(
            self.session,
            actor_id=user.id,
            action="user.login_failed",
            resource_type="user",
            resource_id=user.id,
            new_values={"locked": locked} | ({"via": via} if via else {}),
        )
        await self.session.flush()
        if locked and user.locked_until is not None:
            return self._locked(user.locked_until, now)
        return None

    @staticmethod
    def _locked(until: datetime, now: datetime) -> AccountLocked:
        retry_after = max(1, int((until - now).total_seconds()))
        return AccountLocked(
            "Account locked after too many failed login attempts",
            retry_after=retry_after,
            details={"lockedUntil": until.isoformat()},
        )

    async def _start_session(self, user: User, platform: PlatformSettings) -> IssuedTokens:
        now = utcnow()
        ctx = current_request()
        auth_session = AuthSession(
            id=new_id(),
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            ip_address=ctx.ip_address,
            user_agent=ctx.user_agent,
        )
        refresh = random_token()
        await self.sessions.add(
            auth_session,
            RefreshToken(
                id=new_id(),
                session_id=auth_session.id,
                token_hash=token_digest(refresh),
                created_at=now,
                expires_at=now + timedelta(minutes=platform.security.session_timeout),
            ),
        )
        return self._tokens(user, auth_session.id, refresh, now)

    def _tokens(
        self, user: User, session_id: uuid.UUID, refresh: str, now: datetime
    ) -> IssuedTokens:
        return IssuedTokens(
            user=user,
            access_token=self.signer.issue(access_claims(user, session_id), now=now),
            refresh_token=refresh,
            expires_in=self.signer.ttl_seconds,
        )

    # --- sessions -------------------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """Rotate a refresh token. Presenting a spent one ends its whole session (family);
        that revocation is flushed before raising so the caller can commit it."""
        now = utcnow()
        found = await lock_refresh_token(self.session, token_digest(refresh_token))
        if found is None:
            raise Unauthorized("Invalid refresh token")
        token, auth_session = found
        if auth_session.revoked_at is not None:
            raise Unauthorized("Session has ended")
        if token.used_at is not None:
            auth_session.revoked_at = now
            auth_session.revoked_reason = "refresh_token_reuse"
            await audit.record(
                self.session,
                actor_id=auth_session.user_id,
                action="session.revoked_on_reuse",
                resource_type="auth_session",
                resource_id=auth_session.id,
            )
            await self.session.flush()
            raise Unauthorized("Refresh token was already used; the session has been ended")
        if token.expires_at <= now:
            raise Unauthorized("Refresh token expired")
        user = await self.users.get(auth_session.user_id)
        if user is None or user.status != UserStatus.ACTIVE:
            raise Unauthorized("Account is not active")
        platform = await get_platform_settings(self.session)
        token.used_at = now
        auth_session.last_used_at = now
        new_refresh = random_token()
        await self.sessions.add_token(
            RefreshToken(
                id=new_id(),
                session_id=auth_session.id,
                token_hash=token_digest(new_refresh),
                created_at=now,
                expires_at=now + timedelta(minutes=platform.security.session_timeout),
            )
        )
        await audit.record(
            self.session,
            actor_id=user.id,
            action="session.refreshed",
            resource_type="auth_session",
            resource_id=auth_session.id,
        )
        return self._tokens(user, auth_session.id, new_refresh, now)

    async def logout(self, refresh_token: str) -> None:
        found = await lock_refresh_token(self.session, token_digest(refresh_token))
        if found is None:
            raise Unauthorized("Invalid refresh token")
        _, auth_session = found
        if auth_session.revoked_at is None:
            auth_session.revoked_at = utcnow()
            auth_session.revoked_reason = "logout"
            await audit.record(
                self.session,
                actor_id=auth_session.user_id,
                action="session.ended",
                resource_type="auth_session",
                resource_id=auth_session.id,
            )

    # --- passwords and email ------------------------------------------------------------

    def _check_password(
        self, platform: PlatformSettings, password: str, *, username: str, email: str
    ) -> None:
        check_password_policy(
            password,
            min_length=platform.security.password_min_length,
            require_special=platform.security.password_require_special_chars,
            username=username,
            email=email,
        )

    async def forgot_password(self, email: str) -> None:
        """Ask for a reset email. Says nothing about whether the address exists, not even by
        its timing: the request does the same work for any address (an audit row and an
        event, neither naming a user) and the event's consumer decides whether to mail."""
        normalised = email.strip().lower()
        await audit.record(
            self.session,
            actor_id=None,
            action="user.password_reset_requested",
            resource_type="user",
            resource_id=None,
            new_values={"email": normalised},
        )
        await publish(self.session, PasswordResetRequested(email=normalised))

    async def reset_password(self, token: str, password: str) -> None:
        now = utcnow()
        found = await lock_usable_one_time_token(
            self.session, token_digest(token), OneTimeTokenPurpose.RESET_PASSWORD, now=now
        )
        if found is None:
            raise ValidationFailed(
                "Reset token is invalid, used or expired", details={"field": "token"}
            )
        user = await lock_user(self.session, found.user_id)
        if user is None:
            raise ValidationFailed(
                "Reset token is invalid, used or expired", details={"field": "token"}
            )
        platform = await get_platform_settings(self.session)
        self._check_password(platform, password, username=user.username, email=user.email)
        found.used_at = now
        user.password_hash = hash_password(password)
        user.password_changed_at = now
        user.failed_login_attempts = 0
        user.locked_until = None
        ended = await self.sessions.revoke_all_of_user(user.id, now=now, reason="password_reset")
        await audit.record(
            self.session,
            actor_id=user.id,
            action="user.password_reset",
            resource_type="user",
            resource_id=user.id,
            new_values={"sessionsEnded": ended},
        )

    async def verify_email(self, token: str) -> User:
        now = utcnow()
        found = await lock_usable_one_time_token(
            self.session, token_digest(token), OneTimeTokenPurpose.VERIFY_EMAIL, now=now
        )
        if found is None:
            raise NotFound("Verification token is invalid, used or expired")
        user = await lock_user(self.session, found.user_id)
        if user is None:
            raise NotFound("Verification token is invalid, used or expired")
        found.used_at = now
        if user.email_verified_at is None:
            user.email_verified_at = now
            await audit.record(
                self.session,
                actor_id=user.id,
                action="user.email_verified",
                resource_type="user",
                resource_id=user.id,
                old_values={"emailVerified": False},
                new_values={"emailVerified": True},
            )
            await publish(
                self.session,
                UserVerified(
                    user_id=user.id,
                    verification_level=user.verification_level,
                    email_verified=True,
                    actor_id=user.id,
                ),
            )
        return user

    # --- profile --------------------------------------------------------------------------

    async def update_me(
        self, user: User, data: UpdateMeRequest, *, current_session: uuid.UUID
    ) -> User:
        """Change the caller's username, profile or password.

        A password change needs the current password, checked under the login rules first,
        before anything else changes: a wrong one counts toward the lockout and raises
        `WrongCurrentPassword` (or `AccountLocked`), and the caller commits that record.
        """
        fields = data.model_fields_set
        if not fields:
            raise ValidationFailed("Nothing to update")
        if data.new_password is not None:
            if data.current_password is None:
                raise ValidationFailed.for_field(
                    "currentPassword is required to change the password",
                    field="currentPassword",
                    problem="required",
                )
            await self._check_current_password(user, data.current_password)
        elif data.current_password is not None:
            raise ValidationFailed.for_field(
                "currentPassword is only accepted with newPassword",
                field="newPassword",
                problem="required",
            )
        before = user_snapshot(user)
        if "username" in fields and data.username is not None and data.username != user.username:
            if await self.users.taken(username=data.username, email=None, exclude=user.id):
                raise Conflict("username already registered", details={"fields": ["username"]})
            user.username = data.username
        if "profile_data" in fields and data.profile_data is not None:
            user.profile_data = data.profile_data
        password_changed = False
        if data.new_password is not None:
            platform = await get_platform_settings(self.session)
            self._check_password(
                platform, data.new_password, username=user.username, email=user.email
            )
            now = utcnow()
            user.password_hash = hash_password(data.new_password)
            user.password_changed_at = now
            await self.sessions.revoke_all_of_user(
                user.id, now=now, reason="password_changed", keep=current_session
            )
            password_changed = True
        user.updated_at = utcnow()
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("username already registered", details={"fields": ["username"]}) from exc
        after = user_snapshot(user)
        await audit.record(
            self.session,
            actor_id=user.id,
            action="user.profile_updated",
            resource_type="user",
            resource_id=user.id,
            old_values={k: v for k, v in before.items() if after[k] != v},
            new_values={k: v for k, v in after.items() if before[k] != v}
            | ({"passwordChanged": True} if password_changed else {}),
        )
        return user

    async def _check_current_password(self, user: User, password: str) -> None:
        """The login rules for a signed-in user's password: refused while the account is
        locked, a wrong password counted toward the lockout, a right one clears the count."""
        platform = await get_platform_settings(self.session)
        now = utcnow()
        # Lock and re-read the row so that concurrent failures are all counted.
        await lock_user(self.session, user.id)
        if user.locked_until is not None and user.locked_until > now:
            verify_password(DUMMY_HASH, password)  # a refusal as slow as a real check
            raise self._locked(user.locked_until, now)
        if not verify_password(user.password_hash, password):
            lockout = await self._count_failed_password(user, platform, now, via="password_change")
            if lockout is not None:
                raise lockout
            raise WrongCurrentPassword("Current password is wrong")
        user.failed_login_attempts = 0
        user.locked_until = None


# --- administration ------------------------------------------------------------------------


async def create_admin(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password: str,
    level: str = AdminLevel.ADMIN.value,
    departments: list[str] | None = None,
) -> User:
    """Create an administrator (the CLI's `create-admin`). Admins never self-register."""
    if level not in {lvl.value for lvl in AdminLevel}:
        raise ValidationFailed(f"level must be one of {', '.join(AdminLevel)}")
    wanted = departments if departments is not None else [d.value for d in Department]
    unknown = sorted(set(wanted) - {d.value for d in Department})
    if unknown:
        raise ValidationFailed(f"unknown departments: {', '.join(unknown)}")
    chosen = sorted(set(wanted))
    try:
        shape = RegisterRequest(
            username=username, email=email, password=password, user_type="buyer"
        )
    except PydanticValidationError as exc:
        # Never echo the input back: it may hold the password.
        errors = [
            {"field": ".".join(str(part) for part in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise ValidationFailed(
            "Invalid administrator details", details={"errors": errors}
        ) from None
    platform = await get_platform_settings(session)
    check_password_policy(
        password,
        min_length=platform.security.password_min_length,
        require_special=platform.security.password_require_special_chars,
        username=shape.username,
        email=shape.email,
    )
    users = UserRepository(session)
    taken = await users.taken(username=shape.username, email=shape.email)
    if taken:
        raise Conflict(f"{' and '.join(taken)} already registered", details={"fields": taken})
    now = utcnow()
    user = User(
        id=new_id(),
        username=shape.username,
        email=shape.email,
        password_hash=hash_password(password),
        user_type=UserType.ADMIN.value,
        verification_level=VerificationLevel.VERIFIED.value,
        status=UserStatus.ACTIVE.value,
        profile_data={},
        admin_level=level,
        departments=chosen,
        email_verified_at=now,
    )
    await users.add(user)
    await audit.record(
        session,
        actor_id=None,
        action="admin.created",
        resource_type="user",
        resource_id=user.id,
        new_values=user_snapshot(user),
    )
    return user


class UserAdministration:
    """Seed §3.2.7 user management, used by the admin routes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)

    async def _target(self, user_id: uuid.UUID, actor: User) -> User:
        """The user `actor` may change, locked; refused for themselves and, unless the actor
        is a super admin, for any administrator (admin, super admin or moderator)."""
        user = await lock_user(self.session, user_id)
        if user is None:
            raise NotFound("User not found")
        if user.id == actor.id:
            raise Forbidden("Administrators cannot change their own account here")
        if user.user_type == UserType.ADMIN and actor.admin_level != AdminLevel.SUPER_ADMIN:
            raise Forbidden(
                "Only a super admin can change an administrator",
                details={"targetAdminLevel": user.admin_level},
            )
        return user

    async def set_status(
        self, user_id: uuid.UUID, status: str, reason: str | None, *, actor: User
    ) -> User:
        user = await self._target(user_id, actor)
        return await self._set_status(user, status, reason, actor=actor)

    async def _set_status(
        self, user: User, status: str, reason: str | None, *, actor: User
    ) -> User:
        before = user_snapshot(user)
        if status != UserStatus.ACTIVE and not reason:
            raise ValidationFailed.for_field(
                "A reason is required to suspend or ban", field="reason", problem="required"
            )
        previous = user.status
        user.status = status
        user.status_reason = reason if status != UserStatus.ACTIVE else None
        user.updated_at = utcnow()
        if status != UserStatus.ACTIVE:
            await self.sessions.revoke_all_of_user(user.id, now=utcnow(), reason=f"user_{status}")
        await audit.record(
            self.session,
            actor_id=actor.id,
            action="admin.user_status_changed",
            resource_type="user",
            resource_id=user.id,
            old_values={"status": before["status"], "statusReason": before["statusReason"]},
            new_values={"status": user.status, "statusReason": user.status_reason},
        )
        if status not in (UserStatus.ACTIVE, previous):
            await publish(
                self.session,
                UserSuspended(user_id=user.id, status=status, reason=reason, actor_id=actor.id),
            )
        await self.session.flush()
        return user

    async def unsuspend(self, user_id: uuid.UUID, reason: str | None, *, actor: User) -> User:
        user = await self._target(user_id, actor)
        if user.status != UserStatus.SUSPENDED:
            raise Conflict(f"User is {user.status}, not suspended", details={"status": user.status})
        return await self._set_status(user, UserStatus.ACTIVE.value, reason, actor=actor)

    async def set_verification(self, user_id: uuid.UUID, level: str, *, actor: User) -> User:
        user = await self._target(user_id, actor)
        previous = user.verification_level
        user.verification_level = level
        user.updated_at = utcnow()
        await audit.record(
            self.session,
            actor_id=actor.id,
            action="admin.user_verification_changed",
            resource_type="user",
            resource_id=user.id,
            old_values={"verificationLevel": previous},
            new_values={"verificationLevel": level},
        )
        if previous != level:
            await publish(
                self.session,
                UserVerified(
                    user_id=user.id,
                    verification_level=level,
                    email_verified=user.email_verified_at is not None,
                    actor_id=actor.id,
                ),
            )
        await self.session.flush()
        return user

    async def list(self, **filters: Any) -> tuple[list[User], int]:
        return await self.users.list(**filters)
