"""LocalStorage: whole blobs or none, server-made keys only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ipmarket.config import Settings
from ipmarket.files import LocalStorage, Storage, make_storage
from ipmarket.files.storage import InvalidStorageKey, new_key


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def failing_after(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise RuntimeError("the client went away")


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_keys_are_made_by_the_server_and_fanned_out() -> None:
    key = new_key()
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}", key)
    assert key.split("/")[2].startswith(key[:2] + key[3:5])
    assert new_key() != key


async def test_saved_bytes_read_back_whole(tmp_path: Path) -> None:
    # given a local storage
    storage = LocalStorage(tmp_path / "files")
    key = new_key()
    payload = [bytes([n]) * 700_000 for n in range(3)]  # larger than the write buffer
    # when a stream is saved
    written = await storage.save(key, chunks(*payload))
    # then it reads back byte for byte, also as a local file, and nothing else is left
    assert written == sum(len(p) for p in payload)
    assert b"".join([c async for c in storage.read(key)]) == b"".join(payload)
    path = storage.local_path(key)
    assert path is not None and path.read_bytes() == b"".join(payload)
    assert await storage.exists(key)
    assert files_under(tmp_path) == [path]


async def test_a_failed_stream_leaves_nothing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    key = new_key()
    with pytest.raises(RuntimeError, match="went away"):
        await storage.save(key, failing_after(b"partial", b"data"))
    assert not await storage.exists(key)
    assert files_under(tmp_path) == []


async def test_delete_is_idempotent(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    key = new_key()
    await storage.save(key, chunks(b"x"))
    await storage.delete(key)
    await storage.delete(key)
    assert not await storage.exists(key)
    with pytest.raises(FileNotFoundError):
        _ = [c async for c in storage.read(key)]


@pytest.mark.parametrize(
    "key",
    [
        "../outside",
        "ab/../../etc/passwd",
        "/absolute/path",
        "ab//cd",
        "ab/.hidden",
        "ab\\cd",
        "",
        "ab/cd/",
        "a" * 300,
    ],
)
async def test_keys_that_could_escape_the_root_are_refused(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "files")
    with pytest.raises(InvalidStorageKey):
        await storage.save(key, chunks(b"x"))
    with pytest.raises(InvalidStorageKey):
        storage.local_path(key)
    assert files_under(tmp_path) == []


def test_make_storage_uses_var_dir(settings: Settings) -> None:
    storage = make_storage(settings)
    assert isinstance(storage, LocalStorage)
    assert isinstance(storage, Storage)
    assert storage.root == Path(settings.var_dir) / "files"
