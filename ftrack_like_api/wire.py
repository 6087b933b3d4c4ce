"""Values on the wire, shared by client and server.

ftrack's JSON protocol writes datetimes and dates as tagged objects::

    {"__type__": "datetime", "value": "2023-10-10T09:50:34"}
    {"__type__": "date", "value": "2023-10-10"}

A server writes datetimes as naive UTC; clients may send them with an offset.
Everything in this module works in aware UTC datetimes on the Python side.

Entities travel as ``{"__entity_type__": T, <attributes>}`` and references to them as
``{"__entity_type__": T, <primary key>}``. This module imports nothing of the client:
an object the wire writes as a reference is a :class:`Referable` (the client's entities
are), and :func:`decode` hands every entity it meets to the caller's ``entity`` function.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any, Callable

__all__ = [
    "Referable",
    "decode",
    "decode_value",
    "encode",
    "encode_date",
    "encode_datetime",
    "encode_value",
    "parse_datetime",
    "to_utc",
]

UTC = datetime.timezone.utc
#: Types the wire carries as they are.
_PLAIN = frozenset({str, int, float, bool, type(None)})


class Referable:
    """Base of the objects the wire writes as references: ``{"__entity_type__": T, <primary key>}``."""

    __slots__ = ()

    def wire_reference(self) -> dict[str, Any]:
        """This object as a reference on the wire."""
        raise NotImplementedError


def encode_datetime(value: datetime.datetime) -> dict[str, str]:
    """A datetime as the server writes it: naive ISO 8601 in UTC."""
    if value.tzinfo is None:  # UTC already, as the database gives them: nothing to convert
        return {"__type__": "datetime", "value": value.isoformat()}
    return {"__type__": "datetime", "value": to_utc(value).replace(tzinfo=None).isoformat()}


def encode_date(value: datetime.date) -> dict[str, str]:
    """A date as the wire tags it: ``{"__type__": "date", "value": "2023-10-10"}``."""
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
    """A tagged wire value → datetime (aware UTC) or date; anything else unchanged.

    Datetimes, most of what a query brings back tagged, take a fast path.
    """
    if isinstance(value, dict) and "__type__" in value:
        kind = value["__type__"]
        if kind == "datetime":
            text = value.get("value")
            try:
                moment = datetime.datetime.fromisoformat(text)  # type: ignore[arg-type]
            except (ValueError, TypeError):
                return parse_datetime(text)  # type: ignore[arg-type]  # 'Z' before 3.11, a bare date, errors
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if kind == "date":
            text = value.get("value")
            if not isinstance(text, str):
                raise ValueError(f"{text!r} is not an ISO 8601 date")
            return datetime.date.fromisoformat(text)
    return value


def encode_value(value: Any) -> Any:
    """A value as the wire carries it: references for :class:`Referable`, datetimes and dates tagged, lists."""
    if type(value) in _PLAIN:  # most values: no isinstance walk through the ABCs
        return value
    if isinstance(value, datetime.datetime):
        return encode_datetime(value)
    if isinstance(value, datetime.date):
        return encode_date(value)
    if isinstance(value, Referable):
        return value.wire_reference()
    if isinstance(value, (list, tuple)) or (isinstance(value, Sequence) and not isinstance(value, (str, bytes))):
        return [encode_value(item) for item in value]
    return value


def encode(data: Any) -> str:
    """``data`` (mappings, lists and values) as JSON text; :class:`Referable` objects as references."""

    def walk(value: Any) -> Any:
        if isinstance(value, Mapping) and not isinstance(value, Referable):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(item) for item in value]
        return encode_value(value)

    return json.dumps(walk(data))


def decode(text: str, entity: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """JSON text → values: tagged values decoded, each entity (``__entity_type__``) given to ``entity``.

    Without ``entity``, entities stay the dicts they are (their values decoded).
    """

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if "__entity_type__" in value and entity is not None:
                return entity(value)
            if "__type__" in value:
                return decode_value(value)
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(json.loads(text))
