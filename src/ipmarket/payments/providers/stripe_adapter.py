"""The Stripe adapter, on the official `stripe` SDK's async calls.

Separate charges and transfers (Stripe Connect): the buyer pays the platform through a
PaymentIntent (manual capture for license fees), each seller's and licensor's share goes to
their connected account as a Transfer in the order's transfer group, refunds are followed by
transfer reversals, and payouts are made on the connected account (`Stripe-Account`).
Connected accounts are Express accounts (`create_account`), opened when a user first needs one.

Every mutating call sends the caller's idempotency key, which the SDK reuses on its own
retries (connection errors, 409 and 5xx), so a retried call never moves money twice.

Card errors become `PaymentDeclined` (Stripe's code and decline code). A request Stripe
refuses for good (400/404 invalid request, 403 permission) becomes `ProviderRejected`; every
other error (connection, 5xx, 429, a bad API key, an idempotency conflict: the outcome is
unknown or the fault is ours) a plain `ProviderError`. Both carry a message that names the
operation, Stripe's error class, HTTP status, code and request id, with anything that looks
like a secret key removed.

Currencies are upper case at the port (`USD`) and lower case on the wire, as Stripe wants.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import stripe
from stripe.params import (
    AccountCreateParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    PayoutCreateParams,
    RefundCreateParams,
    TransferCreateParams,
    TransferReversalCreateParams,
)

from ipmarket.payments.providers.base import (
    Intent,
    IntentStatus,
    PaymentDeclined,
    ProviderError,
    ProviderRejected,
)

T = TypeVar("T")

DEFAULT_MAX_NETWORK_RETRIES = 2
DEFAULT_TIMEOUT_SECONDS = 30.0

INVALID_PAYMENT_METHOD = "invalid_payment_method"

# Stripe's statuses in which no money has been taken yet and the intent can be confirmed.
_OPEN_STATUSES = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})
_STATUSES = {
    "requires_capture": IntentStatus.REQUIRES_CAPTURE,
    "succeeded": IntentStatus.SUCCEEDED,
    "canceled": IntentStatus.CANCELED,
} | dict.fromkeys(_OPEN_STATUSES, IntentStatus.REQUIRES_PAYMENT_METHOD)

# Secret and restricted keys, and webhook secrets, wherever they might appear in a message.
_SECRET_PATTERN = re.compile(r"\b(?:sk|rk|whsec)_[A-Za-z0-9_]+")


# Intents whose charge is remembered (see StripeProvider._charge_of).
CHARGES_REMEMBERED = 1024


class StripeProvider:
    """The PaymentProvider port on Stripe.

    `api_base` points the SDK at another host (a local stand-in in tests). The SDK's HTTP
    client (httpx) holds connections bound to an event loop, so one is kept per running loop;
    `aclose()` closes the current loop's.
    """

    name: str = "stripe"

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        max_network_retries: int = DEFAULT_MAX_NETWORK_RETRIES,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not api_key:
            raise ValueError("a Stripe secret key is required")
        if max_network_retries < 0:
            raise ValueError("max_network_retries must be >= 0")
        self._api_key = api_key
        self._api_base = api_base.rstrip("/") if api_base else None
        self._max_network_retries = max_network_retries
        self._timeout_seconds = timeout_seconds
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[stripe.StripeClient, stripe.HTTPXClient]
        ] = weakref.WeakKeyDictionary()
        # The charge of each recently paid intent: an order's transfers (one per recipient)
        # all name it, and a paid intent's charge never changes.
        self._charges: OrderedDict[str, str] = OrderedDict()

    def __repr__(self) -> str:
        return f"StripeProvider(api_base={self._api_base!r})"

    @property
    def test_mode(self) -> bool:
        """Whether the key is a test-mode key, under which Stripe's test cards pay."""
        return self._api_key.startswith(("sk_test_", "rk_test_"))

    async def aclose(self) -> None:
        """Close the HTTP connections of the running event loop's client."""
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].close_async()  # type: ignore[no-untyped-call]

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
        params: PaymentIntentCreateParams = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "capture_method": capture,
            # Cards only: confirmed on the server, with no redirect to come back from.
            "allowed_payment_method_types": ["card"],
            "metadata": dict(metadata),
        }
        if transfer_group is not None:
            params["transfer_group"] = transfer_group
        client = self._client()
        intent = await self._call(
            "create a PaymentIntent",
            lambda: client.v1.payment_intents.create_async(params, self._options(idempotency_key)),
        )
        return _to_intent(intent)

    async def confirm_intent(
        self, intent_id: str, *, payment_method: str, idempotency_key: str
    ) -> Intent:
        params: PaymentIntentConfirmParams = {
            "payment_method": payment_method,
            # A card that asks for 3-D Secure fails here (authentication_required) rather
            # than waiting for a customer who is not at the keyboard.
            "error_on_requires_action": True,
        }
        client = self._client()
        intent = await self._call(
            "confirm a PaymentIntent",
            lambda: client.v1.payment_intents.confirm_async(
                intent_id, params, self._options(idempotency_key)
            ),
            payment_method_given=True,
        )
        if intent.status in _OPEN_STATUSES:
            # Not expected with error_on_requires_action, but never report an unpaid intent
            # as anything but unpaid.
            error: stripe.PaymentIntent.LastPaymentError | None = getattr(
                intent, "last_payment_error", None
            )
            raise PaymentDeclined(
                self._redact(error.message if error and error.message else "The payment failed."),
                code=error.code if error else None,
                decline_code=error.decline_code if error else None,
            )
        return _to_intent(intent)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        client = self._client()
        intent = await self._call(
            "retrieve a PaymentIntent",
            lambda: client.v1.payment_intents.retrieve_async(intent_id, None, self._options()),
        )
        return _to_intent(intent)

    async def capture(self, intent_id: str, *, idempotency_key: str) -> Intent:
        client = self._client()
        intent = await self._call(
            "capture a PaymentIntent",
            lambda: client.v1.payment_intents.capture_async(
                intent_id, None, self._options(idempotency_key)
            ),
        )
        return _to_intent(intent)

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        client = self._client()
        intent = await self._call(
            "cancel a PaymentIntent",
            lambda: client.v1.payment_intents.cancel_async(
                intent_id, None, self._options(idempotency_key)
            ),
        )
        return _to_intent(intent)

    async def refund(self, intent_id: str, *, amount_minor: int, idempotency_key: str) -> str:
        params: RefundCreateParams = {"payment_intent": intent_id, "amount": amount_minor}
        client = self._client()
        refund = await self._call(
            "create a refund",
            lambda: client.v1.refunds.create_async(params, self._options(idempotency_key)),
        )
        if refund.status in ("failed", "canceled"):
            # Final: retrying under the same key would only replay this refund.
            raise ProviderRejected(f"Stripe refund {refund.id} ended {refund.status}")
        return refund.id

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
        params: TransferCreateParams = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "destination": destination,
            "transfer_group": transfer_group,
        }
        client = self._client()
        if source_payment is not None:
            # Tied to the buyer's charge, the transfer goes at once, not when the charge's
            # funds become available to the platform (days later).
            charge = await self._charge_of(source_payment)
            if charge is not None:
                params["source_transaction"] = charge
        transfer = await self._call(
            "create a transfer",
            lambda: client.v1.transfers.create_async(params, self._options(idempotency_key)),
        )
        return transfer.id

    async def _charge_of(self, intent_id: str) -> str | None:
        """The charge that paid an intent (None while it has none)."""
        if intent_id in self._charges:
            self._charges.move_to_end(intent_id)
            return self._charges[intent_id]
        client = self._client()
        intent = await self._call(
            "retrieve a PaymentIntent",
            lambda: client.v1.payment_intents.retrieve_async(intent_id, None, self._options()),
        )
        charge = intent.latest_charge
        if charge is None:
            return None
        charge_id = charge if isinstance(charge, str) else charge.id
        self._charges[intent_id] = charge_id
        if len(self._charges) > CHARGES_REMEMBERED:
            self._charges.popitem(last=False)
        return charge_id

    async def reverse_transfer(
        self, transfer_id: str, *, amount_minor: int, idempotency_key: str
    ) -> str:
        params: TransferReversalCreateParams = {"amount": amount_minor}
        client = self._client()
        reversal = await self._call(
            "reverse a transfer",
            lambda: client.v1.transfers.reversals.create_async(
                transfer_id, params, self._options(idempotency_key)
            ),
        )
        return reversal.id

    async def payout(
        self, *, destination: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> str:
        params: PayoutCreateParams = {"amount": amount_minor, "currency": currency.lower()}
        options = self._options(idempotency_key)
        options["stripe_account"] = destination  # paid out of the connected account's balance
        client = self._client()
        payout = await self._call(
            "create a payout", lambda: client.v1.payouts.create_async(params, options)
        )
        return payout.id

    async def create_account(self, *, user_id: str, email: str | None, idempotency_key: str) -> str:
        # Separate charges and transfers: the account only needs to receive transfers; Stripe
        # hosts its onboarding (Express). Payouts to the user's bank are manual: the platform
        # makes them (`payout`) once earnings are out of their hold and above the minimum,
        # so Stripe must not pay transferred money out on its own schedule.
        params: AccountCreateParams = {
            "type": "express",
            "capabilities": {"transfers": {"requested": True}},
            "settings": {"payouts": {"schedule": {"interval": "manual"}}},
            "metadata": {"user_id": user_id},
        }
        if email:
            params["email"] = email
        client = self._client()
        account = await self._call(
            "create a connected account",
            lambda: client.v1.accounts.create_async(params, self._options(idempotency_key)),
        )
        return account.id

    # --- internals ---------------------------------------------------------------------------

    def _client(self) -> stripe.StripeClient:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            http_client = stripe.HTTPXClient(timeout=self._timeout_seconds)
            client = stripe.StripeClient(
                self._api_key,
                base_addresses={"api": self._api_base} if self._api_base else {},
                max_network_retries=self._max_network_retries,
                http_client=http_client,
            )
            entry = (client, http_client)
            self._clients[loop] = entry
        return entry[0]

    @staticmethod
    def _options(idempotency_key: str | None = None) -> stripe.RequestOptions:
        if idempotency_key is None:
            return {}
        if not idempotency_key:
            raise ProviderError("an idempotency key is required")
        return {"idempotency_key": idempotency_key}

    async def _call(
        self,
        operation: str,
        request: Callable[[], Awaitable[T]],
        *,
        payment_method_given: bool = False,
    ) -> T:
        """Make one SDK call, translating its errors into the port's."""
        try:
            return await request()
        except stripe.CardError as err:
            error = err.error
            raise PaymentDeclined(
                self._redact(err.user_message or "Your card was declined."),
                code=err.code,
                decline_code=error.decline_code if error is not None else None,
            ) from None
        except stripe.InvalidRequestError as err:
            if payment_method_given and err.param == "payment_method":
                # An unknown or unusable payment method is the payer's problem, like a decline.
                raise PaymentDeclined(
                    self._redact(err.user_message or "Invalid payment method."),
                    code=INVALID_PAYMENT_METHOD,
                ) from None
            raise ProviderRejected(self._describe(operation, err)) from None
        except stripe.PermissionError as err:
            raise ProviderRejected(self._describe(operation, err)) from None
        except stripe.StripeError as err:
            raise ProviderError(self._describe(operation, err)) from None

    def _describe(self, operation: str, err: stripe.StripeError) -> str:
        facts = [type(err).__name__]
        if err.http_status is not None:
            facts.append(f"HTTP {err.http_status}")
        if err.code:
            facts.append(f"code {err.code}")
        if err.request_id:
            facts.append(f"request {err.request_id}")
        message = err.user_message or "no message"
        return self._redact(f"Stripe could not {operation} ({', '.join(facts)}): {message}")

    def _redact(self, text: str) -> str:
        return _safe(text.replace(self._api_key, "[redacted]"))


def _safe(text: str) -> str:
    return _SECRET_PATTERN.sub("[redacted]", text)


def _to_intent(intent: stripe.PaymentIntent) -> Intent:
    status = _STATUSES.get(intent.status)
    if status is None:
        # `processing`: not a card outcome we wait for; the webhook will tell.
        raise ProviderError(
            f"PaymentIntent {intent.id} is {intent.status}; its outcome is not known yet"
        )
    metadata = intent.metadata.to_dict() if intent.metadata is not None else {}
    method = intent.payment_method
    return Intent(
        id=intent.id,
        status=status,
        amount_minor=intent.amount,
        currency=intent.currency.upper(),
        amount_captured_minor=intent.amount_received or 0,
        metadata={str(key): str(value) for key, value in metadata.items()},
        payment_method=method if isinstance(method, str) or method is None else method.id,
    )
