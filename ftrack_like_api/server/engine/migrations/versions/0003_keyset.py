"""Keyset paging: indexes on context serving the name order with its id tie-break.

A query answered page by page reads each page after the last row of the one before
(``metadata.next.after``), ordered by its keys and then by ``id``. These indexes serve
that order for the common listings (``order by name``, in a project or across the
studio) and the deep offsets of the same order. ``context(project_id, id)``, for a
project's unordered listing, was already there. Only indexes are added.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: ``serve`` and every opening of the database run it by themselves (see ``upgrades.py``).
additive = True

#: (index name, columns) on ``context``, named as ``Storage`` names them.
INDEXES = (("ix_context_name_id", ("name", "id")), ("ix_context_project_id_name_id", ("project_id", "name", "id")))


def upgrade() -> None:
    bind = op.get_bind()
    present = {index["name"] for index in sa.inspect(bind).get_indexes("context")}
    for name, columns in INDEXES:
        if name not in present:
            op.create_index(name, "context", list(columns))


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name="context")
