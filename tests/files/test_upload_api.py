"""POST /v1/files: who may upload, what is accepted, and that a refusal stores nothing."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from ipmarket.config import Settings
from ipmarket.kit.db import Database
from ipmarket.settings import update_platform_settings
from tests.files.support import PDF, PNG, file_rows, path_of, stored_blobs, upload, verified_user
from tests.support import create_admin, register


async def set_content_settings(db: Database, **content: Any) -> None:
    async with db.transaction() as session:
        await update_platform_settings(session, {"content": content}, updated_by=None)


def assert_refused(response: httpx.Response, status: int, kind: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    if kind is not None:
        assert body["error"]["details"]["errors"][0]["type"] == kind


async def assert_nothing_stored(db: Database, settings: Settings) -> None:
    assert await file_rows(db) == 0
    assert stored_blobs(settings) == []


@pytest.mark.parametrize("user_type", ["creator", "secondary_creator"])
async def test_a_creator_uploads_and_the_bytes_come_back_through_the_signed_url(
    client: httpx.AsyncClient, db: Database, user_type: str
) -> None:
    # given a verified creator and an image
    creator = await verified_user(client, db, user_type)
    content = PNG + b"\x00" * 5000
    # when they upload it
    response = await upload(client, creator, content, filename="portrait.png")
    # then it is stored with its hash and a signed URL
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert set(data) == {"id", "url", "contentType", "size", "sha256"}
    assert data["contentType"] == "image/png"
    assert data["size"] == len(content)
    assert data["sha256"] == hashlib.sha256(content).hexdigest()
    assert f"/v1/files/{data['id']}/content?expires=" in data["url"]
    # and anyone holding the URL gets the same bytes back
    served = await client.get(path_of(data["url"]))
    assert served.status_code == 200
    assert served.content == content
    assert hashlib.sha256(served.content).hexdigest() == data["sha256"]


async def test_the_type_comes_from_the_bytes_not_the_name(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    creator = await verified_user(client, db, "creator")
    # a PNG called .pdf and declared as a PDF is a PNG
    png = await upload(client, creator, PNG, filename="report.pdf", declared_type="application/pdf")
    assert png.status_code == 201, png.text
    assert png.json()["data"]["contentType"] == "image/png"
    # a PDF called .png is a PDF
    pdf = await upload(client, creator, PDF, filename="picture.png", declared_type="image/png")
    assert pdf.json()["data"]["contentType"] == "application/pdf"
    # text called .png is refused, and nothing more is stored
    before = await file_rows(db), len(stored_blobs(settings))
    text = await upload(
        client, creator, b"just some text\n" * 10, filename="a.png", declared_type="image/png"
    )
    assert_refused(text, 422, "unrecognised_type")
    assert (await file_rows(db), len(stored_blobs(settings))) == before


async def test_a_type_the_admin_no_longer_allows_is_refused(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    # given the admin narrowed uploads to PDFs
    creator = await verified_user(client, db, "creator")
    await set_content_settings(db, allowedFileTypes=["application/pdf"])
    # when an image is uploaded, then it is refused naming the type and what is allowed
    response = await upload(client, creator, PNG, filename="a.png")
    assert_refused(response, 422, "type_not_allowed")
    details = response.json()["error"]["details"]
    assert details["contentType"] == "image/png"
    assert details["allowedFileTypes"] == ["application/pdf"]
    await assert_nothing_stored(db, settings)
    # while a PDF still goes through
    assert (await upload(client, creator, PDF)).status_code == 201


async def test_a_file_larger_than_the_setting_is_refused(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    creator = await verified_user(client, db, "creator")
    await set_content_settings(db, maxFileSize=4096)
    # exactly the limit is fine
    exact = await upload(client, creator, PNG + b"\x00" * (4096 - len(PNG)))
    assert exact.status_code == 201, exact.text
    await exact_cleanup(client, db, settings)
    # one byte more is refused while streaming (the declared length is within the slack)
    over = await upload(client, creator, PNG + b"\x00" * (4097 - len(PNG)))
    assert_refused(over, 413, "too_large")
    assert over.json()["error"]["details"]["maxFileSize"] == 4096
    await assert_nothing_stored(db, settings)
    # far more is refused from the declared length, before the body is read
    huge = await upload(client, creator, PNG + b"\x00" * 200_000)
    assert_refused(huge, 413, "too_large")
    await assert_nothing_stored(db, settings)


async def exact_cleanup(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    """Forget the files stored so far, so the next step can check that nothing is added."""
    from sqlalchemy import delete

    from ipmarket.files import StoredFile

    async with db.transaction() as session:
        await session.execute(delete(StoredFile))
    for blob in stored_blobs(settings):
        blob.unlink()


async def test_an_empty_file_is_refused(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    creator = await verified_user(client, db, "creator")
    assert_refused(await upload(client, creator, b"", filename="empty.png"), 422, "empty")
    await assert_nothing_stored(db, settings)


async def test_the_file_field_is_required_and_alone(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    creator = await verified_user(client, db, "creator")
    # another field name
    wrong = await upload(client, creator, PNG, field="upload")
    assert_refused(wrong, 422, "extra_forbidden")
    # only another field
    other = await client.post(
        "/v1/files", data={"note": "hello"}, files={"file": (None, b"")}, headers=creator.auth
    )
    assert_refused(other, 422, "extra_forbidden")
    # no part at all
    empty_form = await client.post(
        "/v1/files",
        content=b"--b--\r\n",
        headers={**creator.auth, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_refused(empty_form, 422, "missing")
    assert empty_form.json()["error"]["details"]["errors"][0]["field"] == "file"
    # a plain text field named file
    text_field = await client.post(
        "/v1/files", files={"file": (None, b"not a file")}, headers=creator.auth
    )
    assert_refused(text_field, 422, "not_a_file")
    # a second part after the file
    extra = await client.post(
        "/v1/files",
        files=[("file", ("a.png", PNG, "image/png")), ("file", ("b.png", PNG, "image/png"))],
        headers=creator.auth,
    )
    assert_refused(extra, 422, "extra_forbidden")
    await assert_nothing_stored(db, settings)


async def test_a_body_that_is_not_multipart_is_a_400(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    creator = await verified_user(client, db, "creator")
    as_json = await client.post("/v1/files", json={"file": "x"}, headers=creator.auth)
    assert_refused(as_json, 400)
    as_form = await client.post("/v1/files", data={"file": "x"}, headers=creator.auth)
    assert_refused(as_form, 400)
    no_boundary = await client.post(
        "/v1/files",
        content=b"whatever",
        headers={**creator.auth, "Content-Type": "multipart/form-data"},
    )
    assert_refused(no_boundary, 400)
    truncated = await client.post(
        "/v1/files",
        content=(
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            + PNG
            + b"\x00" * 100
        ),
        headers={**creator.auth, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_refused(truncated, 400)
    await assert_nothing_stored(db, settings)


def multipart(filename: str, content: bytes, boundary: str = "frontier") -> bytes:
    return (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


async def in_pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_streamed_body_in_tiny_pieces_is_assembled(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a body sent chunked (no Content-Length) in 7-byte pieces, boundaries split
    creator = await verified_user(client, db, "creator")
    content = PDF * 40
    response = await client.post(
        "/v1/files",
        content=in_pieces(multipart("ünïcode/../../name.pdf", content), 7),
        headers={**creator.auth, "Content-Type": "multipart/form-data; boundary=frontier"},
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["sha256"] == hashlib.sha256(content).hexdigest()
    assert (await client.get(path_of(data["url"]))).content == content
    # the client's name is kept as a label only, without its path
    from ipmarket.files import StoredFile

    async with db.sessionmaker() as session:
        stored = await session.get(StoredFile, data["id"])
    assert stored is not None
    assert stored.original_filename == "name.pdf"
    assert "name" not in stored.storage_key


async def test_uploads_above_the_general_body_limit_are_accepted(
    client: httpx.AsyncClient, db: Database
) -> None:
    # MAX_BODY_BYTES (1 MiB) applies to JSON bodies; uploads have their own ceiling
    creator = await verified_user(client, db, "creator")
    content = PNG + b"\x01" * (3 * 1024 * 1024)
    response = await upload(client, creator, content)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["size"] == len(content)
    big_json = await client.put(
        "/v1/users/me", json={"profileData": {"x": "y" * 2_000_000}}, headers=creator.auth
    )
    assert big_json.status_code == 413


async def test_the_upload_ceiling_applies_whatever_the_settings(
    settings: Settings, db: Database
) -> None:
    # given MAX_UPLOAD_BYTES below the platform's maxFileSize
    from ipmarket.app import create_app

    small = settings.model_copy(update={"max_upload_bytes": 64 * 1024})
    app = create_app(small)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            creator = await verified_user(client, db, "creator")
            # declared too large
            declared = await upload(client, creator, PNG + b"\x00" * 100_000)
            assert_refused(declared, 413)
            assert declared.json()["error"]["details"]["maxBytes"] == 64 * 1024
            # streamed too large (no Content-Length)
            streamed = await client.post(
                "/v1/files",
                content=in_pieces(multipart("a.png", PNG + b"\x00" * 100_000), 8192),
                headers={**creator.auth, "Content-Type": "multipart/form-data; boundary=frontier"},
            )
            assert_refused(streamed, 413)
    await assert_nothing_stored(db, small)


async def test_who_may_upload(
    client: httpx.AsyncClient, db: Database, settings: Settings, app: FastAPI
) -> None:
    # anonymous callers must log in
    anonymous = await upload(client, None, PNG)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHORIZED"
    # buyers may not upload
    buyer = await verified_user(client, db, "buyer")
    refused = await upload(client, buyer, PNG)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    # creators must verify their email first
    unverified = await register(client, "creator")
    not_yet = await upload(client, unverified, PNG)
    assert not_yet.status_code == 403
    assert not_yet.json()["error"]["details"]["reason"] == "email_not_verified"
    await assert_nothing_stored(db, settings)
    # administrators may
    admin = await create_admin(client, db, level="super_admin")
    assert (await upload(client, admin, PNG)).status_code == 201


async def test_a_failed_database_write_removes_the_blob(
    client: httpx.AsyncClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the row cannot be written
    from ipmarket.files.service import FileService

    creator = await verified_user(client, db, "creator")

    async def broken(*_: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(FileService, "record", broken)
    # when a file is uploaded, then the request fails and the stored bytes are removed
    response = await upload(client, creator, PNG)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    await assert_nothing_stored(db, settings)


async def test_an_abandoned_upload_leaves_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    # given a client that sends part of a file and goes away
    creator = await verified_user(client, db, "creator")
    body = multipart("a.png", PNG + b"\x00" * 10_000)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:3000], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/files",
        "raw_path": b"/v1/files",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {creator.token}".encode()),
            (b"content-type", b"multipart/form-data; boundary=frontier"),
        ],
        "client": ("203.0.113.7", 5555),
        "server": ("testserver", 80),
    }
    # when the server notices, then it answers as for a bad body (not a server error)
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert b"interrupted" in sent[1]["body"]
    # and nothing is kept
    await assert_nothing_stored(db, settings)
