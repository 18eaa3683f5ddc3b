"""Events the identity module consumes: it mails verification and reset tokens.

The token is made inside the consumer's transaction, so a failed send leaves no usable
token behind and the retry makes a fresh one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.config import get_settings
from ipmarket.eventbus import Event, EventType, Queue, subscribe
from ipmarket.identity.events import PasswordResetRequested, UserRegistered
from ipmarket.identity.models import OneTimeTokenPurpose, UserStatus
from ipmarket.identity.repository import UserRepository
from ipmarket.identity.service import RESET_PASSWORD_TTL, issue_one_time_token
from ipmarket.notifications import get_email_sender, password_reset_email, verification_email


@subscribe(
    EventType.USER_REGISTERED,
    consumer="identity.send_verification_email",
    queue=Queue.NOTIFICATIONS,
)
async def send_verification_email(session: AsyncSession, event: Event) -> None:
    payload = UserRegistered.model_validate(event.payload)
    user = await UserRepository(session).get(payload.user_id)
    if user is None or user.email_verified_at is not None:
        return
    token = await issue_one_time_token(session, user.id, OneTimeTokenPurpose.VERIFY_EMAIL)
    link = f"{get_settings().public_base_url}/verify-email/{token}"
    await get_email_sender().send(verification_email(user.email, user.username, token, link))


@subscribe(
    EventType.USER_PASSWORD_RESET_REQUESTED,
    consumer="identity.send_password_reset_email",
    queue=Queue.NOTIFICATIONS,
)
async def send_password_reset_email(session: AsyncSession, event: Event) -> None:
    payload = PasswordResetRequested.model_validate(event.payload)
    user = await UserRepository(session).by_email(payload.email)
    if user is None or user.status != UserStatus.ACTIVE:
        return  # an unknown or inactive address: nothing to send, and nobody is told so
    token = await issue_one_time_token(session, user.id, OneTimeTokenPurpose.RESET_PASSWORD)
    link = f"{get_settings().public_base_url}/reset-password?token={token}"
    minutes = int(RESET_PASSWORD_TTL.total_seconds() // 60)
    await get_email_sender().send(
        password_reset_email(user.email, user.username, token, link, minutes)
    )
