"""Add Aquarium's item data and edges that our model keeps no other way (``protocols/aquarium``).

``aquarium_item`` (the data keys of an item that have no attribute of ours, or a whole
item of a type we have no counterpart for), ``aquarium_edge`` (an edge's data, or a whole
edge our model has no relation for).

New tables only: the release before never reads them, so opening the database runs this
by itself. The tables are listed here as they were made (not read from the code).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: New tables: ``serve`` and every opening of the database run it by themselves.
additive = True


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "aquarium_item" not in tables:
        op.create_table(
            "aquarium_item",
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("type", sa.Text, nullable=False),
            sa.Column("generic", sa.Boolean, nullable=False),
            sa.Column("name", sa.Text),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("created_by", sa.Text),
            sa.Column("updated_by", sa.Text),
        )
        op.create_index("ix_aquarium_item_type", "aquarium_item", ["type"])
    if "aquarium_edge" not in tables:
        op.create_table(
            "aquarium_edge",
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("type", sa.Text, nullable=False),
            sa.Column("generic", sa.Boolean, nullable=False),
            sa.Column("from_key", sa.Text, nullable=False),
            sa.Column("to_key", sa.Text, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
            sa.UniqueConstraint("type", "from_key", "to_key", name="uq_aquarium_edge"),
        )
        op.create_index("ix_aquarium_edge_to", "aquarium_edge", ["to_key", "type"])


def downgrade() -> None:
    op.drop_table("aquarium_edge")
    op.drop_table("aquarium_item")
