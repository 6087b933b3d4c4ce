"""The tables that keep credentials, failures and remembered answers, and how they keep times and secrets.

They live beside the entity tables but are not entities: no query reaches them. Times
are naive UTC; a secret (an API key, a token) is kept only as its SHA-256.
"""

from __future__ import annotations

import datetime
import hashlib

import sqlalchemy as sa

__all__ = ["define_tables", "hashed", "utcnow"]


def define_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The authentication tables, added to ``metadata`` (call before the tables are created)."""
    return {
        "api_key": sa.Table(
            "api_key", metadata,
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("user_id", sa.Text, sa.ForeignKey("resource.id", ondelete="CASCADE"), nullable=False, index=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("secret_hash", sa.Text, nullable=False, unique=True),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("last_used_at", sa.DateTime),
            sa.Column("revoked_at", sa.DateTime),
        ),
        "user_password": sa.Table(
            "user_password", metadata,
            sa.Column("user_id", sa.Text, sa.ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("hash", sa.Text, nullable=False),
        ),
        "auth_token": sa.Table(
            "auth_token", metadata,
            sa.Column("token_hash", sa.Text, primary_key=True),
            sa.Column("user_id", sa.Text, sa.ForeignKey("resource.id", ondelete="CASCADE"), nullable=False),
            sa.Column("expires_at", sa.DateTime, nullable=False),
        ),
        "personal_token": sa.Table(
            "personal_token", metadata,
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("user_id", sa.Text, sa.ForeignKey("resource.id", ondelete="CASCADE"), nullable=False, index=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("token_hash", sa.Text, nullable=False, unique=True),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("expires_at", sa.DateTime),  # None: until revoked
            sa.Column("last_used_at", sa.DateTime),
            sa.Column("revoked_at", sa.DateTime),
        ),
        "auth_failure": sa.Table(
            "auth_failure", metadata,
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("username", sa.Text, nullable=False, index=True),
            sa.Column("at", sa.DateTime, nullable=False),
            sa.Column("address", sa.Text),  # the client's address ('' if unknown; added later, so nullable)
        ),
        "idempotent_answer": sa.Table(
            "idempotent_answer", metadata,
            sa.Column("user_id", sa.Text, primary_key=True),
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("answer", sa.Text, nullable=False),  # '' while the batch runs
            sa.Column("created_at", sa.DateTime, nullable=False, index=True),
            # Added later, so nullable: a row without a state is an answer.
            sa.Column("state", sa.Text),  # 'running' (claimed) or 'done' (answered)
            sa.Column("claim", sa.Text),  # which request holds a running claim
            sa.Column("request_hash", sa.Text),  # SHA-256 of the batch's body
        ),
    }  # fmt: skip


def utcnow() -> datetime.datetime:
    """The time as the tables keep it: UTC, without a zone."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def hashed(secret: str) -> str:
    """What the tables keep of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()
