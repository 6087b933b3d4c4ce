"""Aquarium's items and edges that our model keeps no other way: ``aquarium_item``, ``aquarium_edge``.

An item of a mapped type (a Shot, a Task, a User …) *is* the entity of ours with the
same id; its row here only keeps the ``data`` keys our model has no attribute for (JSON,
numbers and nested objects as they were sent). An item of a type we have no counterpart
for (Lagoon's Person, a Properties item …) is kept here whole (``generic``), its ``name``
copied beside its data so meshQL sorts and filters on it like on a mapped one.

Likewise an edge our model holds (a Child edge is an entity's parent, an Assigned edge an
assignment) keeps only its ``data`` here; every other edge is kept here whole. One edge
per type, direction and pair (``uq_aquarium_edge``). Not entities: no query of ftrack's
API reaches them; revision ``0010`` makes them in an older database.

``aquarium_history`` indexes the event log by the item each event changes (``key``, the
log's ``seq``): an item's history (:mod:`.history`) is found there, not by matching the
text of the whole log. It is filled from the log as history is asked for (each event read
once); revision ``0012`` makes it.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["define_tables"]


def define_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Aquarium's tables, added to ``metadata`` (call before the tables are created)."""
    return {
        "aquarium_item": sa.Table(
            "aquarium_item", metadata,
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("type", sa.Text, nullable=False),
            sa.Column("generic", sa.Boolean, nullable=False),
            sa.Column("name", sa.Text),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("created_by", sa.Text),
            sa.Column("updated_by", sa.Text),
            sa.Index("ix_aquarium_item_type", "type"),
        ),
        "aquarium_edge": sa.Table(
            "aquarium_edge", metadata,
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("type", sa.Text, nullable=False),
            sa.Column("generic", sa.Boolean, nullable=False),
            sa.Column("from_key", sa.Text, nullable=False),
            sa.Column("to_key", sa.Text, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
            sa.UniqueConstraint("type", "from_key", "to_key", name="uq_aquarium_edge"),
            sa.Index("ix_aquarium_edge_to", "to_key", "type"),
            sa.Index("ix_aquarium_edge_from", "from_key", "type"),  # revision 0012
        ),
        "aquarium_history": sa.Table(  # revision 0012
            "aquarium_history", metadata,
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
            sa.Index("ix_aquarium_history_seq", "seq"),  # the last event indexed
        ),
    }  # fmt: skip
