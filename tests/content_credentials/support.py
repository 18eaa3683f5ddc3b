"""Images for content credentials tests: a real PNG (c2pa parses it), and its signed copy."""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

from ipmarket.content_credentials import SigningMaterial, development_chain, sign_image


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A plain RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@lru_cache(maxsize=1)
def material() -> SigningMaterial:
    chain, key = development_chain("Test Studio")
    return SigningMaterial(chain, key, "es256")


def credentialed_png(*, author: str = "Ada Example") -> bytes:
    """A PNG carrying credentials made by 'Test Studio Painter' naming `author`."""
    return sign_image(
        png(rgb=(10, 120, 200)),
        "image/png",
        title="Fox sketch",
        assertion={"note": "a test"},
        material=material(),
        version="1.0",
        extra_assertions=[
            {
                "label": "stds.schema-org.CreativeWork",
                "data": {
                    "@context": "https://schema.org",
                    "@type": "CreativeWork",
                    "author": [{"@type": "Person", "name": author}],
                },
            }
        ],
        generator="Test Studio Painter",
    )
