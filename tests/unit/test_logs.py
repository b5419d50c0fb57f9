"""Logs: JSON lines in production, readable lines in a terminal, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from fintrust.logs import LogFormat, configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_its_fields() -> None:
    stream = io.StringIO()
    configure_logging("info", stream=stream)  # not a terminal: JSON
    logging.getLogger("fintrust.outbox").warning(
        "%s refused: %s", "AccountPayout", "616", extra={"trustly_error_code": 616}
    )
    logging.getLogger("fintrust.outbox").debug("below the level")
    [line] = lines(stream)
    assert line["event"] == "AccountPayout refused: 616"
    assert line["level"] == "warning"
    assert line["logger"] == "fintrust.outbox"
    assert line["trustly_error_code"] == 616
    assert line["timestamp"].endswith("Z")


def test_fields_named_like_secrets_are_masked() -> None:
    stream = io.StringIO()
    configure_logging("info", log_format="json", stream=stream)
    logging.getLogger("fintrust").info(
        "settings",
        extra={"trustly_password": "hunter2", "api_key": "k-123", "session_secret": "x", "n": 1},
    )
    [line] = lines(stream)
    assert "hunter2" not in stream.getvalue()
    assert "k-123" not in stream.getvalue()
    assert line["trustly_password"] == line["api_key"] == line["session_secret"] == "[redacted]"
    assert line["n"] == 1


def test_an_exception_is_logged_with_its_traceback() -> None:
    stream = io.StringIO()
    configure_logging("info", log_format="json", stream=stream)
    try:
        raise RuntimeError("database went away")
    except RuntimeError:
        logging.getLogger("fintrust.worker").exception("draining the outbox failed")
    [line] = lines(stream)
    assert line["level"] == "error"
    assert "RuntimeError: database went away" in line["exception"]


@pytest.mark.parametrize("log_format", ["auto", "console"])
def test_a_terminal_gets_readable_lines(log_format: LogFormat) -> None:
    stream = Terminal() if log_format == "auto" else io.StringIO()
    configure_logging("info", log_format=log_format, stream=stream)
    logging.getLogger("fintrust.worker").info("worker started", extra={"every": 1.0})
    text = stream.getvalue()
    assert "worker started" in text
    assert "every" in text
    assert not text.startswith("{")


@pytest.fixture
def _uvicorn_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's loggers as `fintrust serve` leaves them (log_config=None): a server an earlier
    test started with uvicorn's own logging config gave them handlers and levels of their own."""
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "handlers", [])
        monkeypatch.setattr(logger, "propagate", True)
        monkeypatch.setattr(logger, "level", logging.NOTSET)


@pytest.mark.usefixtures("_uvicorn_loggers")
def test_quiet_paths_get_no_uvicorn_access_line() -> None:
    access = logging.getLogger("uvicorn.access")
    stream = io.StringIO()
    configure_logging("info", log_format="json", stream=stream, quiet_paths={"/trustly/notify"})
    line = '%s - "%s %s HTTP/%s" %d'
    access.info(line, "127.0.0.1:5000", "POST", "/trustly/notify", "1.1", 200)
    access.info(line, "127.0.0.1:5000", "POST", "/trustly/notify?x=1", "1.1", 200)
    access.info(line, "127.0.0.1:5000", "GET", "/api/v1/customers", "1.1", 200)
    assert [entry["event"] for entry in lines(stream)] == [
        '127.0.0.1:5000 - "GET /api/v1/customers HTTP/1.1" 200'
    ]
    configure_logging("info", log_format="json", stream=stream)  # configured again: none quiet
    access.info(line, "127.0.0.1:5000", "POST", "/trustly/notify", "1.1", 200)
    assert len(lines(stream)) == 2


@pytest.mark.usefixtures("_uvicorn_loggers")
def test_uvicorn_colour_codes_stay_out_of_json_lines() -> None:
    stream = io.StringIO()
    configure_logging("info", log_format="json", stream=stream)
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started [\x1b[36m%d\x1b[0m]"}
    )
    [line] = lines(stream)
    assert line["event"] == "Started server process [42]"
    assert "color_message" not in line
