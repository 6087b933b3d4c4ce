"""Add personal access tokens (``personal_token``): long-lived, named, kept as their SHA-256.

A person makes them for themselves, signed in (``ftrack-like token create``), and a token
is accepted wherever an API key is (``ftrack_like_api/server/auth/tokens.py``). Only a
new table: the release before never reads it, so opening the database runs this by
itself. The table is listed here as it was made (not read from the code).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Only a new table: ``serve`` and every opening of the database run it by themselves.
additive = True


def upgrade() -> None:
    if "personal_token" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "personal_token",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, sa.ForeignKey("resource.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("last_used_at", sa.DateTime),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_index("ix_personal_token_user_id", "personal_token", ["user_id"])


def downgrade() -> None:
    op.drop_table("personal_token")
