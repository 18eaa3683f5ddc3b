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
from ipmarket.kit.cache import make_cache
from ipmarket.kit.db import Database
from ipmarket.kit.embedded_db import resolve_database_url
from ipmarket.kit.handlers import install_error_handlers
from ipmarket.kit.logging import configure_logging
from ipmarket.kit.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from ipmarket.kit.ratelimit import RateLimitMiddleware
from ipmarket.licensing import configure_license_fees, license_fees
from ipmarket.notifications import configure_email, make_email_sender
from ipmarket.payments import LicenseFeePort, configure_provider
from ipmarket.payments.providers import make_provider
from ipmarket.provenance import configure_verification_cache
from ipmarket.web.router import router as web_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    signer = TokenSigner.from_settings(settings)
    cache = make_cache(settings.redis_url, prefix=settings.redis_prefix)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import ipmarket.handlers  # noqa: F401, PLC0415 - registers event consumers at startup

        configure_email(make_email_sender(settings))
        configure_verification_cache(cache)
        configure_provider(make_provider(settings))
        configure_license_fees(LicenseFeePort())
        license_fees()  # a process that wires no license-fee port fails here, not mid-approval
        app.state.db = Database(resolve_database_url(settings))
        stop = asyncio.Event()
        background: asyncio.Task[None] | None = None
        if settings.run_relay_in_process:
            from ipmarket.worker.main import run_background  # noqa: PLC0415 - embedded mode only

            background = asyncio.create_task(run_background(app.state.db, settings, stop))
        try:
            yield
        finally:
            stop.set()
            if background is not None:
                await background
            await cache.close()
            await app.state.db.dispose()

    app = FastAPI(
        title="ipmarket",
        version="1.0.0",
        description="A marketplace for licensed secondary creation.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.signer = signer
    app.state.cache = cache
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
        cache=cache,
        user_per_hour=settings.rate_limit_user_per_hour,
        auth_per_minute=settings.rate_limit_auth_per_minute,
        resolve_subject=subject,
    )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        overrides={FILES_PATH: settings.max_upload_bytes},
    )
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(wellknown_router)
    app.include_router(build_v1_router())
    app.include_router(web_router)
    return app
