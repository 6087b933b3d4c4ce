"""Add the uploads of the server location's files: ``file_upload``.

Each upload the server hands out URLs for (``get_upload_metadata``) is a row, so any
worker receives its parts, says which it holds already (resume), and the abandoned ones
are cleaned up (``ftrack_like_api/server/files/``). Only a new table: the release before
never reads it, so opening the database runs this by itself. The table is listed here as
it was made (not read from the code).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Only a new table: ``serve`` and every opening of the database run it by themselves.
additive = True


def upgrade() -> None:
    if "file_upload" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "file_upload",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("component_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text),
        sa.Column("file_name", sa.Text),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("part_size", sa.BigInteger, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("checksum", sa.Text),
        sa.Column("store_ref", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("completed_at", sa.DateTime),
    )
    op.create_index("ix_file_upload_component_id", "file_upload", ["component_id"])
    op.create_index("ix_file_upload_created_at", "file_upload", ["created_at"])


def downgrade() -> None:
    op.drop_table("file_upload")
