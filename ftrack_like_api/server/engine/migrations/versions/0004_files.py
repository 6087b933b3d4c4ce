"""Add the uploads of the server location's files (``file_upload``) and the secret that signs their URLs.

Each upload the server hands out URLs for (``get_upload_metadata``) is a row, so any
worker receives its parts, says which it holds already (resume), and the abandoned ones
are cleaned up (``ftrack_like_api/server/files/``). Only a new table and a row of
``ftrack_like_meta``: the release before never reads them, so opening the database runs
this by itself. The table is listed here as it was made (not read from the code).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import secrets

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
    bind = op.get_bind()
    meta = sa.table("ftrack_like_meta", sa.column("key", sa.Text), sa.column("value", sa.Text))
    if bind.execute(sa.select(meta.c.value).where(meta.c.key == "files_signing_secret")).first() is None:
        # The secret of the files' signed URLs: made here, before any batch needs it.
        bind.execute(meta.insert().values(key="files_signing_secret", value=secrets.token_hex(32)))
    if "file_upload" in set(sa.inspect(bind).get_table_names()):
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
