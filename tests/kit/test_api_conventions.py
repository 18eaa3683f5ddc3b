"""The envelope on every response, request ids, framework errors, health and OpenAPI."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from ipmarket.api import PUBLIC_ROUTES
from tests.support import register


async def test_unknown_route_and_wrong_method_use_the_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {
        "success": False,
        "data": None,
        "error": {"code": "NOT_FOUND", "message": "Not found", "details": {}},
        "pagination": None,
        "meta": None,
    }
    wrong = await client.delete("/v1/auth/login")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "VALIDATION_ERROR"
    assert wrong.headers["x-request-id"]


async def test_unhandled_error_is_a_500_envelope_without_internals(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def explode() -> None:
        raise RuntimeError("SELECT secret FROM vault")

    app.add_api_route("/v1/test-only/explode", explode)
    response = await client.get("/v1/test-only/explode", headers={"X-Request-ID": "trace-123"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "INTERNAL_ERROR",
        "message": "Internal server error",
        "details": {},
    }
    assert "vault" not in response.text
    assert response.headers["x-request-id"] == "trace-123"


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert (
        made.headers["x-request-id"] != "bad id with spaces"
        and len(made.headers["x-request-id"]) == 32
    )


async def test_json_is_camel_case(client: httpx.AsyncClient) -> None:
    account = await register(client, "secondary_creator")
    data = (await client.get("/v1/users/me", headers=account.auth)).json()["data"]
    assert "userType" in data and "user_type" not in data


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["data"] == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["data"]["database"] == "ok" and ready.json()["data"]["cache"] == "ok"


async def test_openapi_documents_every_response_with_the_envelope(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (method, path, code, ref)
            # Every guarded route tells clients how to authenticate.
            guarded = (method.upper(), path) not in PUBLIC_ROUTES
            if path.startswith("/v1/") and guarded and not operation.get("security"):
                raise AssertionError(f"{method} {path} declares no security")
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_text_the_database_cannot_store_is_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    account = await register(client, "buyer")
    body = await client.put(
        "/v1/users/me", headers=account.auth, json={"profileData": {"bio\u0000": "x"}}
    )
    assert body.status_code == 422
    assert body.json()["error"]["code"] == "VALIDATION_ERROR"
    nested = await client.put(
        "/v1/users/me", headers=account.auth, json={"profileData": {"a": ["ok", "nul\u0000"]}}
    )
    assert nested.status_code == 422
    # a NUL in a path token is never stored; such a token can match nothing
    path = await client.get("/v1/auth/verify-email/" + "a" * 20 + "%00" + "b" * 20)
    assert path.status_code == 404
    assert path.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "Verification token is invalid, used or expired",
        "details": {},
    }
