"""An index on ``context(project_id, created_at, id)``: a project's entities in the order they were made.

ShotGrid's endpoint pages a ``find`` with no sort, as ShotGrid does, in the order of its
integer ids — the order entities were made: ``order by created_at, id`` (the ``order_id``
of a type in ``protocols/shotgrid/mapping.json``). Without an index giving that order,
every page of a project's shots sorted them all again (SQLite: 10,000 shots sorted for each
of 20 pages). ``context(project_id, created_at, id)`` reads them in order from one index
range. Only an index is added.

Revision ID: 0017
Revises: 0015
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

#: Only an index: ``serve`` and every opening of the database run it by themselves (see ``upgrades.py``).
additive = True

#: (index name, columns) on ``context``, named as ``Storage`` names them.
INDEXES = (("ix_context_project_id_created_at_id", ("project_id", "created_at", "id")),)


def upgrade() -> None:
    with warnings.catch_warnings():  # SQLite's expression indexes (``lower(name)``, 0015) are not reflected
        warnings.filterwarnings("ignore", ".*expression-based index")
        present = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("context")}
    for name, columns in INDEXES:
        if name not in present:
            op.create_index(name, "context", list(columns))


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name="context")
