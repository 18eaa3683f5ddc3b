"""/docs and /redoc are served from the vendored files, with their licenses, and each page's
Content-Security-Policy allows exactly what it runs."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx
import pytest

from ipmarket.web.api_docs import VENDOR_DIRECTORY
from tests.conftest import ROOT

VENDORED = {
    "swagger-ui/swagger-ui-bundle.js": "javascript",
    "swagger-ui/swagger-ui.css": "text/css",
    "swagger-ui/favicon-32x32.png": "image/png",
    "redoc/redoc.standalone.js": "javascript",
}


def _policy(response: httpx.Response) -> dict[str, str]:
    directives = (
        d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")
    )
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_the_reference_pages_load_nothing_from_another_host(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(s.startswith("/static/vendor/") for s in sources), sources
    for source in sources:  # under content-hashed names, cached for good
        served = await client.get(source)
        assert served.status_code == 200, source
        assert "immutable" in served.headers["cache-control"]
    assert "fonts.googleapis.com" not in page.text
    assert "/openapi.json" in page.text


async def test_swagger_ui_may_run_its_own_start_up_script_only(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    [script] = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = _policy(page)
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    # and it does not ask validator.swagger.io about the document
    assert '"validatorUrl": null' in script


async def test_redoc_runs_no_inline_script(client: httpx.AsyncClient) -> None:
    page = await client.get("/redoc")
    assert "<script>" not in page.text
    policy = _policy(page)
    assert policy["script-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"


@pytest.mark.parametrize(("path", "kind"), VENDORED.items())
async def test_the_vendored_files_are_served(
    client: httpx.AsyncClient, path: str, kind: str
) -> None:
    response = await client.get(f"/static/vendor/{path}")
    assert response.status_code == 200
    assert kind in response.headers["content-type"]
    assert response.content == (VENDOR_DIRECTORY / path).read_bytes()


@pytest.mark.parametrize("package", ["swagger-ui", "redoc"])
def test_each_vendored_package_keeps_its_license_and_is_the_pinned_version(package: str) -> None:
    # the files `make vendor` copied from vendor/package-lock.json
    directory = VENDOR_DIRECTORY / package
    assert (directory / "LICENSE").read_text().strip()
    npm_name = {"swagger-ui": "swagger-ui-dist", "redoc": "redoc"}[package]
    lock = json.loads((ROOT / "vendor" / "package-lock.json").read_text())
    pinned = lock["packages"][f"node_modules/{npm_name}"]["version"]
    shipped = json.loads((directory / "package.json").read_text())
    assert (shipped["name"], shipped["version"]) == (npm_name, pinned)
