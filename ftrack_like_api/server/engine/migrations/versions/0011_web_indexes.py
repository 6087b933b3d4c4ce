"""The web page's sheet: indexes on context serving its pages in a project of any size.

The sheet's default order walks a project's tree (``protocols/web/walk.py``): at each
place, its tasks and then its other children, each in ``name, id`` order, a page at a
time after the last row shown. ``context(parent_id, name, id)`` answers each of those
reads from one index range, so a page costs the same in a project of any size. Sorted by
status (or type), the sheet reads each status's tasks in turn, in id order:
``context(project_id, status_id, id)`` and ``(project_id, type_id, id)``. Only indexes
are added.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: ``serve`` and every opening of the database run it by themselves (see ``upgrades.py``).
additive = True

#: (index name, columns) on ``context``, named as ``Storage`` names them.
INDEXES = (
    ("ix_context_parent_id_name_id", ("parent_id", "name", "id")),
    ("ix_context_project_id_status_id_id", ("project_id", "status_id", "id")),
    ("ix_context_project_id_type_id_id", ("project_id", "type_id", "id")),
)


def upgrade() -> None:
    bind = op.get_bind()
    present = {index["name"] for index in sa.inspect(bind).get_indexes("context")}
    for name, columns in INDEXES:
        if name not in present:
            op.create_index(name, "context", list(columns))


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name="context")
