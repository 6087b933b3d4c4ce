"""What differs between SQLite and PostgreSQL, declared in one place.

Everything else in the server is one code path over SQLAlchemy Core.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ...exceptions import DatabaseError

__all__ = ["Dialect", "POSTGRESQL", "SQLITE", "check_folder", "dialect_for", "engine_url", "make_folder", "open_failure"]


@dataclasses.dataclass(frozen=True)
class Dialect:
    """The facts of one database that the server's SQL depends on."""

    name: str
    #: Most bound parameters one statement may carry.
    max_binds: int
    #: An ``in`` list longer than this is sent as one array/JSON parameter instead.
    long_in_list: int = 500
    #: Errors that mean "try the whole transaction again" (deadlock, serialization).
    retry_sqlstates: tuple[str, ...] = ()
    #: Whether NULLs sort before every value in ascending order (and after, descending).
    nulls_first: bool = False

    def in_values(self, column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
        """``column IN values`` with the values always bound, however many there are."""
        if not values:
            return sa.false()
        if len(values) <= self.long_in_list:
            return column.in_(values)
        if self.name == "postgresql":
            array_type = postgresql.ARRAY(column.type)
            return column == sa.any_(sa.bindparam(None, list(values), type_=array_type))
        # SQLite: one JSON parameter, unpacked by json_each.
        import json

        elements = sa.func.json_each(sa.bindparam(None, json.dumps(list(values), default=str))).table_valued("value")
        return column.in_(sa.select(elements.c.value))

    def rows_per_insert(self, columns: int) -> int:
        """How many rows one multi-row INSERT may carry with ``columns`` values each."""
        return max(1, min(1000, self.max_binds // max(1, columns)))


SQLITE = Dialect(name="sqlite", max_binds=32_766, nulls_first=True)
POSTGRESQL = Dialect(name="postgresql", max_binds=65_535, retry_sqlstates=("40001", "40P01"))


def dialect_for(url: str) -> Dialect:
    """The dialect of a database URL."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme == "sqlite":
        return SQLITE
    if scheme in ("postgresql", "postgres"):
        return POSTGRESQL
    raise ValueError(f"Unsupported database URL {url!r}: use sqlite:///path or postgresql://…")


def engine_url(url: str) -> str:
    """The SQLAlchemy URL for a user's URL: ``postgresql://`` is served by psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_folder(url: str, dialect: Dialect) -> None:
    """A SQLite file's folder must exist: say which one does not (SQLite says only "unable to open")."""
    if dialect.name != "sqlite":
        return
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = os.path.dirname(os.path.abspath(database))
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise DatabaseError(f"Cannot open the database {url}: the folder {folder} {what}"
                            + ("" if os.path.exists(folder) else " (`ftrack-like init` makes it, or mkdir -p it)"))  # fmt: skip


def make_folder(url: str) -> None:
    """Make a SQLite file's folder (and those above it) when it is missing: ``ftrack-like init``'s first step."""
    if not url.startswith("sqlite"):
        return
    try:
        database = sa.engine.make_url(url).database
    except sa.exc.ArgumentError:
        return  # not a URL at all: opening it says so
    if database and database != ":memory:" and not database.startswith("file:"):
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)


def open_failure(url: str, reason: str) -> str:
    """What to tell someone whose database would not open: the driver's ``reason`` and, when it is plain, the fix.

    PostgreSQL's database and role are made by whoever runs PostgreSQL, never by us: say how.
    """
    shown = sa.engine.make_url(url)
    said = f"Cannot open the database {shown.render_as_string(hide_password=True)}: {' '.join(reason.split())}"
    if shown.get_backend_name() != "postgresql":
        return said
    where = f"-h {shown.host or 'localhost'} -p {shown.port or 5432}"
    if f'database "{shown.database}" does not exist' in reason:
        owner = f" -O {shown.username}" if shown.username and shown.username != "postgres" else ""
        return f"{said}. Create it first, as PostgreSQL's administrator: createdb {where} -U postgres{owner} {shown.database}"
    if shown.username and f'role "{shown.username}" does not exist' in reason:
        return (f"{said}. Create the role first, as PostgreSQL's administrator: "
                f"psql {where} -U postgres -c 'CREATE ROLE \"{shown.username}\" LOGIN PASSWORD ...'")  # fmt: skip
    return said
