"""The tables of the event log: the events, the listeners' cursors, and the events they parked.

They live beside the entity tables but are not entities: no query reaches them. (The
entity type ``Event``, ftrack's activity feed, has the table ``event``: the log is
``event_log``.) Times are naive UTC.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["define_tables"]

#: The sequence number: SQLite's AUTOINCREMENT (never reused, even once the newest rows are
#: pruned) needs the column to be INTEGER; elsewhere a 64-bit identity.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def define_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The event log's tables, added to ``metadata`` (call before the tables are created)."""
    return {
        "event_log": sa.Table(
            "event_log", metadata,
            sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
            sa.Column("id", sa.Text, nullable=False, unique=True),
            sa.Column("topic", sa.Text, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("target", sa.Text, nullable=False),
            sa.Column("in_reply_to", sa.Text),
            sa.Column("sent", sa.DateTime, nullable=False),
            sa.Column("user_id", sa.Text),
            sa.Column("project_id", sa.Text),
            sa.Index("ix_event_log_topic_seq", "topic", "seq"),
            sa.Index("ix_event_log_sent", "sent"),
            sqlite_autoincrement=True,
        ),
        "event_cursor": sa.Table(
            "event_cursor", metadata,
            sa.Column("user_id", sa.Text, primary_key=True),
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("seq", sa.BigInteger, nullable=False),
            sa.Column("updated", sa.DateTime, nullable=False),
        ),
        "event_parked": sa.Table(
            "event_parked", metadata,
            sa.Column("user_id", sa.Text, primary_key=True),
            sa.Column("cursor", sa.Text, primary_key=True),
            sa.Column("seq", sa.BigInteger, primary_key=True),
            sa.Column("event_id", sa.Text, nullable=False),
            sa.Column("error", sa.Text, nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("parked_at", sa.DateTime, nullable=False),
        ),
    }  # fmt: skip
