"""${message}

Say what it adds or changes, and why. List every operation explicitly (no schema read at
run time): a later change to production.json must not change what this revision does.

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}

#: True when it only adds (tables, nullable columns, indexes, rows) and the release before
#: still runs on the result: opening the database runs it. Otherwise `ftrack-like upgrade` does.
additive = False


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
