"""Trustly's serialization of signed data (protocol spec §3.2).

The signature covers ``method + uuid + serialize(data)``. ``serialize`` walks parsed JSON values:
objects emit ``key + serialize(value)`` in Unicode code point key order, arrays emit their elements
in order, null is the empty string and integers are their decimal text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fintrust.trustly._errors import SerializationError

__all__ = ["serialize"]


def serialize(data: Any) -> str:
    """Return the text Trustly signs for ``data`` (a parsed JSON value).

    Floats and booleans have no defined serialization at Trustly (the official clients disagree),
    so they are refused: send amounts as decimal strings and flags as ``"1"``/``"0"``.
    A :class:`~decimal.Decimal` is accepted only because incoming messages are parsed with
    ``parse_float=Decimal``, which keeps the exact token text Trustly sent.
    """
    parts: list[str] = []
    try:
        _walk(data, parts)
    except (_UnserializableError, TypeError):  # TypeError: sorting keys of mixed types
        raise SerializationError(_describe_problem(data, "data")) from None
    return "".join(parts)


class _UnserializableError(Exception):
    """Raised on the fast path; the slow path then finds where and why, for the message."""


def _walk(value: Any, parts: list[str]) -> None:
    # Parsed JSON is plain dict/list/str: exact type checks first are much cheaper than the
    # abstract Mapping/Sequence checks, which stay as the fallback for other containers.
    kind = type(value)
    if kind is str:
        parts.append(value)
    elif kind is dict:
        for key in sorted(value):
            if type(key) is not str:
                raise _UnserializableError
            parts.append(key)
            _walk(value[key], parts)
    elif kind is list:
        for item in value:
            _walk(item, parts)
    else:
        _walk_other(value, parts)


def _walk_other(value: Any, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(value)
    elif isinstance(value, Mapping):
        for key in sorted(value):
            if not isinstance(key, str):
                raise _UnserializableError
            parts.append(key)
            _walk(value[key], parts)
    elif value is None:
        pass
    elif isinstance(value, bool | float):
        raise _UnserializableError
    elif isinstance(value, int | Decimal):
        parts.append(str(value))
    elif isinstance(value, Sequence):
        for item in value:
            _walk(item, parts)
    else:
        raise _UnserializableError


def _describe_problem(value: Any, path: str) -> str:  # noqa: PLR0911 - a dispatch on type
    if isinstance(value, str) or value is None:
        return ""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}: object keys must be strings, got {key!r}"
            problem = _describe_problem(item, f"{path}.{key}")
            if problem:
                return problem
        return ""
    if isinstance(value, bool):
        return f"{path}: booleans are not part of Trustly's signature format; send '1' or '0'"
    if isinstance(value, float):
        return (
            f"{path}: floats are ambiguous in Trustly's signature format; "
            "send amounts as decimal strings such as '12.50'"
        )
    if isinstance(value, int | Decimal):
        return ""
    if isinstance(value, Sequence):
        for index, item in enumerate(value):
            problem = _describe_problem(item, f"{path}[{index}]")
            if problem:
                return problem
        return ""
    return f"{path}: {type(value).__name__} is not a JSON value"
