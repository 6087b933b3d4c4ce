"""ShotGrid's integer ids: ``shotgrid_id``, one row per entity the ShotGrid endpoint has named.

ShotGrid scripts hold ids as integers (they compare them, sort by them, keep them in files);
our entities are keyed by uuids. The server keeps a stable integer per entity here: given
when the entity is created through ``/api3/json``, or the first time that endpoint answers
it (an entity made through ftrack's API). Integers count up from 1 in the order they are
given and are never reused, so a script's ``["id", "greater_than", n]`` keeps its meaning.
Not an entity: no query of ftrack's API reaches it. Revision ``0008`` makes it in an older
database.

``shotgrid_event`` numbers ShotGrid's EventLogEntry rows: per ``ftrack.update`` event of the
log, the id of its first entry and how many it has (:mod:`.eventlog`).

``shotgrid_retired`` keeps what ShotGrid's ``delete`` (a *retirement*) removed: the rows of
the entity and of everything the database deleted with it, as JSON, so ``revive`` puts the
very same rows back (:mod:`.retired`).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["define_tables"]

#: SQLite's AUTOINCREMENT (never reused) needs INTEGER; elsewhere a 64-bit identity.
NUMBER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def define_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """ShotGrid's tables, added to ``metadata`` (call before the tables are created)."""
    return {
        "shotgrid_id": sa.Table(
            "shotgrid_id", metadata,
            sa.Column("number", NUMBER, primary_key=True, autoincrement=True),
            sa.Column("entity_id", sa.Text, nullable=False, unique=True),
            sa.Column("entity_type", sa.Text, nullable=False),
            sqlite_autoincrement=True,
        ),
        "shotgrid_event": sa.Table(
            "shotgrid_event", metadata,
            sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("first", sa.BigInteger, nullable=False),
            sa.Column("count", sa.Integer, nullable=False),
            sa.Index("ix_shotgrid_event_first", "first"),  # an event of no entries shares its first with the next
        ),
        "shotgrid_retired": sa.Table(
            "shotgrid_retired", metadata,
            sa.Column("entity_id", sa.Text, primary_key=True),
            sa.Column("entity_type", sa.Text, nullable=False),
            sa.Column("rows", sa.Text, nullable=False),
            sa.Column("retired_at", sa.DateTime, nullable=False),
            sa.Column("retired_by", sa.Text),
            sa.Index("ix_shotgrid_retired_entity_type", "entity_type"),
        ),
    }  # fmt: skip
