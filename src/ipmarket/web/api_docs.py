"""The API reference pages, /docs (Swagger UI) and /redoc, from vendored files.

FastAPI's own pages take their scripts and styles from a CDN and are blank without internet.
These serve the same pages from `static/vendor/` (the pinned npm files `make vendor` copies,
with their licenses), under their content-hashed static URLs, so the reference works offline
and nothing leaves the machine.

Each page carries a Content-Security-Policy of its own: Swagger UI's one inline start-up
script is allowed by its hash; both viewers inject their styles at run time, so styles (and
Redoc's search worker, a blob) are allowed inline on these two pages only. Images come from
this server only: the Redocly logo that Redoc's menu asks its CDN for is refused (the
menu shows its text without it).
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from ipmarket.web.static import STATIC_DIR, static_url

VENDOR_DIRECTORY = STATIC_DIR / "vendor"
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_COMMON_POLICY = (
    "default-src 'none'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def _inline_script_hashes(body: bytes) -> str:
    digests = (
        base64.b64encode(hashlib.sha256(script).digest()).decode()
        for script in _INLINE_SCRIPT.findall(body)
    )
    return " ".join(f"'sha256-{digest}'" for digest in digests)


def _served(page: HTMLResponse, script_src: str, *extra: str) -> HTMLResponse:
    """FastAPI's page with the language it is written in (for screen readers) and its policy."""
    body = bytes(page.body).replace(b"<html>", b'<html lang="en">', 1)
    policy = "; ".join((_COMMON_POLICY, f"script-src {script_src}", *extra))
    return HTMLResponse(body, headers={"Content-Security-Policy": policy})


def _prefix(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _openapi_url(request: Request) -> str:
    return _prefix(request) + (request.app.openapi_url or "/openapi.json")


def _vendored(request: Request, name: str) -> str:
    return _prefix(request) + static_url(f"vendor/{name}")


@router.get(DOCS_PATH)
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} API reference",
        swagger_js_url=_vendored(request, "swagger-ui/swagger-ui-bundle.js"),
        swagger_css_url=_vendored(request, "swagger-ui/swagger-ui.css"),
        swagger_favicon_url=_vendored(request, "swagger-ui/favicon-32x32.png"),
        # Swagger UI would otherwise ask validator.swagger.io about the document
        swagger_ui_parameters={"validatorUrl": None},
    )
    return _served(page, f"'self' {_inline_script_hashes(bytes(page.body))}")


@router.get(REDOC_PATH)
async def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} API reference",
        redoc_js_url=_vendored(request, "redoc/redoc.standalone.js"),
        redoc_favicon_url=_vendored(request, "swagger-ui/favicon-32x32.png"),
        with_google_fonts=False,
    )
    return _served(page, "'self'", "worker-src 'self' blob:")


def install_api_docs(app: FastAPI) -> None:
    """Serve the reference pages (create the app with ``docs_url=None, redoc_url=None`` so
    FastAPI's CDN pages are not served instead). Their files come through the web package's
    static route."""
    app.include_router(router)
