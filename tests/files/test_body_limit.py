"""The request body limit: uploads have their own ceiling, everything else keeps the global one."""

from __future__ import annotations

import pytest

from ipmarket.kit.middleware import BodySizeLimitMiddleware


async def _app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
    pass


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/v1/files", 100),
        ("/v1/files/", 100),
        ("/v1/files/123/content", 100),
        ("/v1/files/big/special", 500),
        ("/v1/filesystem", 10),
        ("/v1/users/me", 10),
        ("/", 10),
        ("", 10),
    ],
)
def test_the_longest_matching_prefix_sets_the_limit(path: str, limit: int) -> None:
    middleware = BodySizeLimitMiddleware(
        _app, max_bytes=10, overrides={"/v1/files/": 100, "/v1/files/big": 500}
    )
    assert middleware.limit_for(path) == limit
