"""Values between the wire, queries and the database, one kind of attribute at a time.

:func:`coerce_value` turns what a client sent (or a query compares with) into what a
column stores — an aware or ISO datetime into naive UTC, a JSON value of a
``variable`` attribute into its JSON text — or says why it cannot. :func:`to_wire`
goes back. :func:`describe` names a kind for error messages.
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any, Callable

from ...wire import encode_date, encode_datetime, parse_datetime, to_utc

__all__ = ["CONVERTERS", "coerce_value", "describe", "to_wire"]

#: The whole numbers a column stores (64 bits, on both databases).
INTEGERS = range(-(2**63), 2**63)

#: Kinds whose stored values need converting on the way out, and how.
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "datetime": encode_datetime,
    "date": encode_date,
    "variable": json.loads,
}

_DESCRIPTIONS = {
    "integer": "a whole number", "number": "a number", "boolean": "true or false", "datetime": "a datetime",
    "date": "a date", "variable": "any JSON value", "json": "JSON text",
}  # fmt: skip


def describe(kind: str | None) -> str:
    """What a value of ``kind`` is, for a message: ``Task.bid takes a number``."""
    return _DESCRIPTIONS.get(kind or "", "text")


def to_wire(kind: str | None, value: Any) -> Any:
    """A stored value as the wire carries it."""
    if value is None:
        return None
    convert = CONVERTERS.get(kind or "")
    return convert(value) if convert is not None else value


def _tagged(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return encode_datetime(value)
    if isinstance(value, datetime.date):
        return encode_date(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def coerce_value(kind: str, value: Any) -> Any:
    """``value`` as a column of type ``kind`` stores it; TypeError/ValueError when it cannot be."""
    if value is None:
        return None
    if kind in ("string", "text", "json"):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(f"{value!r} is not text")
        return value if isinstance(value, str) else str(value)
    if kind == "variable":  # a date in it is kept as the wire tags it, and goes back so
        return json.dumps(value, default=_tagged)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"{value!r} is not true or false")
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            raise TypeError(f"{value!r} is not a number")
        if isinstance(value, str):
            try:
                value = float(value) if kind == "number" else int(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
        if not isinstance(value, (int, float)):
            raise TypeError(f"{value!r} is not a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        if kind == "integer" and (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{value!r} is not a whole number")
        if kind == "number":
            if isinstance(value, int) and value not in INTEGERS:
                try:  # past 64 bits, a number is stored as a float
                    return float(value)
                except OverflowError:
                    raise ValueError(f"{value!r} is too large") from None
            return value
        if int(value) not in INTEGERS:
            raise ValueError(f"{value!r} is out of range (64 bits: from -2**63 to 2**63 - 1)")
        return int(value)
    if kind == "datetime":
        if isinstance(value, datetime.datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = parse_datetime(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO 8601 date or datetime") from None
        else:
            raise TypeError(f"{value!r} is not a datetime")
        return to_utc(moment).replace(tzinfo=None)
    if kind == "date":
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value[:10])
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO 8601 date") from None
        raise TypeError(f"{value!r} is not a date")
    return value
