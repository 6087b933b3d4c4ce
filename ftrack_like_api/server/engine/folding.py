"""Text that compares without case: ``name is "task"`` finds the object type ``Task``.

ftrack's server keeps its data in MySQL, whose default collation compares text without
case, and ftrack's own examples count on it (``ObjectType where name is "task"``). Here
``is``, ``is_not`` and an ``in`` list compare a *text* attribute without the case of the
letters A to Z; identifiers (``id``, ``…_id``, references) and hidden attributes compare
exactly, so a lookup by key keeps its index. Ordering (``>``, ``order by``) is unchanged,
and ``like`` already ignored case.

Both databases fold the same letters: SQLite's ``lower()`` changes A–Z only, and
PostgreSQL's does the same under the ``C`` collation (``lower(name COLLATE "C")``), where
under the database's own it would fold every alphabet. Each text attribute that has an
index gets a second one on its folded value (:func:`folded_indexes`), so a name lookup
is one index read on either database.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from ...schema import Attribute
from .dialects import Dialect

__all__ = ["FOLDED_TYPES", "fold_text", "folded", "folded_indexes", "folds"]

#: The attribute types whose values compare without case.
FOLDED_TYPES = frozenset({"string", "text"})

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def folds(attribute: Attribute) -> bool:
    """Whether ``attribute`` compares without case (text that is not an identifier)."""
    if (attribute.type or "string") not in FOLDED_TYPES or attribute.references or attribute.hidden:
        return False
    return attribute.name != "id" and not attribute.name.endswith("_id")


def folded(value: Any, dialect: Dialect) -> sa.ColumnElement[Any]:
    """``value`` (a column or a bound value) with A–Z lowered, the same on both databases."""
    if dialect.name == "postgresql":
        return sa.func.lower(sa.type_coerce(value, sa.Text).collate("C"))
    return sa.func.lower(value)


def fold_text(value: str) -> str:
    """``value`` with A–Z lowered, as :func:`folded` lowers it in the database."""
    return value.translate(_ASCII_LOWER)


def folded_indexes(table: str, columns: Iterable[sa.Column[Any]], dialect: Dialect) -> list[sa.Index]:
    """An index on the folded value of each of ``columns`` (``ix_<table>_<column>_folded``)."""
    return [sa.Index(f"ix_{table}_{column.name}_folded", folded(column, dialect)) for column in columns]
