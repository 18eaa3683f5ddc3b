"""Request dependencies of the files routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ipmarket.files.storage import Storage


def get_storage(request: Request) -> Storage:
    """The process's storage backend, made by create_app (`app.state.file_storage`)."""
    storage: Storage = request.app.state.file_storage
    return storage


FileStorage = Annotated[Storage, Depends(get_storage)]
