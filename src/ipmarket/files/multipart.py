"""A pull-based, streaming reader of multipart/form-data request bodies.

Unlike a form parser that spools every part to a temporary file before the route runs, this
hands out a part's bytes as they arrive, so an upload can be checked, hashed and written to
storage in one pass and refused as soon as it breaks a rule.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from ipmarket.kit.errors import ValidationFailed

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

_MAX_HEADERS_PER_PART = 16
_MAX_HEADER_LINE = 8 * 1024


class MalformedBody(ValidationFailed):
    """The body is not well-formed multipart/form-data: a 400, like a body that is not JSON."""

    status_code = 400


@dataclass(frozen=True)
class Part:
    """The headers of one part. `filename` is None for a plain field, "" when a form sent
    no file."""

    name: str | None
    filename: str | None
    content_type: str | None


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data Content-Type, else MalformedBody."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedBody("The body must be multipart/form-data with a boundary")
    return boundary


class MultipartReader:
    """Reads the parts of a multipart/form-data body in order.

    Call `next_part()` for each part's headers (None after the last), and iterate
    `part_data()` to the end before asking for the next part.
    """

    def __init__(self, body: AsyncIterator[bytes], content_type: str | None) -> None:
        self._body = body
        self._events: deque[tuple[str, bytes]] = deque()
        self._body_done = False
        callbacks: MultipartCallbacks = {
            "on_part_begin": lambda: self._events.append(("part_begin", b"")),
            "on_header_field": lambda d, s, e: self._events.append(("header_field", d[s:e])),
            "on_header_value": lambda d, s, e: self._events.append(("header_value", d[s:e])),
            "on_header_end": lambda: self._events.append(("header_end", b"")),
            "on_headers_finished": lambda: self._events.append(("headers_finished", b"")),
            "on_part_data": lambda d, s, e: self._events.append(("part_data", d[s:e])),
            "on_part_end": lambda: self._events.append(("part_end", b"")),
            "on_end": lambda: self._events.append(("end", b"")),
        }
        try:
            self._parser = MultipartParser(
                boundary_of(content_type),
                callbacks,
                max_header_count=_MAX_HEADERS_PER_PART,
                max_header_size=_MAX_HEADER_LINE,
            )
        except FormParserError as exc:
            raise MalformedBody("The multipart boundary is not valid") from exc

    async def _next_event(self) -> tuple[str, bytes]:
        while not self._events:
            if self._body_done:
                raise MalformedBody("The multipart body ends before its closing boundary")
            chunk = await anext(self._body, None)
            if chunk is None:
                self._body_done = True
                continue
            try:
                self._parser.write(chunk)
            except FormParserError as exc:
                raise MalformedBody("The body is not valid multipart/form-data") from exc
        return self._events.popleft()

    async def next_part(self) -> Part | None:
        """The headers of the next part, or None when the body is complete."""
        kind, _ = await self._next_event()
        if kind == "end":
            return None
        if kind != "part_begin":  # pragma: no cover - the parser always begins a part first
            raise MalformedBody("The body is not valid multipart/form-data")
        headers: dict[str, str] = {}
        name, value = bytearray(), bytearray()
        while True:
            kind, data = await self._next_event()
            if kind == "header_field":
                name += data
            elif kind == "header_value":
                value += data
            elif kind == "header_end":
                headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
                name, value = bytearray(), bytearray()
            elif kind == "headers_finished":
                break
        return _part(headers)

    async def part_data(self) -> AsyncIterator[bytes]:
        """The bytes of the current part as they arrive, until the part ends."""
        while True:
            kind, data = await self._next_event()
            if kind == "part_end":
                return
            if data:
                yield data


def _part(headers: dict[str, str]) -> Part:
    disposition, options = parse_options_header(headers.get("content-disposition", ""))
    if disposition != b"form-data":
        raise MalformedBody("Each part needs a Content-Disposition: form-data header")
    name = options.get(b"name")
    filename = options.get(b"filename")
    return Part(
        name=_text(name) if name is not None else None,
        filename=_text(filename) if filename is not None else None,
        content_type=headers.get("content-type"),
    )


def _text(raw: bytes) -> str:
    """Header parameters arrive as raw bytes; browsers send UTF-8."""
    return raw.decode("utf-8", errors="replace")
