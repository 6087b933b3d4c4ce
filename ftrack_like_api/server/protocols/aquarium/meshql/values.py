"""Aquarium's ``data`` values in SQL, per database: JSON read where it is kept, compared as AQL does.

On SQLite a data value is ``json_extract``'s native value; on PostgreSQL a ``jsonb`` (so a
number compares as a number and a text as a text on both). A key a mapped type keeps in an
attribute of ours is read from that column first. A missing key is null.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

__all__ = ["JsonValues"]


class JsonValues:
    """How one database reads a data path and writes a literal to compare with it."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def read(self, document: Any, keys: Sequence[str], column: Any = None) -> sa.ColumnElement[Any]:
        """The value at ``keys`` in the JSON text ``document``; ``column`` (an attribute of ours) first when given."""
        if self.postgres:
            found: Any = sa.func.nullif(sa.func.jsonb_extract_path(sa.cast(document, JSONB), *[sa.literal(k) for k in keys]),
                                        sa.cast(sa.literal("null"), JSONB))  # fmt: skip
            return sa.func.coalesce(sa.func.to_jsonb(column), found) if column is not None else found
        path = "$" + "".join("." + json.dumps(k) for k in keys)
        found = sa.func.json_extract(document, sa.literal(path))
        return sa.func.coalesce(column, found) if column is not None else found

    def text(self, document: Any, keys: Sequence[str], column: Any = None) -> sa.ColumnElement[Any]:
        """The value at ``keys`` as text (for LIKE)."""
        if self.postgres:
            found = sa.func.jsonb_extract_path_text(sa.cast(document, JSONB), *[sa.literal(k) for k in keys])
            return sa.func.coalesce(column, found) if column is not None else found
        return sa.cast(self.read(document, keys, column), sa.Text)

    def literal(self, value: Any) -> sa.ColumnElement[Any]:
        """``value`` as a bound value comparable with :meth:`read`."""
        if self.postgres:
            return sa.cast(sa.literal(json.dumps(value)), JSONB)
        if isinstance(value, bool):
            return sa.literal(int(value))
        if isinstance(value, (dict, list)):
            return sa.literal(json.dumps(value, separators=(",", ":")))
        return sa.literal(value)
