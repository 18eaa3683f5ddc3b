"""The ledger's accounts, named by what they are (kind, owner, currency), not by their
rows, which are created on first use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from ipmarket.kit.money import CURRENCY
from ipmarket.payments.models import AccountKind

USER_KINDS = frozenset({AccountKind.USER_PENDING, AccountKind.USER_AVAILABLE})

_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class AccountRef:
    """An account by what it is, not by its row: created on first use."""

    kind: AccountKind
    owner_id: UUID | None = None
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AccountKind):
            object.__setattr__(self, "kind", AccountKind(self.kind))
        if (self.kind in USER_KINDS) != (self.owner_id is not None):
            needs = "needs an" if self.kind in USER_KINDS else "has no"
            raise ValueError(
                f"a {self.kind.value} account {needs} owner: only user_pending and "
                "user_available accounts belong to a user"
            )
        if not _CURRENCY.fullmatch(self.currency):
            raise ValueError(f"currency must be an ISO 4217 code, not {self.currency!r}")

    def __str__(self) -> str:
        owner = f" of {self.owner_id}" if self.owner_id is not None else ""
        return f"{self.kind.value}{owner} ({self.currency})"


def user_pending(user_id: UUID, currency: str = CURRENCY) -> AccountRef:
    """A user's earnings still inside the hold period."""
    return AccountRef(AccountKind.USER_PENDING, user_id, currency)


def user_available(user_id: UUID, currency: str = CURRENCY) -> AccountRef:
    """A user's earnings that may be paid out."""
    return AccountRef(AccountKind.USER_AVAILABLE, user_id, currency)


def platform_revenue(currency: str = CURRENCY) -> AccountRef:
    """The platform's fees."""
    return AccountRef(AccountKind.PLATFORM_REVENUE, None, currency)


def provider_clearing(currency: str = CURRENCY) -> AccountRef:
    """Money held at the payment provider (carries the opposite sign)."""
    return AccountRef(AccountKind.PROVIDER_CLEARING, None, currency)


def payouts_account(currency: str = CURRENCY) -> AccountRef:
    """Money sent out to users' bank accounts."""
    return AccountRef(AccountKind.PAYOUTS, None, currency)


def payouts_in_flight(currency: str = CURRENCY) -> AccountRef:
    """Payouts taken from users' available balances that the provider has not confirmed."""
    return AccountRef(AccountKind.PAYOUTS_IN_FLIGHT, None, currency)
