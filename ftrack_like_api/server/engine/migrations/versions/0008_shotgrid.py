"""Add ShotGrid's integer ids of entities (``shotgrid_id``), for ``/api3/json``.

A new table only: the release before never reads it, so opening the database runs this by
itself. The table is listed here as it was made (not read from the code).

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

#: A new table: ``serve`` and every opening of the database run it by themselves.
additive = True


def upgrade() -> None:
    if "shotgrid_id" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "shotgrid_id",
        sa.Column("number", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("entity_id", sa.Text, nullable=False, unique=True),
        sa.Column("entity_type", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("shotgrid_id")
