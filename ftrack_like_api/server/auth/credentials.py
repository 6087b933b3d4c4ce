"""API keys, passwords and sign-in tokens.

- **API keys** are per user and named (one per script, so the log says which script did
  what). A key is 32 random bytes; the server keeps only its SHA-256 (a key that random
  needs no slow hash: there is nothing to guess), when it was made and last used, and
  whether it was revoked.
- **Passwords** (for people) are hashed with scrypt, memory-hard, salted. Signing in
  with one gives a bearer token that expires; the server keeps the token's SHA-256.
  Every token of a user ends when their password changes, when they are disabled (and
  stays ended when they are enabled again), and when an admin logs them out everywhere.
- **User names** longer than ``MAX_USERNAME_LENGTH`` are refused before anything is
  looked up, stored or logged.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import secrets
import uuid
from typing import Any, Callable

import sqlalchemy as sa

from ..engine.storage import one_statement, writing
from ...exceptions import ValidationError
from .tables import hashed, utcnow
from .throttle import FAILURE_WINDOW, MAX_FAILURES, Refusal, Throttling
from .tokens import is_personal_token

__all__ = ["ApiKeys", "MAX_USERNAME_LENGTH", "Passwords", "check_username", "hash_password", "password_matches"]

#: last_used_at is written at most this often per key, not on every request.
LAST_USED_EVERY = datetime.timedelta(minutes=1)

#: How long a sign-in token lasts.
TOKEN_LIFETIME = datetime.timedelta(hours=12)

#: Longest user name accepted.
MAX_USERNAME_LENGTH = 255

#: scrypt's cost: 16 MiB of memory per hash.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}



def check_username(username: str) -> None:
    """Refuse (400) a user name longer than any user's: before it is looked up, stored or logged."""
    if len(username) > MAX_USERNAME_LENGTH:
        raise Refusal(f"A user name is at most {MAX_USERNAME_LENGTH} characters", status=400)


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash``: salted and memory-hard."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return "scrypt${n}${r}${p}$".format(**SCRYPT) + f"{salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(candidate.hex(), digest)


class ApiKeys(Throttling):
    """Named API keys per user (a part of :class:`.Authenticator`)."""

    engine: sa.Engine
    keys: sa.Table
    users: sa.Table
    _find_key: Any
    _find_key_and_failures: Any
    _require: Callable[[sa.Connection, str], str]  # the user's id (the Authenticator's)

    def _writing(self, connection: sa.Connection | None) -> Any:
        """The caller's connection (inside its transaction), or a transaction of our own."""
        return contextlib.nullcontext(connection) if connection is not None else writing(self.engine)

    def create_key(self, username: str, name: str, connection: sa.Connection | None = None) -> str:
        """A new API key for ``username``, labelled ``name``: shown once, kept only as a hash."""
        if not name:
            raise ValidationError("An API key needs a name (which script or person uses it)", "bad_request")
        secret = secrets.token_urlsafe(32)
        with self._writing(connection) as connection:
            user = self._require(connection, username)
            connection.execute(self.keys.insert().values(
                id=str(uuid.uuid4()), user_id=user, name=name, secret_hash=hashed(secret), created_at=utcnow(),
            ))  # fmt: skip
        return secret

    def list_keys(self, username: str | None = None) -> list[dict[str, Any]]:
        """Every key (of one user): name, owner, when made and last used, whether revoked. Never the key."""
        statement = sa.select(
            self.keys.c.id, self.keys.c.name, self.users.c.username, self.keys.c.created_at, self.keys.c.last_used_at,
            self.keys.c.revoked_at,
        ).join(self.users, self.users.c.id == self.keys.c.user_id).order_by(self.users.c.username, self.keys.c.created_at)
        if username is not None:
            statement = statement.where(self.users.c.username == username)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]

    def revoke(self, username: str, name: str, connection: sa.Connection | None = None) -> int:
        """Revoke ``username``'s keys called ``name``; how many were."""
        with self._writing(connection) as connection:
            user = self._require(connection, username)
            return connection.execute(
                self.keys.update()
                .where(self.keys.c.user_id == user, self.keys.c.name == name, self.keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            ).rowcount  # fmt: skip

    def verify(self, username: str, secret: str) -> str | None:
        """The user's id if ``secret`` is a live key of that active user, else None (whichever part was wrong)."""
        row = self._key(username, secret, "", with_failures=False)
        return None if row is None else self._used(row)

    def check_key(self, username: str, secret: str, address: str = "") -> str:
        """The user's id for a live key; Refusal otherwise — 429 while the name is throttled at ``address``, else 401."""
        return self.check_named_key(username, secret, address)[0]

    def check_named_key(self, username: str, secret: str, address: str = "") -> tuple[str, str]:
        """:meth:`check_key`, with the key's name: (user id, key name).

        What every request asks, in one query when the key is right: the key, its user, and
        the name's recent failures from this address (throttled there, the right key is
        refused too; from another address it is let in).
        """
        check_username(username)
        if is_personal_token(secret):  # a person's token in the key's place, as an API key is used
            try:
                user_id, _, name = self.check_personal_token(secret, username)  # type: ignore[attr-defined]
            except Refusal as refusal:
                if refusal.code is None:  # a wrong one counts as a failure; an expired one said why
                    self.check_throttle(username, address)
                    self.failed(username, address)
                raise
            return user_id, name
        row = self._key(username, secret, address, with_failures=True)
        if row is None:
            self.check_throttle(username, address)
            self.failed(username, address)
            # The same answer whether the user or the key was wrong: it tells nobody who exists.
            raise Refusal("The credentials were not accepted")
        if row.failures >= MAX_FAILURES:
            self.check_throttle(username, address)  # says how long to wait
        return self._used(row), str(row.name)

    def _key(self, username: str, secret: str, address: str, with_failures: bool) -> Any:
        if not username or not secret:
            return None
        digest = hashed(secret)
        statement = self._find_key_and_failures if with_failures else self._find_key
        with one_statement(self.engine) as connection:
            row = connection.execute(
                statement, {"digest": digest, "username": username, "address": address, "since": utcnow() - FAILURE_WINDOW}
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, digest):
            return None
        return row

    def _used(self, row: Any) -> str:
        """Note that a key was used (at most once a minute: it is a write); its user's id."""
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
            with writing(self.engine) as connection:
                connection.execute(self.keys.update().where(self.keys.c.id == row.id).values(last_used_at=now))
        return str(row.user)


class Passwords(Throttling):
    """Passwords, sign-in and tokens (a part of :class:`.Authenticator`)."""

    engine: sa.Engine
    passwords: sa.Table
    tokens: sa.Table
    users: sa.Table
    _require: Callable[[sa.Connection, str], str]  # the user's id (the Authenticator's)
    _writing: Callable[[sa.Connection | None], Any]  # (ApiKeys')

    def set_password(self, username: str, password: str) -> None:
        """Set ``username``'s password; their sign-in tokens end with the old one."""
        if len(password) < 8:
            raise ValidationError("A password needs at least 8 characters", "weak_password")
        with writing(self.engine) as connection:
            user = self._require(connection, username)
            connection.execute(self.passwords.delete().where(self.passwords.c.user_id == user))
            connection.execute(self.passwords.insert().values(user_id=user, hash=hash_password(password)))
            self.end_tokens(user, connection)

    def end_tokens(self, user_id: str, connection: sa.Connection | None = None) -> int:
        """End every sign-in token of a user (in ``connection``'s transaction, if given); how many there were."""
        with self._writing(connection) as connection:
            return int(connection.execute(self.tokens.delete().where(self.tokens.c.user_id == user_id)).rowcount)

    def logout_everywhere(self, username: str) -> int:
        """End every sign-in token of ``username`` (their API keys stay: revoke those by name); how many."""
        with writing(self.engine) as connection:
            return self.end_tokens(self._require(connection, username), connection)

    def sign_in(self, username: str, password: str, address: str = "") -> tuple[str, datetime.datetime]:
        """A token and when it expires, for the right password; Refusal otherwise (the same whoever asks)."""
        check_username(username)
        self.check_throttle(username, address, signing_in=True)
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(self.passwords.c.hash, self.users.c.id)
                .join(self.users, self.users.c.id == self.passwords.c.user_id)
                .where(self.users.c.username == username, self.users.c.is_active.is_(True))
            ).first()  # fmt: skip
        if row is None or not password_matches(password, row.hash):
            self.failed(username, address)
            raise Refusal("The credentials were not accepted")
        return self.issue_token(str(row.id))

    def issue_token(self, user_id: str) -> tuple[str, datetime.datetime]:
        """A new sign-in token for ``user_id`` and when it expires: for a caller that checked who it is
        (:meth:`sign_in` a password; the web page a personal token, so the cookie never holds that)."""
        token = secrets.token_urlsafe(32)
        expires = utcnow() + TOKEN_LIFETIME
        with writing(self.engine) as connection:
            connection.execute(self.tokens.delete().where(self.tokens.c.expires_at < utcnow()))
            connection.execute(self.tokens.insert().values(token_hash=hashed(token), user_id=user_id, expires_at=expires))
        return token, expires.replace(tzinfo=datetime.timezone.utc)

    def verify_token(self, token: str) -> tuple[str, str]:
        """(user id, username) for a live token, a personal one too; Refusal saying why not.

        An expired sign-in token says so, with the code ``session_expired``: sign in again.
        """
        if is_personal_token(token):
            return self.check_personal_token(token)[:2]  # type: ignore[attr-defined,no-any-return]
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(self.tokens.c.expires_at, self.users.c.id, self.users.c.username)
                .join(self.users, self.users.c.id == self.tokens.c.user_id)
                .where(self.tokens.c.token_hash == hashed(token), self.users.c.is_active.is_(True))
            ).first()  # fmt: skip
        if row is None:
            raise Refusal("The credentials were not accepted")
        if row.expires_at <= utcnow():
            raise Refusal(f"The token expired at {row.expires_at.isoformat(timespec='seconds')}Z; sign in again",
                          code="session_expired")  # fmt: skip
        return str(row.id), str(row.username)
