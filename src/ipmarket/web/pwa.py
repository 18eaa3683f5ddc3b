"""The marketplace as a progressive web app: the manifest, the service worker (caches the
static files and shows the offline page when the network is gone) and the offline page."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ipmarket.web.static import precached_static_urls, static_url
from ipmarket.web.templating import render

router = APIRouter(include_in_schema=False)

OFFLINE_PATH = "/offline"


@router.get("/manifest.webmanifest")
async def manifest() -> Response:
    body = {
        "name": "ipmarket",
        "short_name": "ipmarket",
        "description": "Licensed secondary creation: original IP, licensed products, proof.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#3446b3",
        "icons": [
            {"src": static_url("icon.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": static_url("icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    return Response(
        json.dumps(body),
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@lru_cache(maxsize=1)
def service_worker_source() -> str:
    precache = [OFFLINE_PATH, *precached_static_urls()]
    # The cache is named for its contents, so a deploy with new files starts a new cache.
    version = hashlib.sha256("\n".join(precache).encode()).hexdigest()[:12]
    return f"""// ipmarket service worker (generated; cache {version})
const CACHE = "ipmarket-{version}";
const PRECACHE = {json.dumps(precache)};
self.addEventListener("install", (event) => {{
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting())
  );
}});
self.addEventListener("activate", (event) => {{
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))
  )).then(() => self.clients.claim()));
}});
self.addEventListener("fetch", (event) => {{
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {{
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }}
  if (request.mode === "navigate") {{
    event.respondWith(fetch(request).catch(() => caches.match("{OFFLINE_PATH}")));
  }}
}});
"""


@router.get("/sw.js")
async def service_worker() -> Response:
    return Response(
        service_worker_source(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get(OFFLINE_PATH, response_class=HTMLResponse)
async def offline(request: Request) -> HTMLResponse:
    return render(request, "offline.html")
