"""The JSON text of ``ftrack.update`` payloads, written piece by piece.

A batch of 10,000 creates tells 10,000 entries of about 1.5 KB each. Building them as
dicts and handing those to ``json.dumps`` cost more than the batch's own inserts, so the
payload is written as text instead, from what the writer recorded:

- :func:`value` encodes one value as events carry it (dates as ISO text in UTC, exact
  numbers as floats), by its type;
- :func:`column` encodes a column of values (one attribute of many rows) at once;
- :class:`AddTemplates` writes ``add`` entries a column at a time, with one ``%`` template
  per type and set of attribute names (nearly every create of a batch has the same names
  in the same order), so an entry costs one formatting of its encoded values;
- :func:`entry` writes any other entry (updates, removes, entries merged from several
  changes) from its parts; :func:`node_template` the template of one element of ``parents``.

What is written decodes to what ``json.dumps`` gives for the same payload as dicts
(``tests/server/test_events_text.py`` compares them).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from ...exceptions import ValidationError

__all__ = ["AddTemplates", "column", "entry", "node_template", "value", "values"]

#: ``"text"`` with JSON's escapes, ASCII only (as ``json.dumps`` writes by default).
string: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]

#: How many templates are kept; past that they are forgotten and made again.
KEPT = 512


def _float(number: float) -> str:
    if math.isfinite(number):
        return float.__repr__(number)
    raise ValidationError(f"An event's values are JSON, not {number!r}", "bad_event")


@functools.lru_cache(maxsize=256)
def _naive_datetime(moment: datetime.datetime) -> str:
    # The stored form: naive UTC. A batch stamps many rows with the same moment: encoded once.
    return f'"{moment.isoformat()}+00:00"'


def _datetime(moment: datetime.datetime) -> str:
    return _naive_datetime(moment) if moment.tzinfo is None else f'"{moment.isoformat()}"'


def _iso(found: Any) -> Any:
    if isinstance(found, (datetime.datetime, datetime.date)):
        return found.isoformat()
    raise ValidationError(f"An event's values are JSON, not {type(found).__name__}", "bad_event")


def _other(found: Any) -> str:
    """Anything without a fast path (lists, objects, subclasses): ``json.dumps``."""
    try:
        return json.dumps(found, separators=(",", ":"), default=_iso, allow_nan=False)
    except ValueError as error:
        raise ValidationError(f"An event's values are JSON: {error}", "bad_event") from None


#: The encoder of each type a row holds, by exact type.
_BY_TYPE: dict[type, Callable[[Any], str]] = {
    str: string,
    int: int.__repr__,
    bool: lambda flag: "true" if flag else "false",
    type(None): lambda _: "null",
    float: _float,
    datetime.datetime: _datetime,
    datetime.date: lambda day: f'"{day.isoformat()}"',
    decimal.Decimal: lambda number: _float(float(number)),
}


def value(found: Any) -> str:
    """``found`` as JSON text, as an event carries it: a naive datetime is UTC (``+00:00``), a
    :class:`~decimal.Decimal` a float; a value JSON cannot carry is a ValidationError ``bad_event``."""
    encode = _BY_TYPE.get(type(found))
    return encode(found) if encode is not None else _other(found)


def values(found: tuple[Any, ...] | list[Any]) -> list[str]:
    """Each of ``found`` as :func:`value` writes it."""
    by_type = _BY_TYPE
    try:
        return [by_type[type(v)](v) for v in found]
    except KeyError:
        return [value(v) for v in found]


def column(found: list[Any] | tuple[Any, ...]) -> list[str]:
    """Each of ``found`` as :func:`value` writes it: one type's encoder over all when they are of one
    type, and text or datetimes repeated (a parent's id, a batch's time) encoded once."""
    kinds = set(map(type, found))
    kind = kinds.pop() if len(kinds) == 1 else None
    encode = _BY_TYPE.get(kind) if kind is not None else None
    if encode is None:
        return list(map(value, found))
    if kind is str or kind is datetime.datetime:
        distinct = set(found)
        # Equal values write alike (not so aware datetimes: one instant in two zones).
        if len(distinct) * 2 <= len(found) and (kind is str or all(v.tzinfo is None for v in distinct)):
            return list(map({v: encode(v) for v in distinct}.__getitem__, found))
    return list(map(encode, found))


def _literal(text: str) -> str:
    """Fixed text in a ``%`` template."""
    return text.replace("%", "%%")


def node_template(entity_type: str, legacy: str) -> str:
    """The ``%`` template of one element of ``parents``: filled with the encoded id and parentId."""
    return f'{{"entityId":%s,"entityType":{_literal(string(legacy))},"entity_type":{_literal(string(entity_type))},"parentId":%s}}'


def _head(action: str, legacy: str, entity_type: str, entity_id: str) -> str:
    return f'{{"action":{string(action)},"entityId":{entity_id},"entityType":{string(legacy)},"entity_type":{string(entity_type)}'


def entry(
    action: str, entity_id: Any, legacy: str, entity_type: str, changes: Mapping[str, tuple[Any, Any]],
    object_type: tuple[Any] | None, parents: str, parent_id: str,
) -> str:  # fmt: skip
    """One entry of ``data.entities``: ``changes`` by name as (old, new), ``object_type`` a 1-tuple
    when the entry has ``objectTypeId``; ``parents`` the text inside its list, ``parent_id`` encoded."""
    keys = ",".join(string(name) for name in changes)
    told = ",".join(f'{string(name)}:{{"old":{value(old)},"new":{value(new)}}}' for name, (old, new) in changes.items())
    typed = "" if object_type is None else f',"objectTypeId":{value(object_type[0])}'
    return (f'{_head(action, legacy, entity_type, value(entity_id))},"keys":[{keys}],"changes":{{{told}}}{typed},'
            f'"parents":[{parents}],"parentId":{parent_id}}}')  # fmt: skip


class AddTemplates:
    """``add`` entries of created rows, a column of values at a time, one ``%`` template per type and names."""

    def __init__(self) -> None:
        #: (type, the names told, whether it has objectTypeId) -> the template
        self._templates: dict[tuple[str, tuple[str, ...], bool], str] = {}

    def texts(
        self, entity_type: str, legacy: str, shown: Mapping[str, str], names: tuple[str, ...],
        columns: list[Any], ids: list[Any], object_types: list[Any] | None, tails: list[str],
        parent_ids: list[Any],
    ) -> list[str]:  # fmt: skip
        """The entries of rows of one type that hold ``names`` (``columns``: the values of each, in
        turn): every value set, old None. ``shown`` gives the name each goes under; with
        ``object_types`` they carry objectTypeId; ``tails``: ``,`` and the text of the chain above
        each (or ""), after its own element of ``parents``."""
        typed = object_types is not None
        id_text, parent_text = column(ids), column(parent_ids)
        if not any(None in found for found in columns):
            template = self.template(entity_type, legacy, shown, names, typed)
            encoded = [column(found) for found in columns]
            if object_types is not None:
                encoded.append(column(object_types))
            return list(map(template.__mod__, zip(id_text, *encoded, id_text, parent_text, tails, parent_text)))
        told = []  # values not set are not told: the names differ from row to row
        for index, row in enumerate(zip(*columns)):
            present = tuple(name for name, found in zip(names, row) if found is not None)
            template = self.template(entity_type, legacy, shown, present, typed)
            fields = values([found for found in row if found is not None])
            if object_types is not None:
                fields.append(value(object_types[index]))
            told.append(template % (id_text[index], *fields, id_text[index], parent_text[index], tails[index],
                                    parent_text[index]))  # fmt: skip
        return told

    def template(self, entity_type: str, legacy: str, shown: Mapping[str, str], names: tuple[str, ...], typed: bool) -> str:
        """Filled with the id, each value of ``names``, (objectTypeId,) the id and parentId (of its own
        element of ``parents``), the tail of ``parents`` and parentId, all encoded."""
        key = (entity_type, names, typed)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= KEPT:
                self._templates.clear()
            keys = ",".join(string(shown[name]) for name in names)
            told = ",".join(f'{_literal(string(shown[name]))}:{{"old":null,"new":%s}}' for name in names)
            head = _literal(_head("add", legacy, entity_type, "\0")).replace("\0", "%s")
            typed_text = ',"objectTypeId":%s' if typed else ""
            template = self._templates[key] = (
                f'{head},"keys":[{_literal(keys)}],"changes":{{{told}}}{typed_text},'
                f'"parents":[{node_template(entity_type, legacy)}%s],"parentId":%s}}')  # fmt: skip
        return template
