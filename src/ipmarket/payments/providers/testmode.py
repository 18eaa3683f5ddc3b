"""The built-in test provider: Stripe's test mode, in memory.

The embedded default when no STRIPE_SECRET_KEY is configured. It follows Stripe's rules
closely enough that the purchase flow behaves the same against either provider:

- Stripe's test payment methods: `pm_card_visa`, `pm_card_mastercard` (and a few other
  succeeding cards) pay; `pm_card_chargeDeclined` and its variants are declined with Stripe's
  codes; any other payment method is refused as invalid. A declined intent stays
  `requires_payment_method` and can be confirmed again with another card.
- Manual capture: confirm authorises (`requires_capture`), `capture` takes the full amount,
  `cancel` releases an uncaptured intent; cancelling a captured intent is an error.
- Refunds add up to at most the captured amount; transfer reversals to at most the transfer.
- Idempotency keys with Stripe's semantics: the same key with the same operation and
  parameters replays the first outcome (a decline or an error included), whatever has happened
  since; the same key with another operation or other parameters is an `idempotency_error`.
  Parameters that fail validation save nothing, as on Stripe.
- Ids are deterministic: derived from the idempotency key (`pi_test_…`, `re_test_…`,
  `tr_test_…`, `trr_test_…`, `po_test_…`, `acct_test_…`), so the same key yields the same id
  even in a new process.
- Connected accounts (`create_account`) are recorded; transfers and payouts name one as their
  destination (not checked: the balances of connected accounts are not modelled).
- Test controls: `fail_next(operation)` makes the next calls of an operation fail as an
  unreachable provider would (ProviderError, nothing saved under the key), or, with
  `rejected=True`, be refused for good (ProviderRejected, saved under the key as Stripe saves
  a refusal). `calls()` lists every call made, with its key and outcome.
- Currencies are ISO 4217 codes, reported upper case (`USD`) like the rest of ipmarket.

State lives in process-local dicts guarded by an asyncio lock: right for the embedded
single-process mode (`make run`) and for tests, and lost on restart. A deployment with
several processes (API plus `ipmarket worker`) must use Stripe. Not modelled: the minimum
charge amount, authorisation expiry, account balances, and 3-D Secure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Literal, TypeVar, cast

from ipmarket.payments.providers.base import (
    Intent,
    IntentStatus,
    PaymentDeclined,
    ProviderError,
    ProviderRejected,
)
from ipmarket.payments.providers.testmode_state import (
    DECLINING_PAYMENT_METHODS,
    INVALID_PAYMENT_METHOD,
    SUCCEEDING_PAYMENT_METHODS,
    CallOutcome,
    Failure,
    IntentState,
    ProviderState,
    RecordedAccount,
    RecordedCall,
    RecordedPayout,
    RecordedRefund,
    RecordedReversal,
    RecordedTransfer,
    SavedOutcome,
    TransferState,
    check_amount,
    check_currency,
    check_metadata,
    object_id,
    unexpected_state,
)

T = TypeVar("T")


class TestProvider:
    """Stripe's test mode in memory; see the module's docstring for the rules it follows."""

    __test__ = False  # not a pytest test class, whatever its name

    name: str = "test"

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._state = ProviderState()

    # --- the port ----------------------------------------------------------------------------

    async def create_intent(
        self,
        *,
        amount_minor: int,
        currency: str,
        capture: Literal["automatic", "manual"],
        metadata: dict[str, str],
        transfer_group: str | None,
        idempotency_key: str,
    ) -> Intent:
        amount = check_amount(amount_minor)
        code = check_currency(currency)
        if capture not in ("automatic", "manual"):
            raise ProviderError(f"invalid capture method {capture!r}")
        meta = check_metadata(metadata)
        if transfer_group is not None and not transfer_group:
            raise ProviderError("transfer_group must not be empty")

        def run() -> Intent:
            intent = IntentState(
                id=object_id("pi", idempotency_key),
                amount_minor=amount,
                currency=code,
                capture=capture,
                metadata=meta,
                transfer_group=transfer_group,
            )
            self._state.intents[intent.id] = intent
            return intent.snapshot()

        fingerprint = (
            "create_intent",
            amount,
            code,
            capture,
            tuple(sorted(meta.items())),
            transfer_group,
        )
        return await self._once(idempotency_key, fingerprint, run)

    async def confirm_intent(
        self, intent_id: str, *, payment_method: str, idempotency_key: str
    ) -> Intent:
        def run() -> Intent:
            intent = self._intent(intent_id)
            if intent.status is not IntentStatus.REQUIRES_PAYMENT_METHOD:
                raise unexpected_state(intent, "confirm")
            decline = DECLINING_PAYMENT_METHODS.get(payment_method)
            if decline is not None:
                # As on Stripe, the intent stays open for another payment method.
                raise PaymentDeclined(
                    decline.message, code=decline.code, decline_code=decline.decline_code
                )
            if payment_method not in SUCCEEDING_PAYMENT_METHODS:
                raise PaymentDeclined(
                    f"Invalid payment method: no such PaymentMethod {payment_method!r}.",
                    code=INVALID_PAYMENT_METHOD,
                )
            intent.payment_method = payment_method
            if intent.capture == "manual":
                intent.status = IntentStatus.REQUIRES_CAPTURE
            else:
                intent.status = IntentStatus.SUCCEEDED
                intent.captured_minor = intent.amount_minor
            return intent.snapshot()

        fingerprint = ("confirm_intent", intent_id, payment_method)
        return await self._once(idempotency_key, fingerprint, run)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        async with self._lock:
            return self._intent(intent_id).snapshot()

    async def capture(self, intent_id: str, *, idempotency_key: str) -> Intent:
        def run() -> Intent:
            intent = self._intent(intent_id)
            if intent.status is not IntentStatus.REQUIRES_CAPTURE:
                raise unexpected_state(intent, "capture")
            intent.status = IntentStatus.SUCCEEDED
            intent.captured_minor = intent.amount_minor
            return intent.snapshot()

        return await self._once(idempotency_key, ("capture", intent_id), run)

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        def run() -> Intent:
            intent = self._intent(intent_id)
            if intent.status not in (
                IntentStatus.REQUIRES_PAYMENT_METHOD,
                IntentStatus.REQUIRES_CAPTURE,
            ):
                raise unexpected_state(intent, "cancel")
            intent.status = IntentStatus.CANCELED
            return intent.snapshot()

        return await self._once(idempotency_key, ("cancel", intent_id), run)

    async def refund(self, intent_id: str, *, amount_minor: int, idempotency_key: str) -> str:
        amount = check_amount(amount_minor)

        def run() -> str:
            intent = self._intent(intent_id)
            if intent.status is not IntentStatus.SUCCEEDED:
                raise ProviderError(
                    f"PaymentIntent {intent_id} has no captured payment to refund "
                    f"(status {intent.status.value})."
                )
            remaining = intent.captured_minor - intent.refunded_minor
            if amount > remaining:
                raise ProviderError(
                    f"amount_too_large: refund of {amount} exceeds the {remaining} left to "
                    f"refund on PaymentIntent {intent_id}."
                )
            intent.refunded_minor += amount
            refund = RecordedRefund(
                id=object_id("re", idempotency_key), intent_id=intent_id, amount_minor=amount
            )
            self._state.refunds[refund.id] = refund
            return refund.id

        return await self._once(idempotency_key, ("refund", intent_id, amount), run)

    async def transfer(
        self,
        *,
        destination: str,
        amount_minor: int,
        currency: str,
        transfer_group: str,
        idempotency_key: str,
        source_payment: str | None = None,
    ) -> str:
        amount = check_amount(amount_minor)
        code = check_currency(currency)
        if not destination:
            raise ProviderError("a transfer needs a destination account")
        if not transfer_group:
            raise ProviderError("a transfer needs a transfer_group")

        def run() -> str:
            source = self._state.intents.get(source_payment or "")
            if source is not None and source.status is not IntentStatus.SUCCEEDED:
                raise ProviderRejected(
                    f"invalid_request_error: the source payment {source_payment} has not "
                    f"succeeded (status {source.status.value})."
                )
            transfer = TransferState(
                id=object_id("tr", idempotency_key),
                destination=destination,
                amount_minor=amount,
                currency=code,
                transfer_group=transfer_group,
                source_payment=source_payment,
            )
            self._state.transfers[transfer.id] = transfer
            return transfer.id

        fingerprint = ("transfer", destination, amount, code, transfer_group, source_payment)
        return await self._once(idempotency_key, fingerprint, run)

    async def reverse_transfer(
        self, transfer_id: str, *, amount_minor: int, idempotency_key: str
    ) -> str:
        amount = check_amount(amount_minor)

        def run() -> str:
            transfer = self._state.transfers.get(transfer_id)
            if transfer is None:
                raise ProviderError(f"resource_missing: no such transfer {transfer_id!r}")
            remaining = transfer.amount_minor - transfer.reversed_minor
            if amount > remaining:
                raise ProviderError(
                    f"amount_too_large: reversal of {amount} exceeds the {remaining} left "
                    f"on transfer {transfer_id}."
                )
            transfer.reversed_minor += amount
            reversal = RecordedReversal(
                id=object_id("trr", idempotency_key), transfer_id=transfer_id, amount_minor=amount
            )
            self._state.reversals[reversal.id] = reversal
            return reversal.id

        return await self._once(idempotency_key, ("reverse_transfer", transfer_id, amount), run)

    async def payout(
        self, *, destination: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> str:
        amount = check_amount(amount_minor)
        code = check_currency(currency)
        if not destination:
            raise ProviderError("a payout needs a destination account")

        def run() -> str:
            payout = RecordedPayout(
                id=object_id("po", idempotency_key),
                destination=destination,
                amount_minor=amount,
                currency=code,
            )
            self._state.payouts[payout.id] = payout
            return payout.id

        return await self._once(idempotency_key, ("payout", destination, amount, code), run)

    async def create_account(self, *, user_id: str, email: str | None, idempotency_key: str) -> str:
        if not user_id:
            raise ProviderError("an account needs the user it belongs to")

        def run() -> str:
            account = RecordedAccount(
                id=object_id("acct", idempotency_key), user_id=user_id, email=email
            )
            self._state.accounts[account.id] = account
            return account.id

        return await self._once(idempotency_key, ("create_account", user_id, email), run)

    # --- what tests may look at --------------------------------------------------------------

    def intents(self) -> list[Intent]:
        """Every intent, in creation order."""
        return [intent.snapshot() for intent in self._state.intents.values()]

    def refunds(self) -> list[RecordedRefund]:
        return list(self._state.refunds.values())

    def transfers(self) -> list[RecordedTransfer]:
        return [transfer.snapshot() for transfer in self._state.transfers.values()]

    def reversals(self) -> list[RecordedReversal]:
        return list(self._state.reversals.values())

    def payouts(self) -> list[RecordedPayout]:
        return list(self._state.payouts.values())

    def accounts(self) -> list[RecordedAccount]:
        return list(self._state.accounts.values())

    def calls(self, operation: str | None = None) -> list[RecordedCall]:
        """The calls made (of `operation` only, when given), in order."""
        return [c for c in self._state.calls if operation is None or c.operation == operation]

    def fail_next(
        self,
        operation: str,
        *,
        times: int = 1,
        rejected: bool = False,
        after: int = 0,
        answer_lost: bool = False,
    ) -> None:
        """Make the next `times` calls of `operation` (`payout`, `transfer`, ...) fail, once
        `after` calls of it have gone through.

        By default as if the provider could not be reached: ProviderError, nothing done and
        nothing saved under the key, so a retry with the same key goes through. With
        `rejected`, refused for good: ProviderRejected, saved under the key (a retry is
        refused again), as Stripe does for a request it refuses. With `answer_lost`, the
        call is made (and its outcome saved under the key), then the connection drops:
        ProviderError, and a retry with the same key replays the outcome."""
        if times < 1 or after < 0 or (rejected and answer_lost):
            raise ValueError(
                "times must be at least 1, after at least 0, and a call cannot be both "
                "rejected and made"
            )
        failure = Failure(operation, rejected, answer_lost=answer_lost)
        self._state.failures.append(replace(failure, after=after))
        self._state.failures.extend([failure] * (times - 1))

    def clear_failures(self) -> None:
        """Forget the failures asked for with `fail_next` that have not happened yet."""
        self._state.failures.clear()

    def reset(self) -> None:
        """Forget everything (for tests that share the process-wide instance)."""
        self._state = ProviderState()

    # --- internals ---------------------------------------------------------------------------

    def _intent(self, intent_id: str) -> IntentState:
        intent = self._state.intents.get(intent_id)
        if intent is None:
            raise ProviderError(f"resource_missing: no such PaymentIntent {intent_id!r}")
        return intent

    async def _once(
        self, idempotency_key: str, fingerprint: tuple[object, ...], run: Callable[[], T]
    ) -> T:
        """Run `run` once per idempotency key, replaying its outcome on a matching retry."""
        if not idempotency_key:
            raise ProviderError("an idempotency key is required")
        operation = str(fingerprint[0])
        async with self._lock:
            saved = self._state.outcomes.get(idempotency_key)
            # A refusal is for a new request: a replay answers as the first time.
            failure = self._take_failure(operation, rejections=saved is None)
            lost = failure is not None and failure.answer_lost
            if lost:
                failure = None
            if failure is not None and not failure.rejected:
                self._record(operation, idempotency_key, "unreachable")
                raise ProviderError(
                    f"api_connection_error: the provider did not answer the {operation} call"
                )
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    self._record(operation, idempotency_key, "error")
                    raise ProviderError(
                        "idempotency_error: keys for idempotent requests can only be used with "
                        "the same operation and parameters they were first used with; "
                        f"key {idempotency_key!r} was first used for {saved.fingerprint[0]}."
                    )
                self._record(operation, idempotency_key, "replayed")
                return cast(T, saved.replay())
            try:
                if failure is not None:
                    raise ProviderRejected(
                        f"{operation}_rejected: the provider refused the {operation} for good."
                    )
                result = run()
            except (PaymentDeclined, ProviderError) as exc:
                self._state.outcomes[idempotency_key] = SavedOutcome(fingerprint, error=exc)
                outcome: CallOutcome = "error"
                if isinstance(exc, PaymentDeclined):
                    outcome = "declined"
                elif isinstance(exc, ProviderRejected):
                    outcome = "rejected"
                self._record(operation, idempotency_key, outcome)
                raise
            self._state.outcomes[idempotency_key] = SavedOutcome(fingerprint, result=result)
            if lost:
                self._record(operation, idempotency_key, "answer_lost")
                raise ProviderError(
                    f"api_connection_error: the connection dropped before the {operation} "
                    "call was answered"
                )
            self._record(operation, idempotency_key, "ok")
            return result

    def _take_failure(self, operation: str, *, rejections: bool) -> Failure | None:
        for index, failure in enumerate(self._state.failures):
            if failure.operation == operation and (rejections or not failure.rejected):
                if failure.after:
                    self._state.failures[index] = replace(failure, after=failure.after - 1)
                    return None
                return self._state.failures.pop(index)
        return None

    def _record(self, operation: str, idempotency_key: str, outcome: CallOutcome) -> None:
        self._state.calls.append(RecordedCall(operation, idempotency_key, outcome))
