"""Aquarium's kept edges found by their source, and an item's history found by its key.

An index on ``aquarium_edge(from_key, type)``, and the table ``aquarium_history``.

The edges kept beside our relations (``protocols/aquarium``) were indexed by target
(``ix_aquarium_edge_to``) and by ``(type, from_key, to_key)`` (the unique constraint): a
lookup by source alone — the cleanup after an entity is deleted through any API
(``from_key IN …``), deleting an item's edges (``from_key = … OR to_key = …``), a walk's
out-steps — read the whole table. ``(from_key, type)`` answers each from one index range.

An item's history (``GET /v1/items/<key>/history``) matched the item's key against the
text of every event of the log. ``aquarium_history(key, seq)`` indexes the log by the
item each event changes (filled from the log as history is asked for, each event read
once: ``protocols/aquarium/history.py``). Only an index and a new table are added.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: ``serve`` and every opening of the database run it by themselves (see ``upgrades.py``).
additive = True

#: (index name, columns) on ``aquarium_edge``, named as ``protocols/aquarium/tables.py`` names them.
INDEXES = (("ix_aquarium_edge_from", ("from_key", "type")),)


def upgrade() -> None:
    bind = op.get_bind()
    if "aquarium_history" not in set(sa.inspect(bind).get_table_names()):
        op.create_table(
            "aquarium_history",
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        )
        op.create_index("ix_aquarium_history_seq", "aquarium_history", ["seq"])
    present = {index["name"] for index in sa.inspect(bind).get_indexes("aquarium_edge")}
    for name, columns in INDEXES:
        if name not in present:
            op.create_index(name, "aquarium_edge", list(columns))


def downgrade() -> None:
    op.drop_table("aquarium_history")
    for name, _ in INDEXES:
        op.drop_index(name, table_name="aquarium_edge")
