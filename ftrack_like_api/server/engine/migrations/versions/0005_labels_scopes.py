"""Contexts have scopes (``context_scope``), and every note category is a note label too.

``context_scope`` links contexts (``Task.scopes``) and scopes; ftrack's answer names no link
type for it, so the type (``ContextScope``) is hidden from ``query_schemas``.

ftrack's note categories became labels (its schema declares ``NoteLabel`` an alias of
``NoteCategory``: the same rows), and its client 3.x files a note's category as a
``NoteLabelLink`` to the category's id. Ours keeps the two tables and keeps them twins
(``engine/notes.py``): this revision adds to each the rows of the other it lacks, under
the same ids.

A new table and new rows only: the release before reads both tables as it did, so
opening the database runs it by itself. It follows ``0004`` (the files' upload records).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: A new table and new rows: ``serve`` and every opening of the database run it by themselves.
additive = True


def upgrade() -> None:
    if "context_scope" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "context_scope",
            sa.Column("context_id", sa.Text, sa.ForeignKey("context.id", ondelete="CASCADE"), primary_key=True,
                      nullable=False),  # fmt: skip
            sa.Column("scope_id", sa.Text, sa.ForeignKey("scope.id", ondelete="CASCADE"), primary_key=True, nullable=False),
        )
        op.create_index("ix_context_scope_scope_id", "context_scope", ["scope_id"])
    for table, twin in (("note_label", "note_category"), ("note_category", "note_label")):
        op.execute(f"INSERT INTO {table} (id, name, color, sort) SELECT id, name, color, sort FROM {twin} "
                   f"WHERE id NOT IN (SELECT id FROM {table})")  # fmt: skip


def downgrade() -> None:
    op.drop_table("context_scope")
