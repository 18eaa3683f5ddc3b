"""Errors drawn as pages: the web side of kit.error_handlers' one decision.

401 sends the browser to sign in (and back afterwards); a refused form is drawn again with
its problems; every other error gets its page in the layout, with the right status and
never a stack trace.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from ipmarket.kit.errors import AppError, ErrorCode
from ipmarket.web.cookies import SESSION_COOKIE, clear_cookie
from ipmarket.web.forms import FormRejected
from ipmarket.web.templating import redirect, render

# Paths that are the API or the framework's own, answered in the JSON envelope.
_NOT_PAGES = ("/v1/", "/.well-known/", "/healthz", "/readyz", "/openapi.json", "/metrics")

_TEMPLATES = {
    403: "errors/403.html",
    404: "errors/404.html",
    429: "errors/429.html",
}


def safe_next(path: str | None) -> str:
    """A local path to go back to after signing in; anything else goes home."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


class PageErrors:
    def handles(self, request: Request) -> bool:
        return not request.url.path.startswith(_NOT_PAGES)

    async def render_error(self, request: Request, error: AppError) -> Response:
        if isinstance(error, FormRejected):
            context = error.context | {
                "error": error.problems.message,
                "errors": error.problems.fields,
            }
            return render(
                request,
                error.template,
                context,
                status_code=error.status,
                headers=error.headers or None,
            )
        if error.code == ErrorCode.UNAUTHORIZED:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            back = here if request.method == "GET" else request.headers.get("referer")
            target = "/sign-in?next=" + quote(safe_next(_path_of(back)), safe="/")
            response = redirect(request, target, flash=error.message, kind="info")
            clear_cookie(request, response, SESSION_COOKIE)
            return response
        template = _TEMPLATES.get(error.status, "errors/error.html")
        return render(
            request,
            template,
            {"error": error},
            status_code=error.status,
            headers=error.headers or None,
        )


def _path_of(url: str | None) -> str | None:
    """The local path of a same-site URL (a Referer), or None."""
    if url is None:
        return None
    if url.startswith("/"):
        return url
    scheme_end = url.find("://")
    if scheme_end == -1:
        return None
    slash = url.find("/", scheme_end + 3)
    return url[slash:] if slash != -1 else "/"
