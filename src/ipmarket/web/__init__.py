"""HTML pages: the marketplace a person uses in a browser, on the same services as the API.

One package per area (account, public, verify, studio, shop, orders, money); `build_web_router`
mounts them all behind the two dependencies every page has: the CSRF check on unsafe
methods and the visitor's browser session. `PageErrors` draws errors as pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ipmarket.web.account.router import router as account_router
from ipmarket.web.csrf import check_csrf
from ipmarket.web.errors import PageErrors
from ipmarket.web.licenses.router import router as licenses_router
from ipmarket.web.money.router import router as money_router
from ipmarket.web.orders.router import router as orders_router
from ipmarket.web.public.router import router as public_router
from ipmarket.web.pwa import router as pwa_router
from ipmarket.web.session import current_visitor
from ipmarket.web.shop.router import UPLOADS_PATH as SHOP_UPLOADS_PATH
from ipmarket.web.shop.router import router as shop_router
from ipmarket.web.shop.router import uploads as shop_uploads
from ipmarket.web.static import router as static_router
from ipmarket.web.studio import UPLOAD_FORM_PATHS as STUDIO_UPLOAD_PATHS
from ipmarket.web.studio import router as studio_router
from ipmarket.web.studio import uploads as studio_uploads
from ipmarket.web.verify.router import router as verify_router
from ipmarket.web.verify.units import router as units_router

# Page POSTs that sign in or create credentials: rate limited per client like /v1/auth/.
AUTH_FORM_PATHS = frozenset({"/sign-in", "/sign-up", "/forgot-password", "/reset-password"})
# Page POSTs that carry a file: the upload size limit applies below these, not the 1 MB of
# other forms.
UPLOAD_FORM_PATHS = frozenset({SHOP_UPLOADS_PATH, *STUDIO_UPLOAD_PATHS})


def build_web_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.include_router(static_router)
    # The manifest, the service worker and the offline page need no session: no visitor
    # query on every fetch, and the offline page the worker keeps names nobody.
    router.include_router(pwa_router)
    pages = APIRouter(dependencies=[Depends(check_csrf), Depends(current_visitor)])
    pages.include_router(account_router)
    pages.include_router(licenses_router)
    pages.include_router(shop_router)
    pages.include_router(studio_router)
    pages.include_router(orders_router)
    pages.include_router(money_router)
    pages.include_router(public_router)
    pages.include_router(verify_router)
    pages.include_router(units_router)
    router.include_router(pages)
    # Forms that carry files check their visitor before the CSRF check reads the body.
    router.include_router(studio_uploads)
    router.include_router(shop_uploads)
    return router


__all__ = ["AUTH_FORM_PATHS", "UPLOAD_FORM_PATHS", "PageErrors", "build_web_router"]
