"""The request body size limit, for bodies that declare their length and for streamed ones."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from ipmarket.config import Settings
from tests.support import unique


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A JSON body of about `total` bytes, sent in chunks with no Content-Length."""
    name = unique()
    yield (
        f'{{"username": "{name}", "email": "{name}@example.com", "password": "x", '
        f'"userType": "buyer", "profileData": {{"x": "'
    ).encode()
    sent = 0
    while sent < total:
        yield b"y" * size
        sent += size
    yield b'"}}'


async def test_streamed_body_over_the_limit_is_413(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # given a client that streams a body twice the limit without a Content-Length
    request = client.build_request(
        "POST",
        "/v1/auth/register",
        content=_chunks(2 * settings.max_body_bytes),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    # when it is sent
    response = await client.send(request)
    # then it is refused as too large, in the envelope, like a declared oversized body
    assert response.status_code == 413
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert str(settings.max_body_bytes) in body["error"]["message"]
    assert body["error"]["details"] == {"maxBytes": settings.max_body_bytes}
    assert response.headers["x-request-id"]


async def test_streamed_body_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    # given a small body streamed without a Content-Length
    request = client.build_request(
        "POST",
        "/v1/auth/register",
        content=_chunks(1024, size=256),
        headers={"content-type": "application/json"},
    )
    # when it is sent, then it reaches validation (the password "x" is too weak): not a 413
    response = await client.send(request)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["field"] == "password"
