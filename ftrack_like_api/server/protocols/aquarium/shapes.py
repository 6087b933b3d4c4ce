"""Items and edges as Aquarium's client reads them.

An item: ``{_id: "items/<key>", _key, _rev, type, data, createdAt, updatedAt, createdBy,
updatedBy}`` (times in UTC with milliseconds); an edge: ``{_id: "connections/<key>", _key,
_rev, _from: "items/<key>", _to, type, data}``. An item's ``data`` is what it keeps beside
our entity with the attributes of ours laid over it (a name changed through ftrack's API
is the name Aquarium's client reads).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

__all__ = ["edge_of", "item_of", "stamp"]


def stamp(value: Any) -> str | None:
    """A time as Aquarium writes it: ``2024-05-01T10:00:00.000Z``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _rev(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:11]


def item_of(row: Any, columns: list[str], prefix: str = "") -> dict[str, Any]:
    """The item a row of the item relation is (its columns under ``prefix``)."""
    extra = row[prefix + "extra"]
    data = json.loads(extra) if extra else {}
    for name in columns:
        value = row[prefix + name]
        if value is not None:
            data[name] = value
    key = row[prefix + "key"]
    updated = row[prefix + "updated_at"]
    return {
        "_id": f"items/{key}", "_key": key, "_rev": _rev(key, updated, data), "type": row[prefix + "type"], "data": data,
        "createdAt": stamp(row[prefix + "created_at"]), "updatedAt": stamp(updated),
        "createdBy": row[prefix + "created_by"], "updatedBy": row[prefix + "updated_by"],
    }  # fmt: skip


def edge_of(row: Any, prefix: str = "") -> dict[str, Any] | None:
    """The edge a row of the edge relation is (None: the row has none)."""
    key = row[prefix + "key"]
    if key is None:
        return None
    data = json.loads(row[prefix + "data"] or "{}")
    return {
        "_id": f"connections/{key}", "_key": key, "_rev": _rev(key, data), "_from": f"items/{row[prefix + 'from_key']}",
        "_to": f"items/{row[prefix + 'to_key']}", "type": row[prefix + "type"], "data": data,
    }  # fmt: skip
