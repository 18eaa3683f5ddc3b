"""create_app(): middleware, error handlers, routers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import Scope

from ipmarket.api import build_v1_router
from ipmarket.config import Settings, get_settings
from ipmarket.files import FILES_PATH, make_storage, url_key
from ipmarket.health import router as health_router
from ipmarket.identity import TokenSigner, bearer_subject
from ipmarket.identity.router import wellknown_router
from ipmarket.kit.error_handlers import install_error_handlers
from ipmarket.kit.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from ipmarket.kit.ratelimit import RateLimitMiddleware
from ipmarket.runtime import bootstrap
from ipmarket.web import AUTH_FORM_PATHS, UPLOAD_FORM_PATHS, PageErrors, build_web_router
from ipmarket.web.api_docs import install_api_docs


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # The rate limiter below needs the cache now, so the process is wired here, not in the
    # lifespan; the lifespan runs the embedded background work and closes what was opened.
    runtime = bootstrap(settings)
    signer = TokenSigner.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        background: asyncio.Task[None] | None = None
        if settings.run_relay_in_process:
            from ipmarket.worker.main import run_background  # noqa: PLC0415 - embedded mode only

            background = asyncio.create_task(run_background(runtime.db, settings, stop))
        try:
            yield
        finally:
            stop.set()
            if background is not None:
                await background
            await runtime.close()

    app = FastAPI(
        title="ipmarket",
        version="1.0.0",
        description="A marketplace for licensed secondary creation.",
        lifespan=lifespan,
        # served from vendored files by install_api_docs, not from a CDN
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.signer = signer
    app.state.db = runtime.db
    app.state.cache = runtime.cache
    app.state.file_storage = make_storage(settings)
    url_key(settings)  # read (in development, make) the file URL key now, not mid-request

    def subject(scope: Scope) -> str | None:
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                return bearer_subject(signer, value.decode("latin-1"))
        return None

    # Added innermost first: the request id wraps everything, then the size limit.
    app.add_middleware(
        RateLimitMiddleware,
        cache=runtime.cache,
        user_per_hour=settings.rate_limit_user_per_hour,
        auth_per_minute=settings.rate_limit_auth_per_minute,
        resolve_subject=subject,
        auth_form_paths=AUTH_FORM_PATHS,
    )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        overrides={
            FILES_PATH: settings.max_upload_bytes,
            **dict.fromkeys(UPLOAD_FORM_PATHS, settings.max_upload_bytes),
        },
    )
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app, pages=PageErrors())
    app.include_router(health_router)
    app.include_router(wellknown_router)
    app.include_router(build_v1_router())
    app.include_router(build_web_router())
    install_api_docs(app)
    return app
