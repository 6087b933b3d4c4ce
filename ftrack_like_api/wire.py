"""Values on the wire, shared by client and server.

ftrack's JSON protocol writes datetimes and dates as tagged objects::

    {"__type__": "datetime", "value": "2023-10-10T09:50:34"}
    {"__type__": "date", "value": "2023-10-10"}

A server writes datetimes as naive UTC; clients may send them with an offset.
Everything in this module works in aware UTC datetimes on the Python side.
"""

from __future__ import annotations

import datetime
from typing import Any

__all__ = ["decode_value", "encode_date", "encode_datetime", "parse_datetime", "to_utc"]

UTC = datetime.timezone.utc


def encode_datetime(value: datetime.datetime) -> dict[str, str]:
    """A datetime as the server writes it: naive ISO 8601 in UTC."""
    return {"__type__": "datetime", "value": to_utc(value).replace(tzinfo=None).isoformat()}


def encode_date(value: datetime.date) -> dict[str, str]:
    return {"__type__": "date", "value": value.isoformat()}


def to_utc(value: datetime.datetime) -> datetime.datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_datetime(text: object) -> datetime.datetime:
    """ISO 8601 text (``Z``, an offset, or naive meaning UTC; a bare date is midnight) → aware UTC.

    Raises ``ValueError`` for anything else.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not ISO 8601 text")
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if len(text) == 10:
        return datetime.datetime.combine(datetime.date.fromisoformat(text), datetime.time(), UTC)
    return to_utc(datetime.datetime.fromisoformat(text))


def decode_value(value: Any) -> Any:
    """A tagged wire value → datetime (aware UTC) or date; anything else unchanged."""
    if isinstance(value, dict) and "__type__" in value:
        kind = value["__type__"]
        if kind == "datetime":
            return parse_datetime(value.get("value"))
        if kind == "date":
            text = value.get("value")
            if not isinstance(text, str):
                raise ValueError(f"{text!r} is not an ISO 8601 date")
            return datetime.date.fromisoformat(text)
    return value
