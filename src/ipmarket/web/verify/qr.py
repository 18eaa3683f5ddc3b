"""QR codes of verification pages, drawn by segno as SVG to put inline in a page: no extra
request, no script, sharp at any print size. Dark modules on a white square, so a phone
camera reads it in dark mode and on paper alike."""

from __future__ import annotations

from functools import lru_cache
from html import escape

import segno
from markupsafe import Markup

from ipmarket.config import Settings


def verification_url(settings: Settings, code: str) -> str:
    """The absolute address of a code's verification page, as printed and scanned."""
    return f"{settings.public_base_url.rstrip('/')}/verify/{code}"


@lru_cache(maxsize=512)
def _svg(data: str) -> str:
    qr = segno.make(data, error="m")
    return str(
        qr.svg_inline(
            scale=1, dark="#000", light="#fff", lineclass=None, svgclass=None, omitsize=True
        )
    )


def qr_svg(data: str, *, label: str) -> Markup:
    """`data` as an inline <svg> QR code, named `label` for screen readers."""
    attributes = f'<svg role="img" aria-label="{escape(label)}" class="qr"'
    return Markup(_svg(data).replace("<svg", attributes, 1))  # noqa: S704 (our own SVG)
