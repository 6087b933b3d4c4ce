"""Add ShotGrid's integer ids of entities and of event rows, and its retired rows, for ``/api3/json``.

``shotgrid_id`` (an entity's integer id), ``shotgrid_event`` (the ids of each event's
EventLogEntry rows), ``shotgrid_retired`` (what a retirement deleted, for revive).

A new table only: the release before never reads it, so opening the database runs this by
itself. The table is listed here as it was made (not read from the code).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: A new table: ``serve`` and every opening of the database run it by themselves.
additive = True


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "shotgrid_event" not in tables:
        op.create_table(
            "shotgrid_event",
            sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("first", sa.BigInteger, nullable=False),
            sa.Column("count", sa.Integer, nullable=False),
        )
        op.create_index("ix_shotgrid_event_first", "shotgrid_event", ["first"])
    if "shotgrid_retired" not in tables:
        op.create_table(
            "shotgrid_retired",
            sa.Column("entity_id", sa.Text, primary_key=True),
            sa.Column("entity_type", sa.Text, nullable=False),
            sa.Column("rows", sa.Text, nullable=False),
            sa.Column("retired_at", sa.DateTime, nullable=False),
            sa.Column("retired_by", sa.Text),
        )
        op.create_index("ix_shotgrid_retired_entity_type", "shotgrid_retired", ["entity_type"])
    if "shotgrid_id" in tables:
        return
    op.create_table(
        "shotgrid_id",
        sa.Column("number", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("entity_id", sa.Text, nullable=False, unique=True),
        sa.Column("entity_type", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("shotgrid_event")
    op.drop_table("shotgrid_retired")
    op.drop_table("shotgrid_id")
