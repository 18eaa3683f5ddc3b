"""A local stand-in for the Stripe endpoints the adapter calls, speaking Stripe's wire format.

Requests are form-encoded with bracketed keys (`metadata[order]=x`, `list[0]=card`); responses
are JSON objects with `object` and `id`; errors use Stripe's envelope and status codes (402
for card errors, 400 for invalid requests and idempotency errors, 401 for a bad key). It
checks `Authorization: Bearer <key>`, records every request with its `Idempotency-Key` and
`Stripe-Account` headers, and replays the first response for a repeated key (with
`Idempotent-Replayed: true`), as Stripe does.

Served by uvicorn in a thread on 127.0.0.1 at a free port (`serve_in_thread`).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Json = dict[str, Any]
_ID = r"(?P<object_id>[^/]+)"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: Json
    idempotency_key: str | None
    stripe_account: str | None
    status_code: int
    replayed: bool


class StripeFailure(Exception):
    def __init__(self, status: int, error: Json) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def _invalid(message: str, *, code: str | None = None, param: str | None = None) -> StripeFailure:
    error: Json = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return StripeFailure(400, error)


# Test payment methods: the declines Stripe returns for them.
DECLINES: dict[str, tuple[str, str, str]] = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
}
SUCCEEDING = {"pm_card_visa", "pm_card_mastercard"}
REQUIRES_3DS = "pm_card_authenticationRequired"


def unflatten(pairs: list[tuple[str, str]]) -> Json:
    """Decode Stripe's bracketed form keys into nested dicts (list indices stay dict keys)."""
    result: Json = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


class StripeStandIn:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.objects: dict[str, Json] = {}
        self._saved: dict[str, tuple[tuple[object, ...], int, Json]] = {}
        self._failures: list[int] = []
        self._refunded: dict[str, int] = {}
        self._counter = 0
        self.app = Starlette(
            routes=[Route("/v1/{rest:path}", self._endpoint, methods=["GET", "POST"])]
        )
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Json]]] = [
            ("POST", re.compile(r"/v1/payment_intents"), self._create_intent),
            ("GET", re.compile(rf"/v1/payment_intents/{_ID}"), self._retrieve_intent),
            ("POST", re.compile(rf"/v1/payment_intents/{_ID}/confirm"), self._confirm),
            ("POST", re.compile(rf"/v1/payment_intents/{_ID}/capture"), self._capture),
            ("POST", re.compile(rf"/v1/payment_intents/{_ID}/cancel"), self._cancel),
            ("POST", re.compile(r"/v1/refunds"), self._refund),
            ("POST", re.compile(r"/v1/transfers"), self._transfer),
            ("POST", re.compile(rf"/v1/transfers/{_ID}/reversals"), self._reversal),
            ("POST", re.compile(r"/v1/payouts"), self._payout),
            ("POST", re.compile(r"/v1/accounts"), self._create_account),
        ]

    # --- test controls -----------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.objects.clear()
            self._saved.clear()
            self._failures.clear()
            self._refunded.clear()

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with `status` before doing anything (like a
        load balancer's 503): nothing is executed or saved under their idempotency keys."""
        with self._lock:
            self._failures.extend([status] * times)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # --- HTTP --------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        pairs = parse_qsl(body, keep_blank_values=True)
        if request.method == "GET":
            pairs = parse_qsl(request.url.query, keep_blank_values=True)
        key = request.headers.get("idempotency-key")
        account = request.headers.get("stripe-account")
        method, path = request.method, request.url.path
        with self._lock:
            status, payload, replayed = self._handle(request, method, path, pairs, key, account)
            self.requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    params=unflatten(pairs),
                    idempotency_key=key,
                    stripe_account=account,
                    status_code=status,
                    replayed=replayed,
                )
            )
        headers = {"Request-Id": f"req_standin_{len(self.requests)}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(payload, status_code=status, headers=headers)

    def _handle(
        self,
        request: Request,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        key: str | None,
        account: str | None,
    ) -> tuple[int, Json, bool]:
        presented = request.headers.get("authorization", "")
        if presented != f"Bearer {self.api_key}":
            # Real Stripe masks the key; this stand-in echoes it to prove the adapter never
            # passes it on.
            message = f"Invalid API Key provided: {presented.removeprefix('Bearer ')}"
            return 401, {"error": {"type": "invalid_request_error", "message": message}}, False
        if self._failures:
            status = self._failures.pop(0)
            return status, {"error": {"type": "api_error", "message": "try again"}}, False

        fingerprint = (method, path, tuple(sorted(pairs)), account)
        if method == "POST" and key is not None and key in self._saved:
            saved_fingerprint, status, payload = self._saved[key]
            if saved_fingerprint != fingerprint:
                error = {
                    "type": "idempotency_error",
                    "message": (
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request."
                    ),
                }
                return 400, {"error": error}, False
            return status, payload, True

        status, payload = self._dispatch(method, path, unflatten(pairs), account)
        if method == "POST" and key is not None:
            self._saved[key] = (fingerprint, status, payload)
        return status, payload, False

    def _dispatch(
        self, method: str, path: str, params: Json, account: str | None
    ) -> tuple[int, Json]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                try:
                    return 200, handler(params, account=account, **match.groupdict())
                except StripeFailure as failure:
                    return failure.status, {"error": failure.error}
        return 404, {"error": {"type": "invalid_request_error", "message": "Unrecognized URL"}}

    # --- objects -----------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_standin{self._counter:06d}"

    def _get(self, object_id: str, kind: str) -> Json:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeFailure(
                404,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such {kind}: '{object_id}'",
                },
            )
        return obj

    @staticmethod
    def _amount(params: Json) -> int:
        try:
            amount = int(params["amount"])
        except KeyError:
            raise _invalid("Missing required param: amount.", code="parameter_missing") from None
        if amount < 1:
            raise _invalid("Amount must be positive.", code="amount_too_small", param="amount")
        return amount

    def _create_intent(self, params: Json, **_: Any) -> Json:
        intent: Json = {
            "id": self._new_id("pi"),
            "object": "payment_intent",
            "amount": self._amount(params),
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": params["currency"],
            "capture_method": params.get("capture_method", "automatic_async"),
            "metadata": params.get("metadata", {}),
            "transfer_group": params.get("transfer_group"),
            "payment_method": None,
            "latest_charge": None,
            "last_payment_error": None,
            "status": "requires_payment_method",
            "livemode": False,
        }
        self.objects[intent["id"]] = intent
        return dict(intent)

    def _retrieve_intent(self, params: Json, *, object_id: str, **_: Any) -> Json:
        return dict(self._get(object_id, "payment_intent"))

    def _confirm(self, params: Json, *, object_id: str, **_: Any) -> Json:
        intent = self._get(object_id, "payment_intent")
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise _invalid(
                f"This PaymentIntent's status is {intent['status']}.",
                code="payment_intent_unexpected_state",
            )
        method = params.get("payment_method", "")
        if method in DECLINES:
            code, decline_code, message = DECLINES[method]
            error = {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "payment_intent": dict(intent),
            }
            intent["last_payment_error"] = {k: error[k] for k in ("type", "code", "message")}
            raise StripeFailure(402, error)
        if method == REQUIRES_3DS:
            if params.get("error_on_requires_action") == "true":
                raise StripeFailure(
                    402,
                    {
                        "type": "card_error",
                        "code": "authentication_required",
                        "decline_code": "authentication_required",
                        "message": "Your card was declined. This transaction requires "
                        "authentication.",
                    },
                )
            intent["status"] = "requires_action"
            return dict(intent)
        if method not in SUCCEEDING:
            raise _invalid(
                f"No such PaymentMethod: '{method}'",
                code="resource_missing",
                param="payment_method",
            )
        intent["payment_method"] = method
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
        else:
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
        intent["latest_charge"] = self._new_id("ch")
        return dict(intent)

    def _capture(self, params: Json, *, object_id: str, **_: Any) -> Json:
        intent = self._get(object_id, "payment_intent")
        if intent["status"] != "requires_capture":
            raise _invalid(
                f"This PaymentIntent could not be captured because it has a status of "
                f"{intent['status']}.",
                code="payment_intent_unexpected_state",
            )
        intent.update(status="succeeded", amount_received=intent["amount"], amount_capturable=0)
        return dict(intent)

    def _cancel(self, params: Json, *, object_id: str, **_: Any) -> Json:
        intent = self._get(object_id, "payment_intent")
        if intent["status"] in ("succeeded", "canceled"):
            raise _invalid(
                f"You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}.",
                code="payment_intent_unexpected_state",
            )
        intent.update(status="canceled", amount_capturable=0)
        return dict(intent)

    def _refund(self, params: Json, **_: Any) -> Json:
        intent = self._get(params.get("payment_intent", ""), "payment_intent")
        amount = self._amount(params)
        refunded = self._refunded.get(intent["id"], 0)
        if intent["status"] != "succeeded":
            raise _invalid("This PaymentIntent has no successful charge to refund.")
        if amount > intent["amount_received"] - refunded:
            raise _invalid(
                f"Refund amount ({amount}) is greater than the unrefunded amount "
                f"({intent['amount_received'] - refunded}).",
                code="amount_too_large",
                param="amount",
            )
        self._refunded[intent["id"]] = refunded + amount
        refund: Json = {
            "id": self._new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
        }
        self.objects[refund["id"]] = refund
        return dict(refund)

    def _transfer(self, params: Json, **_: Any) -> Json:
        if not params.get("destination", "").startswith("acct_"):
            raise _invalid("No such destination.", param="destination")
        transfer: Json = {
            "id": self._new_id("tr"),
            "object": "transfer",
            "amount": self._amount(params),
            "amount_reversed": 0,
            "currency": params["currency"],
            "destination": params["destination"],
            "transfer_group": params.get("transfer_group"),
            "source_transaction": params.get("source_transaction"),
            "reversed": False,
        }
        self.objects[transfer["id"]] = transfer
        return dict(transfer)

    def _reversal(self, params: Json, *, object_id: str, **_: Any) -> Json:
        transfer = self._get(object_id, "transfer")
        amount = self._amount(params)
        if amount > transfer["amount"] - transfer["amount_reversed"]:
            raise _invalid("Reversal amount is greater than the transfer's.", param="amount")
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        reversal: Json = {
            "id": self._new_id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "currency": transfer["currency"],
            "transfer": object_id,
        }
        self.objects[reversal["id"]] = reversal
        return dict(reversal)

    def _payout(self, params: Json, *, account: str | None, **_: Any) -> Json:
        if account is None or not account.startswith("acct_"):
            # What Stripe answers for a Stripe-Account the platform does not control.
            raise StripeFailure(
                403,
                {
                    "type": "invalid_request_error",
                    "message": f"The provided key does not have access to account '{account}'.",
                },
            )
        payout: Json = {
            "id": self._new_id("po"),
            "object": "payout",
            "amount": self._amount(params),
            "currency": params["currency"],
            "status": "pending",
            "destination": None,
        }
        self.objects[payout["id"]] = payout
        return dict(payout)

    def _create_account(self, params: Json, **_: Any) -> Json:
        if params.get("type") not in ("express", "standard", "custom"):
            raise _invalid("Invalid account type.", param="type")
        capabilities = {
            name: "inactive" if requested.get("requested") == "true" else "unrequested"
            for name, requested in params.get("capabilities", {}).items()
        }
        account: Json = {
            "id": self._new_id("acct"),
            "object": "account",
            "type": params["type"],
            "email": params.get("email"),
            "metadata": params.get("metadata", {}),
            "capabilities": capabilities,
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
        }
        self.objects[account["id"]] = account
        return dict(account)


@contextmanager
def serve_in_thread(app: Starlette) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on 127.0.0.1 at a free port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", loop="asyncio", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Stripe stand-in did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
