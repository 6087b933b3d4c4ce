"""Add the event log: ``event_log``, the listeners' ``event_cursor`` and ``event_parked``.

Every committed batch that writes appends its ``ftrack.update`` event to ``event_log``,
and published events go there too (``ftrack_like_api/server/events/``). Only new tables:
the release before never reads them, so opening the database runs this by itself. The
tables are listed here as they were made (not read from the code), so a later change to
the code does not change what this revision does.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Only new tables: ``serve`` and every opening of the database run it by themselves.
additive = True


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "event_log" not in existing:
        op.create_table(
            "event_log",
            sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
            sa.Column("id", sa.Text, nullable=False, unique=True),
            sa.Column("topic", sa.Text, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("target", sa.Text, nullable=False),
            sa.Column("in_reply_to", sa.Text),
            sa.Column("sent", sa.DateTime, nullable=False),
            sa.Column("user_id", sa.Text),
            sa.Column("project_id", sa.Text),
            sqlite_autoincrement=True,
        )
        op.create_index("ix_event_log_topic_seq", "event_log", ["topic", "seq"])
        op.create_index("ix_event_log_sent", "event_log", ["sent"])
    if "event_cursor" not in existing:
        op.create_table(
            "event_cursor",
            sa.Column("user_id", sa.Text, primary_key=True),
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("seq", sa.BigInteger, nullable=False),
            sa.Column("updated", sa.DateTime, nullable=False),
        )
    if "event_parked" not in existing:
        op.create_table(
            "event_parked",
            sa.Column("user_id", sa.Text, primary_key=True),
            sa.Column("cursor", sa.Text, primary_key=True),
            sa.Column("seq", sa.BigInteger, primary_key=True),
            sa.Column("event_id", sa.Text, nullable=False),
            sa.Column("error", sa.Text, nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("parked_at", sa.DateTime, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("event_parked")
    op.drop_table("event_cursor")
    op.drop_table("event_log")
