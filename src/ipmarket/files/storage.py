"""The storage port: where uploaded bytes live, under keys the server makes.

`Storage` is what the rest of the module uses; `LocalStorage` keeps blobs on local disk
(`VAR_DIR/files` by default). An object-store adapter (S3) implements the same protocol and is
chosen by `make_storage` from the settings; `local_path` lets the HTTP layer hand a local file
to the server (with Range support) and fall back to streaming `read` for any other backend.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable

import anyio
import anyio.to_thread

from ipmarket.config import Settings
from ipmarket.kit.ids import new_id

READ_CHUNK = 64 * 1024
# Incoming chunks are small (a network read each); gather them before each disk write.
_WRITE_BUFFER = 1024 * 1024

# A key is a relative path of plain segments: no "..", no hidden names, no backslashes. The
# temporary files of LocalStorage start with a dot, so they can never collide with a key.
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}"
_KEY = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT}){{0,7}}$")
_MAX_KEY_LENGTH = 255


class InvalidStorageKey(ValueError):
    """A key that is not one the server could have made."""


def new_key() -> str:
    """A fresh, unguessable key, fanned out over two directory levels: ``ab/cd/abcd…``."""
    name = new_id().hex
    return f"{name[:2]}/{name[2:4]}/{name}"


def check_key(key: str) -> str:
    if len(key) > _MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidStorageKey(f"not a storage key: {key[:80]!r}")
    return key


@runtime_checkable
class Storage(Protocol):
    """Blob storage keyed by server-made keys. Every method may be called concurrently."""

    async def save(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the bytes of `chunks` under `key` and return how many there were.

        The blob appears whole or not at all: if `chunks` raises (a refused upload, a client
        that went away) or the write fails, nothing is left behind and the error propagates.
        """
        ...

    def read(self, key: str, *, chunk_size: int = READ_CHUNK) -> AsyncIterator[bytes]:
        """The bytes stored under `key`, in chunks. FileNotFoundError if there are none."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file holding `key` when the backend is a local disk, else None."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove `key`; removing a key that does not exist is not an error."""
        ...


class LocalStorage:
    """Blobs as files under `root`. Writes go to a temporary file in the target directory
    which is fsynced and then renamed into place, so readers never see a partial file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    async def save(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        target = self._path(key)
        temporary = Path(await anyio.to_thread.run_sync(_temporary_file_beside, target))
        written = 0
        try:
            async with await anyio.open_file(temporary, "wb") as out:
                buffer = bytearray()
                async for chunk in chunks:
                    buffer += chunk
                    written += len(chunk)
                    if len(buffer) >= _WRITE_BUFFER:
                        await out.write(bytes(buffer))
                        buffer.clear()
                if buffer:
                    await out.write(bytes(buffer))
                await out.flush()
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
            await anyio.to_thread.run_sync(_rename_durably, temporary, target)
        except BaseException:
            # Also when cancelled (the client went away): the cleanup must still run.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(partial(temporary.unlink, missing_ok=True))
            raise
        return written

    async def read(self, key: str, *, chunk_size: int = READ_CHUNK) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self._path(key), "rb") as source:
            while chunk := await source.read(chunk_size):
                yield chunk

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(partial(path.unlink, missing_ok=True))


def _temporary_file_beside(target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    return name


def _rename_durably(source: Path, target: Path) -> None:
    """Rename into place, then fsync the directory so the new entry survives a crash."""
    source.replace(target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def make_storage(settings: Settings) -> Storage:
    """The storage backend the settings select: local disk under VAR_DIR/files for now.

    An object-store adapter (S3_BUCKET, S3_ENDPOINT_URL) is chosen here once it exists.
    """
    return LocalStorage(Path(settings.var_dir) / "files")
