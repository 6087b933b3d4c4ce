"""Aquarium's kept edges found by their source: an index on ``aquarium_edge(from_key, type)``.

The edges kept beside our relations (``protocols/aquarium``) were indexed by target
(``ix_aquarium_edge_to``) and by ``(type, from_key, to_key)`` (the unique constraint): a
lookup by source alone — the cleanup after an entity is deleted through any API
(``from_key IN …``), deleting an item's edges (``from_key = … OR to_key = …``), a walk's
out-steps — read the whole table. ``(from_key, type)`` answers each from one index range.
Only an index is added.

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
    present = {index["name"] for index in sa.inspect(bind).get_indexes("aquarium_edge")}
    for name, columns in INDEXES:
        if name not in present:
            op.create_index(name, "aquarium_edge", list(columns))


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name="aquarium_edge")
