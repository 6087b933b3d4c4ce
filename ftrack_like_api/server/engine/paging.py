"""Keyset paging: the order a page is read in, the cursor to the next page, and reading after it.

A query's rows are ordered by its ``order by`` keys, then by the primary key (in the
direction of the last key, so one index serves the whole order), so the order is total.
The answer's ``metadata.next`` carries, besides ftrack's ``offset``, ``after``: an opaque
cursor holding the last row's sort values and key. A ``query`` operation that sends it
back reads from just after that row instead of skipping ``offset`` rows, so page 200
costs what page 1 does and a row inserted meanwhile shifts nothing.

Reading after a cursor is a few *segments*, each a plain conjunction the database
answers from an index range: for ``order by name`` after ``("comp", id7)``, the rows with
``(name, id) > ('comp', id7)`` (a row-value comparison, one index range on both
databases), then — where the database sorts NULLs last, as PostgreSQL does ascending —
the rows with ``name IS NULL``. Segments run one after another until the page is full;
usually the first fills it. The cursor's values are bound parameters, so a segment's
statement is kept by shape like any other (:mod:`.statements`).

A cursor names the entity type and order it was made for; another query's cursor, or
text that is not a cursor, is a :class:`QueryError` (a 400 answer).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import json
import sys
from typing import Any, Sequence

import sqlalchemy as sa

from ...exceptions import QueryError
from ...query import ast
from ...schema import EntityType
from .compiler import Compiler

__all__ = ["Keys", "MAX_CURSOR"]

#: The longest cursor accepted (characters): far past a real one, short of a burden.
MAX_CURSOR = 8192
#: The bind parameters of a cursor's values are named this and the key's place.
CURSOR = "__after"


@dataclasses.dataclass(frozen=True)
class _Key:
    column: sa.ColumnElement[Any]
    descending: bool
    nullable: bool


class Keys:
    """The sort keys of one query on one table: its ``order by`` keys, then the primary key."""

    def __init__(self, compiler: Compiler, entity_type: EntityType, table: sa.FromClause, query: ast.Query, text: str) -> None:
        self.nulls_first = compiler.dialect.nulls_first
        keys = [
            _Key(compiler.order_column(entity_type, table, key.path, text), key.descending, True) for key in query.order_by
        ]  # fmt: skip
        last = keys[-1].descending if keys else False
        keys += [_Key(table.c[name], last, False) for name in entity_type.primary_key]
        self.keys = keys
        self.primary_key = entity_type.primary_key
        self.ordered = len(query.order_by)
        order = ",".join(f"{key.path}{' desc' if key.descending else ''}" for key in query.order_by)
        self.signature = hashlib.sha1(f"{entity_type.name}|{order}".encode()).hexdigest()[:12]

    def order_by(self) -> list[sa.ColumnElement[Any]]:
        """The ORDER BY clauses: the query's keys, then the primary key."""
        return [key.column.desc() if key.descending else key.column.asc() for key in self.keys]

    def around(self, page: sa.Subquery) -> list[sa.ColumnElement[Any]]:
        """The ORDER BY clauses of a select over ``page``, a subquery selecting :meth:`labelled` and the primary key:
        the same order as :meth:`order_by`'s."""
        columns = [page.c[f"__order_{n}"] for n in range(self.ordered)] + [page.c[name] for name in self.primary_key]
        return [column.desc() if key.descending else column.asc() for column, key in zip(columns, self.keys)]

    def labelled(self) -> list[sa.ColumnElement[Any]]:
        """The ``order by`` values to select beside a row's columns (``__order_0`` …), for its cursor."""
        return [key.column.label(f"__order_{n}") for n, key in enumerate(self.keys[: self.ordered])]

    def cursor(self, row: Sequence[Any], index: dict[str, int]) -> str:
        """The cursor naming ``row`` (selected with :meth:`labelled`; ``index`` maps column names to positions)."""
        values = [row[index[f"__order_{n}"]] for n in range(self.ordered)] + [row[index[k]] for k in self.primary_key]
        text = json.dumps([self.signature, [_dump(value) for value in values]], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def values(self, cursor: Any, text: str) -> list[Any]:
        """The sort values a cursor holds; a QueryError when it is not one of this query's."""
        if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR:
            raise QueryError("'after' is the cursor a previous page gave in metadata.next.after (text)", text)
        try:
            signature, values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if signature != self.signature:
                raise QueryError(
                    "The cursor in 'after' was given for another query's order; page on with the same expression", text
                )
            if not isinstance(values, list) or len(values) != len(self.keys):
                raise ValueError("not as many values as keys")
            loaded = [_load(value) for value in values]
        except QueryError:
            raise
        except (ValueError, TypeError) as error:  # binascii.Error and json's errors are ValueErrors
            raise QueryError(f"'after' is not a cursor this server gave ({error})", text) from None
        for value, key in zip(loaded, self.keys):
            if (value is None and not key.nullable) or (value is not None and not _fits(value, key.column.type)):
                raise QueryError(f"'after' is not a cursor this server gave ({value!r} is no sort value here)", text)
        return loaded

    def parameters(self, values: Sequence[Any]) -> dict[str, Any]:
        """The bound parameters of :meth:`segments` for a cursor's ``values``."""
        return {f"{CURSOR}{n}": value for n, value in enumerate(values) if value is not None}

    def segments(self, values: Sequence[Any]) -> list[sa.ColumnElement[bool]]:
        """Conditions for the rows after ``values``, in order: the rows of each come before the next's.

        Consecutive keys in one direction become one row-value comparison (one index range);
        a key's NULLs, where they sort after its values, are a segment of their own. The
        values are bind parameters (:meth:`parameters`): the conditions depend only on which
        values are NULL, so one statement serves every cursor of that pattern.
        """
        segments: list[sa.ColumnElement[bool]] = []
        run: list[int] = []  # keys (innermost last) of the row-value comparison being gathered
        bound = [sa.bindparam(f"{CURSOR}{n}", type_=key.column.type) for n, key in enumerate(self.keys)]

        def prefix(end: int) -> list[sa.ColumnElement[bool]]:
            return [self.keys[n].column.is_(None) if values[n] is None else self.keys[n].column == bound[n]
                    for n in range(end)]  # fmt: skip

        def flush() -> None:
            if run:
                first = run[0]
                columns = [self.keys[n].column for n in run]
                later = _row(columns).__lt__ if self.keys[first].descending else _row(columns).__gt__
                segments.append(sa.and_(*prefix(first), later(_row([bound[n] for n in run]))))
                run.clear()

        for n in reversed(range(len(self.keys))):
            key, value = self.keys[n], values[n]
            nulls_later = key.nullable and self.nulls_first == key.descending
            if value is None:
                flush()
                if not nulls_later:  # in the NULLs, which come first: every value is later
                    segments.append(sa.and_(*prefix(n), key.column.is_not(None)))
                continue
            if run and self.keys[run[0]].descending != key.descending:
                flush()
            run.insert(0, n)
            if nulls_later:
                flush()
                segments.append(sa.and_(*prefix(n), key.column.is_(None)))
        flush()
        return segments


def _row(columns: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
    return columns[0] if len(columns) == 1 else sa.tuple_(*columns)


_LARGEST = sys.float_info.max


def _fits(value: Any, kind: sa.types.TypeEngine[Any]) -> bool:
    try:
        expected = kind.python_type
    except NotImplementedError:
        return True
    if isinstance(value, bool):
        return expected is bool
    if expected is float:  # finite, and as a float: NaN would compare with nothing, a huge int not bind
        return isinstance(value, (int, float)) and abs(value) <= _LARGEST and value == value
    if expected is int:  # what the database counts in (64 bits)
        return isinstance(value, int) and -(2**63) <= value < 2**63
    if expected is datetime.date:
        return isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)
    if expected is datetime.datetime:  # the columns hold naive UTC, and so do the cursors made of them
        return isinstance(value, datetime.datetime) and value.tzinfo is None
    return isinstance(value, expected)


def _dump(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"d": value.isoformat()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return float(value)  # a Decimal from PostgreSQL


def _load(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, text),) = value.items()
        if kind == "t" and isinstance(text, str):
            return datetime.datetime.fromisoformat(text)
        if kind == "d" and isinstance(text, str):
            return datetime.date.fromisoformat(text)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"{type(value).__name__} is not a sort value")
