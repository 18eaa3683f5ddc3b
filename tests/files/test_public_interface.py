"""What other modules use: resolve_owned_files, file_hashes, file_id_from_url, signed_url."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from ipmarket.config import Settings
from ipmarket.files import file_hashes, file_id_from_url, resolve_owned_files
from ipmarket.kit.db import Database
from ipmarket.kit.errors import ValidationFailed
from tests.files.support import PDF, PNG, upload, verified_user
from tests.support import Account

BASE = "http://127.0.0.1:8000"


async def upload_two(
    client: httpx.AsyncClient, db: Database
) -> tuple[Account, list[dict[str, Any]]]:
    owner = await verified_user(client, db, "creator")
    files = []
    for content in (PNG, PDF):
        response = await upload(client, owner, content)
        assert response.status_code == 201, response.text
        files.append(response.json()["data"])
    return owner, files


async def test_own_files_resolve_in_order_in_one_query(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    # given a creator's two uploads
    owner, files = await upload_two(client, db)
    urls = [
        files[1]["url"],  # the signed content URL
        f"{BASE}/v1/files/{files[0]['id']}",  # the plain form
        f"/v1/files/{files[1]['id']}/content?expires=1&signature=stale",  # a path, old query
    ]
    # when another module resolves them for that creator
    counted: list[str] = []

    def count(*args: Any) -> None:
        counted.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.sessionmaker() as session:
            resolved = await resolve_owned_files(session, urls, owner.id, base_url=BASE)
            hashes = await file_hashes(session, [r.id for r in resolved])
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    # then they come back in the order given, with their hashes, one query each call
    assert [str(r.id) for r in resolved] == [files[1]["id"], files[0]["id"], files[1]["id"]]
    assert resolved[0].sha256 == files[1]["sha256"]
    assert hashes == {uuid.UUID(f["id"]): f["sha256"] for f in files}
    assert len(counted) == 2


async def test_another_users_files_and_foreign_urls_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner, files = await upload_two(client, db)
    thief = await verified_user(client, db, "secondary_creator")
    urls = [
        files[0]["url"],
        "https://evil.example/v1/files/" + files[0]["id"],
        f"{BASE}/v1/files/{uuid.uuid4()}",
        "not a url at all",
        f"{BASE}/v1/ip-assets/{files[0]['id']}",
    ]
    async with db.sessionmaker() as session:
        with pytest.raises(ValidationFailed) as refused:
            await resolve_owned_files(session, urls, thief.id, base_url=BASE, field="images")
        # the owner may use theirs, but still not the foreign or unknown ones
        with pytest.raises(ValidationFailed) as partly:
            await resolve_owned_files(session, urls, owner.id, base_url=BASE)
        assert await resolve_owned_files(session, [], owner.id, base_url=BASE) == []
    errors = refused.value.details["errors"]
    assert [(e["field"], e["type"]) for e in errors] == [
        ("images[0]", "not_your_file"),
        ("images[1]", "foreign_url"),
        ("images[2]", "not_your_file"),
        ("images[3]", "foreign_url"),
        ("images[4]", "foreign_url"),
    ]
    assert [e["field"] for e in partly.value.details["errors"]] == [
        "fileUrls[1]",
        "fileUrls[2]",
        "fileUrls[3]",
        "fileUrls[4]",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/v1/files/{id}", True),
        ("HTTP://127.0.0.1:8000/v1/files/{id}/content?expires=1#x", True),
        ("/v1/files/{id}", True),
        ("  /v1/files/{id}/content  ", True),
        ("https://127.0.0.1:8000/v1/files/{id}", False),  # another scheme
        ("http://127.0.0.1:9000/v1/files/{id}", False),  # another port
        ("//evil.example/v1/files/{id}", False),
        ("http://127.0.0.1:8000/v1/files/{id}/content/extra", False),
        ("http://127.0.0.1:8000/v1/files/{id}/other", False),
        ("http://127.0.0.1:8000/v2/files/{id}", False),
        ("http://127.0.0.1:8000/v1/files/", False),
        ("http://127.0.0.1:8000/v1/files/12345", False),
        ("http://[::1/v1/files/{id}", False),  # not parseable
    ],
)
def test_file_ids_are_read_only_from_our_urls(url: str, expected: bool) -> None:
    file_id = uuid.uuid4()
    found = file_id_from_url(url.replace("{id}", str(file_id)), base_url=BASE)
    assert found == (file_id if expected else None)


def test_a_base_url_with_a_path_prefix() -> None:
    file_id = uuid.uuid4()
    base = "https://market.example/api"
    assert file_id_from_url(f"{base}/v1/files/{file_id}", base_url=base) == file_id
    assert file_id_from_url(f"/api/v1/files/{file_id}", base_url=base + "/") == file_id
    assert file_id_from_url(f"https://market.example/v1/files/{file_id}", base_url=base) is None
