"""Static files under content-hashed names, cached for a year.

`static_url("app.css")` gives `/static/app.<hash>.css`; the hash is of the file's bytes,
so a changed file gets a new URL and an old page never mixes old and new assets. The
unhashed name is served too (for the service worker and vendored files that reference each
other), with a short cache.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ipmarket.kit.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static/"
_YEAR = "public, max-age=31536000, immutable"
_SHORT = "public, max-age=300"

router = APIRouter(include_in_schema=False)


def _hashed_name(name: str, digest: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"


@dataclass(frozen=True)
class _Manifest:
    hashed_by_name: dict[str, str]
    name_by_hashed: dict[str, str]


@lru_cache(maxsize=1)
def _manifest() -> _Manifest:
    """Every static file's hashed name, read once per process."""
    hashed_by_name: dict[str, str] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            name = path.relative_to(STATIC_DIR).as_posix()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            hashed_by_name[name] = _hashed_name(name, digest)
    return _Manifest(hashed_by_name, {v: k for k, v in hashed_by_name.items()})


def static_url(name: str) -> str:
    """The cache-forever URL of a static file; a name that is not there is a bug."""
    return STATIC_PREFIX + _manifest().hashed_by_name[name]


def precached_static_urls() -> list[str]:
    """The hashed URLs the service worker keeps for offline use (our own files, not the
    large vendored API-docs bundles)."""
    return sorted(
        STATIC_PREFIX + hashed
        for name, hashed in _manifest().hashed_by_name.items()
        if not name.startswith("vendor/")
    )


@router.get("/static/{name:path}")
async def static_file(name: str) -> FileResponse:
    manifest = _manifest()
    if name in manifest.name_by_hashed:
        path, cache = STATIC_DIR / manifest.name_by_hashed[name], _YEAR
    elif name in manifest.hashed_by_name:
        path, cache = STATIC_DIR / name, _SHORT
    else:
        raise NotFound("No such file")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache})
