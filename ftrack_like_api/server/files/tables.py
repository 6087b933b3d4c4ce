"""The table of uploads: ``file_upload``, one row per upload the server handed out URLs for.

It lives beside the entity tables but is not an entity: no query reaches it. Times are naive UTC.
Revision ``0004`` of ``engine/migrations`` makes it in a database of the release before.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["define_tables"]


def define_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The files' tables, added to ``metadata`` (call before the tables are created)."""
    return {
        "file_upload": sa.Table(
            "file_upload", metadata,
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
            sa.Index("ix_file_upload_component_id", "component_id"),
            sa.Index("ix_file_upload_created_at", "created_at"),
        ),
    }  # fmt: skip
