"""A project's contexts and a user's timelogs are deleted with them (``ON DELETE CASCADE``).

``context.project_id`` had no action of its own: deleting a project reached its folders,
sequences, shots and tasks through ``parent_id``'s cascade alone. SQLite checks the other
references once the statement is done, and was content; PostgreSQL checks ``project_id``
of a task before the cascade down the parents has reached it, and refused to delete a
project holding a sequence, a shot and a task. ``timelog.user_id`` had none either, so a
user who had logged time could not be deleted; ftrack's server deletes the user's
timelogs with them (its own test suite deletes such a user), as ours already did the
user's running timer.

The two foreign keys are made again with ``ON DELETE CASCADE`` (on SQLite, whose
constraints cannot be altered, each table is copied in batch mode). Columns, keys and rows
stay as they were, and the release before runs on the result unchanged — it only finds
that those deletes go through instead of being refused — so opening the database runs
this by itself. On SQLite, copying the ``context`` table takes a while on a big studio
database, once: 21 s for 300,000 contexts on a busy 2-core machine.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Only what deletes take with them changes: ``serve`` and every opening of the database run it by themselves.
additive = True

#: The foreign keys made again: (table, column, referred table, ON DELETE before, ON DELETE after).
CHANGED = (("context", "project_id", "context", None, "CASCADE"), ("timelog", "user_id", "resource", None, "CASCADE"))
#: Names for SQLite's unnamed foreign keys, so that batch mode can drop them.
NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    for table, column, referred, _, after in CHANGED:
        _remake(table, column, referred, after)


def downgrade() -> None:
    for table, column, referred, before, _ in CHANGED:
        _remake(table, column, referred, before)


def _remake(table: str, column: str, referred: str, ondelete: str | None) -> None:
    """Make the foreign key of ``table.column`` to ``referred.id`` again, with ``ondelete``."""
    bind = op.get_bind()
    found = [fk for fk in sa.inspect(bind).get_foreign_keys(table) if fk["constrained_columns"] == [column]]
    if bind.dialect.name == "sqlite":
        name = NAMES["fk"] % {"table_name": table, "column_0_name": column, "referred_table_name": referred}
        with op.batch_alter_table(table, recreate="always", naming_convention=NAMES) as batch:
            if found:
                batch.drop_constraint(found[0]["name"] or name, type_="foreignkey")
            batch.create_foreign_key(name, referred, [column], ["id"], ondelete=ondelete)
        return
    name = (found[0]["name"] if found else None) or f"{table}_{column}_fkey"
    if found:
        op.drop_constraint(name, table, type_="foreignkey")
    op.create_foreign_key(name, table, referred, [column], ["id"], ondelete=ondelete)
