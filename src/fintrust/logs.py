"""Logs: one line per event, JSON in production, coloured ``key=value`` in a terminal.

The code logs through the standard library (``logging.getLogger``, fields in ``extra=``), so a
log call costs nothing when its level is off and the SDK stays free of structlog; structlog
renders every record, ours and the libraries' (uvicorn, Alembic), the same way. Anything named
like a secret is masked before it is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor

__all__ = ["LogFormat", "configure_logging", "redact_secrets"]

LogFormat = Literal["auto", "json", "console"]

_SECRET = re.compile(r"password|secret|private|token|authorization|api_key|apikey", re.I)
REDACTED = "[redacted]"


def redact_secrets(_logger: Any, _method: str, event: EventDict) -> EventDict:
    """Mask the value of every field whose name says it is a secret."""
    for key in event:
        if _SECRET.search(key):
            event[key] = REDACTED
    return event


def configure_logging(
    level: str = "info", *, log_format: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Send every logger's records at ``level`` and above to ``stream`` (default stderr) as
    JSON lines, or as readable lines when ``log_format`` is console ("auto": console when the
    stream is a terminal)."""
    stream = stream or sys.stderr
    terminal = stream.isatty()
    if log_format == "auto":
        log_format = "console" if terminal else "json"
    before: list[Processor] = [
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    last: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(sort_keys=False)]
        if log_format == "json"
        else [structlog.dev.ConsoleRenderer(colors=terminal)]
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=before,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
