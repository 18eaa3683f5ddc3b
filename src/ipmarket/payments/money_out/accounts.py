"""Users' connected accounts at the payment provider (Stripe Connect, Express accounts).

A user's earnings are transferred to their connected account, and paid out from it to their
bank. The account is opened at the provider the first time a user needs one (their first
earnings, or a payout), under an idempotency key derived from the user: two processes
opening it at once get the same account, and one row records it.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import User
from ipmarket.kit.clock import utcnow
from ipmarket.payments.money_out.repository import MoneyOutRepository
from ipmarket.payments.providers import PaymentProvider, ProviderError


def account_key(user_id: uuid.UUID) -> str:
    """The idempotency key under which the user's connected account is opened."""
    return f"account:{user_id}"


async def recorded_account(
    session: AsyncSession, provider: PaymentProvider, user_id: uuid.UUID
) -> str | None:
    """The user's connected account id, if one was opened (at `provider`)."""
    account = await MoneyOutRepository(session).payment_account(user_id)
    if account is None:
        return None
    if account.provider != provider.name:
        # Accounts of one provider mean nothing to another: an operator must move them.
        raise ProviderError(
            f"user {user_id} has a {account.provider} account, not a {provider.name} one"
        )
    return account.provider_account_id


async def email_of(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    user = await session.get(User, user_id)
    return user.email if user is not None else None


async def open_account(
    session: AsyncSession, provider: PaymentProvider, user_id: uuid.UUID, *, email: str | None
) -> str:
    """Open the user's account at the provider and record it; returns the account recorded
    for the user (the same one when another process opened it meanwhile)."""
    account_id = await provider.create_account(
        user_id=str(user_id), email=email, idempotency_key=account_key(user_id)
    )
    account = await MoneyOutRepository(session).add_payment_account(
        user_id, provider=provider.name, provider_account_id=account_id, now=utcnow()
    )
    return account.provider_account_id


async def connected_account(
    session: AsyncSession, provider: PaymentProvider, user_id: uuid.UUID
) -> str:
    """The user's connected account id, opened at the provider on first need.

    Raises ProviderError when the provider cannot open it. The caller's transaction records
    the new account (and may hold it while the provider is called)."""
    found = await recorded_account(session, provider, user_id)
    if found is not None:
        return found
    return await open_account(session, provider, user_id, email=await email_of(session, user_id))
