"""Access tokens: signature, algorithm, expiry and JWKS."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from ipmarket.kit.clock import clock
from tests.support import register


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_token_claims_follow_the_seed_payload(client: httpx.AsyncClient) -> None:
    account = await register(client, "secondary_creator")
    claims = jwt.decode(account.token, options={"verify_signature": False})
    assert claims["userId"] == str(account.id)
    assert claims["username"] == account.username
    assert claims["userType"] == "secondary_creator"
    assert claims["verificationLevel"] == "unverified"
    assert set(claims["permissions"]) == {"apply_license", "create_products", "manage_inventory"}
    assert claims["exp"] - claims["iat"] <= 900
    assert jwt.get_unverified_header(account.token)["alg"] == "EdDSA"


async def test_jwks_verifies_issued_tokens(client: httpx.AsyncClient) -> None:
    account = await register(client, "buyer")
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and "d" not in key
    public = jwt.PyJWK(key).key
    claims = jwt.decode(account.token, public, algorithms=["EdDSA"])
    assert claims["sub"] == str(account.id)


async def test_tampered_tokens_are_refused(client: httpx.AsyncClient) -> None:
    account = await register(client, "buyer")
    header, payload, signature = account.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))

    elevated = {**claims, "permissions": ["*"], "userType": "admin"}
    forged_payload = f"{header}.{_b64(elevated)}.{signature}"
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    jwks_key = (await client.get("/.well-known/jwks.json")).json()["keys"][0]
    # HS256 "signed" with the public key, the classic algorithm-confusion attack
    hs256 = jwt.encode(
        claims,
        base64.urlsafe_b64decode(jwks_key["x"] + "=="),
        algorithm="HS256",
        headers={"kid": jwks_key["kid"]},
    )
    other_key = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": jwks_key["kid"]}
    )

    for token in (forged_payload, alg_none, hs256, other_key, "not-a-jwt", ""):
        response = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    no_header = await client.get("/v1/users/me")
    assert no_header.status_code == 401


async def test_expired_token_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await register(client, "buyer")
    assert (await client.get("/v1/users/me", headers=account.auth)).status_code == 200
    clock.freeze(clock.now() + timedelta(seconds=app.state.signer.ttl_seconds + 1))
    response = await client.get("/v1/users/me", headers=account.auth)
    assert response.status_code == 401
