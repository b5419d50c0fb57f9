"""Logs: one line per event, JSON in production, coloured ``key=value`` in a terminal.

The code logs through the standard library (``logging.getLogger``, fields in ``extra=``), so a
log call costs nothing when its level is off and the SDK stays free of structlog; structlog
renders every record, ours and the libraries' (uvicorn, Alembic), the same way. Anything named
like a secret is masked before it is rendered.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Collection
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor

__all__ = ["LogFormat", "configure_logging", "redact_secrets"]

LogFormat = Literal["auto", "json", "console"]

_SECRET = re.compile(r"password|secret|private|token|authorization|api_key|apikey", re.I)
REDACTED = "[redacted]"


@functools.cache
def _is_secret(key: str) -> bool:
    # Cached: a line has ~12 fields and the same few names come back on every line.
    return _SECRET.search(key) is not None


def redact_secrets(_logger: Any, _method: str, event: EventDict) -> EventDict:
    """Mask the value of every field whose name says it is a secret."""
    for key in event:
        if _is_secret(key):
            event[key] = REDACTED
    return event


def _drop_color_message(_logger: Any, _method: str, event: EventDict) -> EventDict:
    event.pop("color_message", None)  # uvicorn's copy of the message, with terminal colours
    return event


class _SkipAccessLines(logging.Filter):
    """Drops uvicorn's access line of a request to one of ``paths`` (query string aside)."""

    def __init__(self, paths: Collection[str]) -> None:
        super().__init__()
        self.paths = frozenset(paths)

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access records: (client address, method, path?query, HTTP version, status)
        args = record.args
        if isinstance(args, tuple) and len(args) > 2 and isinstance(args[2], str):
            return args[2].partition("?")[0] not in self.paths
        return True


def configure_logging(
    level: str = "info",
    *,
    log_format: LogFormat = "auto",
    stream: TextIO | None = None,
    quiet_paths: Collection[str] = (),
) -> None:
    """Send every logger's records at ``level`` and above to ``stream`` (default stderr) as
    JSON lines, or as readable lines when ``log_format`` is console ("auto": console when the
    stream is a terminal). Requests to ``quiet_paths`` get no uvicorn access line: the app logs
    each of them itself, with more to say."""
    stream = stream or sys.stderr
    terminal = stream.isatty()
    if log_format == "auto":
        log_format = "console" if terminal else "json"
    before: list[Processor] = [
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
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
    access = logging.getLogger("uvicorn.access")
    for stale in [f for f in access.filters if isinstance(f, _SkipAccessLines)]:
        access.removeFilter(stale)
    if quiet_paths:
        access.addFilter(_SkipAccessLines(quiet_paths))
    # What no line shows is not collected (the logging HOWTO's "Optimization"): the caller's
    # file and line, thread and process names. A notification's line costs ~25 % less.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
