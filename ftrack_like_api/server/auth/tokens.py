"""Personal access tokens, and signing out.

A person makes long-lived tokens for themselves (``ftrack-like token create --name
laptop``), signed in with their password; a token stands in wherever an API key does —
``ftrack-api-key`` beside ``ftrack-user``, or as a bearer token — so a script can act as
that person where a password cannot be used (single sign-on, two-factor). Each token is
named, shown once, and kept only as its SHA-256; it lasts until it is revoked, or until
the expiry it was made with. It is told from an API key by its prefix
(:data:`PERSONAL_TOKEN_PREFIX`), so checking either costs one query.
"""

from __future__ import annotations

import datetime
import secrets
import uuid
from typing import Any, Callable

import sqlalchemy as sa

from ..engine.storage import writing
from ...exceptions import ValidationError
from .tables import hashed, utcnow
from .throttle import Refusal

__all__ = ["MAX_TOKEN_NAME", "PERSONAL_TOKEN_PREFIX", "PersonalTokens", "is_personal_token"]

#: What every personal token starts with (an API key is URL-safe base64 of 43 characters, never this).
PERSONAL_TOKEN_PREFIX = "flpat_"

#: Longest token name accepted.
MAX_TOKEN_NAME = 100

#: last_used_at is written at most this often per token.
LAST_USED_EVERY = datetime.timedelta(minutes=1)


def is_personal_token(secret: str) -> bool:
    return secret.startswith(PERSONAL_TOKEN_PREFIX)


class PersonalTokens:
    """Personal access tokens and signing out (a part of :class:`.Authenticator`)."""

    engine: sa.Engine
    personal_tokens: sa.Table
    tokens: sa.Table
    users: sa.Table
    _require: Callable[[sa.Connection, str], str]

    def create_personal_token(
        self, user_id: str, name: str, expires_in: datetime.timedelta | None = None
    ) -> tuple[str, datetime.datetime | None]:
        """A new token for ``user_id`` named ``name`` (unique among their live ones): (the token, when it expires)."""
        name = name.strip()
        if not name or len(name) > MAX_TOKEN_NAME:
            raise ValidationError(f"A personal token needs a name of 1 to {MAX_TOKEN_NAME} characters "
                                  "(where it is used: laptop, render-farm)", "bad_request")  # fmt: skip
        if expires_in is not None and expires_in <= datetime.timedelta(0):
            raise ValidationError("A personal token's expiry is a time to come", "bad_request")
        table = self.personal_tokens
        secret = PERSONAL_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + expires_in if expires_in is not None else None
        with writing(self.engine) as connection:
            live = connection.execute(sa.select(table.c.id).where(*self._live(user_id, name, now))).first()
            if live is not None:
                raise ValidationError(f"You have a personal token named {name!r} already: revoke it first, or "
                                      "choose another name", "duplicate")  # fmt: skip
            connection.execute(table.insert().values(
                id=str(uuid.uuid4()), user_id=user_id, name=name, token_hash=hashed(secret), created_at=now,
                expires_at=expires,
            ))  # fmt: skip
        return secret, _utc(expires)

    def list_personal_tokens(self, user_id: str) -> list[dict[str, Any]]:
        """``user_id``'s tokens, newest first: name, when made, expiring, last used, revoked. Never the token."""
        table = self.personal_tokens
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(table.c.name, table.c.created_at, table.c.expires_at, table.c.last_used_at, table.c.revoked_at)
                .where(table.c.user_id == user_id).order_by(table.c.created_at.desc())
            ).mappings().all()  # fmt: skip
        return [{key: _utc(value) if isinstance(value, datetime.datetime) else value for key, value in row.items()}
                for row in rows]  # fmt: skip

    def revoke_personal_token(self, user_id: str, name: str) -> int:
        """Revoke ``user_id``'s live token named ``name``; how many were (0 or 1)."""
        now = utcnow()
        with writing(self.engine) as connection:
            return int(connection.execute(
                self.personal_tokens.update().where(*self._live(user_id, name, now)).values(revoked_at=now)
            ).rowcount)  # fmt: skip

    def check_personal_token(self, secret: str, username: str | None = None) -> tuple[str, str, str]:
        """(user id, username, token name) for a live token (of ``username``, when given); Refusal otherwise.

        An expired token says so, with the code ``token_expired``, and a revoked one with
        ``token_revoked`` (to whoever names its owner); an unknown one is refused as any wrong
        credential is.
        """
        table = self.personal_tokens
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(table.c.id, table.c.name, table.c.expires_at, table.c.last_used_at, table.c.revoked_at,
                          self.users.c.id.label("user"), self.users.c.username)
                .join(self.users, self.users.c.id == table.c.user_id)
                .where(table.c.token_hash == hashed(secret), self.users.c.is_active.is_(True))
            ).first()  # fmt: skip
        if row is None or (username is not None and row.username != username):
            raise Refusal("The credentials were not accepted")
        if row.revoked_at is not None:  # its owner revoked it: say so, as an expired one says it expired
            raise Refusal(f"The personal token {row.name!r} was revoked at {row.revoked_at.isoformat(timespec='seconds')}Z: "
                          "make a new one (ftrack-like token create)", code="token_revoked")  # fmt: skip
        now = utcnow()
        if row.expires_at is not None and row.expires_at <= now:
            raise Refusal(f"The personal token {row.name!r} expired at {row.expires_at.isoformat(timespec='seconds')}Z: "
                          "make a new one (ftrack-like token create)", code="token_expired")  # fmt: skip
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
            with writing(self.engine) as connection:
                connection.execute(table.update().where(table.c.id == row.id).values(last_used_at=now))
        return str(row.user), str(row.username), str(row.name)

    def sign_out(self, token: str) -> int:
        """End the sign-in token ``token`` (signing out); how many ended (0: it had ended already)."""
        with writing(self.engine) as connection:
            return int(connection.execute(self.tokens.delete().where(self.tokens.c.token_hash == hashed(token))).rowcount)

    def _live(self, user_id: str, name: str, now: datetime.datetime) -> tuple[Any, ...]:
        table = self.personal_tokens
        return (table.c.user_id == user_id, table.c.name == name, table.c.revoked_at.is_(None),
                sa.or_(table.c.expires_at.is_(None), table.c.expires_at > now))  # fmt: skip


def _utc(value: datetime.datetime | None) -> datetime.datetime | None:
    return None if value is None else value.replace(tzinfo=datetime.timezone.utc)
