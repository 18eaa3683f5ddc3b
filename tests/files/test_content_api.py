"""GET /v1/files/{id}/content through signed URLs, and GET /v1/files/{id} for its owner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from ipmarket.config import Settings
from ipmarket.files import signed_url
from ipmarket.files.signing import EXPIRY_STEP
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from tests.files.support import PDF, PNG, path_of, stored_blobs, upload, verified_user
from tests.support import Account, create_admin


async def uploaded(
    client: httpx.AsyncClient, db: Database, content: bytes = PNG
) -> tuple[Account, dict[str, str]]:
    owner = await verified_user(client, db, "creator")
    response = await upload(client, owner, content)
    assert response.status_code == 201, response.text
    return owner, response.json()["data"]


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "FORBIDDEN"


async def test_content_is_served_with_safe_headers(client: httpx.AsyncClient, db: Database) -> None:
    # given an uploaded PDF
    _, data = await uploaded(client, db, PDF)
    # when its signed URL is fetched without any login
    response = await client.get(path_of(data["url"]))
    # then the bytes come with the stored type and headers that keep browsers safe
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(PDF))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == "inline"
    assert response.headers["etag"] == f'"{data["sha256"]}"'
    cache_control = response.headers["cache-control"]
    assert cache_control.startswith("private, max-age=")
    max_age = int(cache_control.split("=")[1])
    assert 3600 - 5 <= max_age <= 3600 + EXPIRY_STEP


async def test_byte_ranges_are_served(client: httpx.AsyncClient, db: Database) -> None:
    _, data = await uploaded(client, db, PDF)
    response = await client.get(path_of(data["url"]), headers={"Range": "bytes=0-3"})
    assert response.status_code == 206
    assert response.content == PDF[:4]


async def test_a_tampered_url_is_forbidden(client: httpx.AsyncClient, db: Database) -> None:
    _, data = await uploaded(client, db)
    _, other = await uploaded(client, db, PDF)
    parts = urlsplit(data["url"])
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    flipped = ("0" if params["signature"][0] != "0" else "1") + params["signature"][1:]
    later = int(params["expires"]) + 86_400
    base = parts.path
    for url in (
        f"{base}?expires={params['expires']}&signature={flipped}",
        f"{base}?expires={later}&signature={params['signature']}",
        f"{base}?expires={params['expires']}",
        f"{base}?signature={params['signature']}",
        base,
        f"{base}?expires=soon&signature={params['signature']}",
        # another file's valid signature does not open this one
        f"{base}?{urlsplit(other['url']).query}",
    ):
        assert_forbidden(await client.get(url))


async def test_an_expired_url_is_forbidden(client: httpx.AsyncClient, db: Database) -> None:
    # given a URL made at a known time
    clock.freeze(datetime.now(UTC).replace(microsecond=0))
    _, data = await uploaded(client, db)
    expires = int(parse_qs(urlsplit(data["url"]).query)["expires"][0])
    # when the clock reaches its expiry it still works; one second later it does not
    clock.freeze(datetime.fromtimestamp(expires, UTC))
    assert (await client.get(path_of(data["url"]))).status_code == 200
    clock.advance(timedelta(seconds=1))
    assert_forbidden(await client.get(path_of(data["url"])))


async def test_an_unknown_file_is_404_but_only_with_a_valid_signature(
    client: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    missing = uuid.uuid4()
    valid = signed_url(missing, settings=settings, now=clock.now())
    response = await client.get(path_of(valid))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    # without a valid signature the answer does not reveal whether the id exists
    assert_forbidden(await client.get(f"/v1/files/{missing}/content?expires=1&signature=00"))
    # a malformed id is a validation error
    assert (await client.get("/v1/files/not-a-uuid/content")).status_code == 422


async def test_a_lost_blob_is_404_not_500(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _, data = await uploaded(client, db)
    for blob in stored_blobs(settings):
        blob.unlink()
    response = await client.get(path_of(data["url"]))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_the_owner_and_admins_read_the_details_with_a_fresh_url(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner, data = await uploaded(client, db)
    # the owner
    mine = await client.get(f"/v1/files/{data['id']}", headers=owner.auth)
    assert mine.status_code == 200, mine.text
    details = mine.json()["data"]
    assert {k: details[k] for k in ("id", "contentType", "size", "sha256")} == {
        k: data[k] for k in ("id", "contentType", "size", "sha256")
    }
    assert (await client.get(path_of(details["url"]))).content == PNG
    # an administrator
    admin = await create_admin(client, db, level="moderator")
    assert (await client.get(f"/v1/files/{data['id']}", headers=admin.auth)).status_code == 200
    # anyone else is told there is no such file
    stranger = await verified_user(client, db, "creator")
    other = await client.get(f"/v1/files/{data['id']}", headers=stranger.auth)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND"
    unknown = await client.get(f"/v1/files/{uuid.uuid4()}", headers=owner.auth)
    assert unknown.status_code == 404
    # and an anonymous caller must log in
    assert (await client.get(f"/v1/files/{data['id']}")).status_code == 401
