"""Who may call the server: named API keys, roles, and remembered answers for retried batches.

- **API keys** are per user and named (one per script, so the log says which script did
  what). A key is 32 random bytes; the server keeps only its SHA-256 (a key that random
  needs no slow hash: there is nothing to guess), when it was made and last used, and
  whether it was revoked.
- **Roles**: ``admin`` (manages users and everyone's keys), ``user``, ``read-only``
  (cannot write), for every project or some: ftrack's ``SecurityRole`` model, kept by
  ``permissions.py`` (this class only passes the command line's changes on).
- **Passwords** (for people) are hashed with scrypt, memory-hard, salted. Signing in
  with one gives a bearer token that expires; the server keeps the token's SHA-256.
  Every token of a user ends when their password changes, when they are disabled (and
  stays ended when they are enabled again), and when an admin logs them out everywhere.
- **Throttling**: more than a few failed sign-ins or key checks for one user name *from
  one address* in a quarter of an hour are refused for a while, from that address: an
  attacker elsewhere cannot lock the owner out. Many more failures for one name from
  anywhere stop password sign-ins for that name (guessing spread over many addresses);
  a right API key is still let in from an address without failures, as a random
  256-bit key cannot be guessed. The counts live in the database, so every worker agrees.
- **User names** longer than ``MAX_USERNAME_LENGTH`` are refused before anything is
  looked up, stored or logged.
- **Idempotency**: a batch sent with an idempotency key is answered from memory when the
  same user sends the same key again within a day, so a retry after a dropped
  connection is carried out once. The first request to bring a key *claims* it (a row
  only one request can insert, committed before the batch runs); a copy arriving while
  the batch runs finds the claim and waits for the answer, which is written in the
  batch's own transaction. A key sent with a different batch is refused. A claim whose
  worker died is taken over once it is older than the batch time limit allows.

These tables live beside the entity tables but are not entities: no query reaches them.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import hashlib
import hmac
import logging
import secrets
import uuid
from typing import Any

import sqlalchemy as sa

from ...exceptions import ValidationError
from .permissions import ROLES, Roles

__all__ = ["Authenticator", "KeyState", "ROLES", "Refusal", "check_username", "claim_lifetime", "define_tables",
           "hash_password", "password_matches"]

log = logging.getLogger(__name__)

#: How long an answer to an idempotent batch is remembered.
IDEMPOTENCY_WINDOW = datetime.timedelta(days=1)
#: How long a claim outlives the server's time limit per batch before another request may take it over.
CLAIM_MARGIN = datetime.timedelta(minutes=1)
#: … and how long it lasts on a server without a time limit per batch.
CLAIM_LIFETIME = datetime.timedelta(hours=1)
#: Longest idempotency key accepted.
MAX_KEY_LENGTH = 255
#: Answers remembered between two clean-ups of the expired ones (the first one cleans up too).
FORGET_EVERY = 100
#: last_used_at is written at most this often per key, not on every request.
LAST_USED_EVERY = datetime.timedelta(minutes=1)
#: How long a sign-in token lasts.
TOKEN_LIFETIME = datetime.timedelta(hours=12)
#: Failures for one user name from one address within FAILURE_WINDOW before further tries from there are refused.
MAX_FAILURES = 10
#: Failures for one user name from anywhere within FAILURE_WINDOW before password sign-ins for it are refused.
MAX_NAME_FAILURES = 100
#: Longest user name accepted.
MAX_USERNAME_LENGTH = 255
FAILURE_WINDOW = datetime.timedelta(minutes=15)
#: scrypt's cost: 16 MiB of memory per hash.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


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


class KeyState(enum.Enum):
    """What claiming an idempotency key found."""

    CLAIMED = "claimed"  #: the key is this request's now: run the batch
    ANSWERED = "answered"  #: the batch ran: its answer is remembered
    RUNNING = "running"  #: another request is running the batch now
    REUSED = "reused"  #: the key came with a different batch


def claim_lifetime(batch_timeout: float | None) -> datetime.timedelta:
    """How old a claim must be before another request may take it over: its worker must have died."""
    return CLAIM_LIFETIME if batch_timeout is None else datetime.timedelta(seconds=batch_timeout) + CLAIM_MARGIN


class Refusal(Exception):
    """Why a request was not let in: ``reason`` for the client, ``status`` for HTTP, ``retry_after`` seconds."""

    def __init__(self, reason: str, status: int = 401, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


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


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Authenticator:
    """API keys, roles and remembered answers on one backend's database."""

    def __init__(self, engine: sa.Engine, tables: dict[str, sa.Table], users: sa.Table, roles: Roles) -> None:
        self.engine = engine
        self.keys = tables["api_key"]
        self.roles = roles
        self.answers = tables["idempotent_answer"]
        self.passwords = tables["user_password"]
        self.tokens = tables["auth_token"]
        self.failures = tables["auth_failure"]
        self.users = users
        self._remembered = 0
        # Built once: every request runs it, and building SQL costs more than running it.
        keys, failures = self.keys, self.failures
        found = (
            sa.select(keys.c.id, keys.c.secret_hash, keys.c.last_used_at, users.c.id.label("user"))
            .join(users, users.c.id == keys.c.user_id)
            .where(keys.c.secret_hash == sa.bindparam("digest"), keys.c.revoked_at.is_(None),
                   users.c.username == sa.bindparam("username"), users.c.is_active.is_(True))
        )  # fmt: skip
        recent = (
            sa.select(sa.func.count())
            .where(failures.c.username == sa.bindparam("username"), failures.c.address == sa.bindparam("address"),
                   failures.c.at > sa.bindparam("since"))
            .scalar_subquery().label("failures")
        )  # fmt: skip
        self._find_key = found
        self._find_key_and_failures = found.add_columns(recent)

    # --- users and roles --------------------------------------------------------------------------

    def user_id(self, connection: sa.Connection, username: str) -> str | None:
        return connection.execute(
            sa.select(self.users.c.id).where(self.users.c.username == username, self.users.c.resource_type == "user")
        ).scalar()

    def role(self, user_id: str, connection: sa.Connection | None = None) -> str:
        """The user's role as the command line names it, with the projects it is restricted to."""
        with contextlib.nullcontext(connection) if connection is not None else self.engine.connect() as reading:
            return self.roles.role(reading, user_id)

    def set_role(self, username: str, role: str) -> None:
        """Give ``username`` ``role`` (``admin``, ``user``, ``read-only``) wherever they have access."""
        if role not in ROLES:
            raise ValidationError(f"A role is one of {', '.join(ROLES)}, not {role!r}", "bad_role")
        with self.engine.begin() as connection:
            self.roles.set_role(connection, self._require(connection, username), role)

    def grant(self, username: str, project: str, role: str | None = None) -> None:
        """Restrict ``username`` to the projects granted, ``project`` (a name or id) among them."""
        if role is not None and role not in ROLES:
            raise ValidationError(f"A role is one of {', '.join(ROLES)}, not {role!r}", "bad_role")
        with self.engine.begin() as connection:
            self.roles.grant(connection, self._require(connection, username), self._project(connection, project), role)

    def revoke_project(self, username: str, project: str) -> int:
        """Take ``project`` from ``username``'s grants; how many went."""
        with self.engine.begin() as connection:
            return self.roles.revoke(connection, self._require(connection, username), self._project(connection, project))

    def allow_all_projects(self, username: str) -> None:
        """Lift ``username``'s restriction to some projects."""
        with self.engine.begin() as connection:
            self.roles.allow_all(connection, self._require(connection, username))

    def _project(self, connection: sa.Connection, project: str) -> str:
        contexts = self.roles.contexts
        found = connection.execute(
            sa.select(contexts.c.id).where(contexts.c.context_type == "show",
                                           sa.or_(contexts.c.name == project, contexts.c.id == project))
        ).scalars().all()  # fmt: skip
        if len(found) != 1:
            raise ValidationError(f"No project {project!r}" if not found else f"Several projects are called {project!r}", "not_found")
        return str(found[0])

    def _require(self, connection: sa.Connection, username: str) -> str:
        user = self.user_id(connection, username)
        if user is None:
            raise ValidationError(f"No user {username!r}", "not_found")
        return user

    # --- keys -------------------------------------------------------------------------------------

    def _writing(self, connection: sa.Connection | None) -> Any:
        """The caller's connection (inside its transaction), or a transaction of our own."""
        return contextlib.nullcontext(connection) if connection is not None else self.engine.begin()

    def create_key(self, username: str, name: str, connection: sa.Connection | None = None) -> str:
        """A new API key for ``username``, labelled ``name``: shown once, kept only as a hash."""
        if not name:
            raise ValidationError("An API key needs a name (which script or person uses it)", "bad_request")
        secret = secrets.token_urlsafe(32)
        with self._writing(connection) as connection:
            user = self._require(connection, username)
            connection.execute(self.keys.insert().values(
                id=str(uuid.uuid4()), user_id=user, name=name, secret_hash=_digest(secret), created_at=_now(),
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
                .values(revoked_at=_now())
            ).rowcount  # fmt: skip

    def verify(self, username: str, secret: str) -> str | None:
        """The user's id if ``secret`` is a live key of that active user, else None (whichever part was wrong)."""
        row = self._key(username, secret, "", with_failures=False)
        return None if row is None else self._used(row)

    def check_key(self, username: str, secret: str, address: str = "") -> str:
        """The user's id for a live key; Refusal otherwise — 429 while the name is throttled at ``address``, else 401.

        What every request asks, in one query when the key is right: the key, its user, and
        the name's recent failures from this address (throttled there, the right key is
        refused too; from another address it is let in).
        """
        check_username(username)
        row = self._key(username, secret, address, with_failures=True)
        if row is None:
            self.check_throttle(username, address)
            self.failed(username, address)
            # The same answer whether the user or the key was wrong: it tells nobody who exists.
            raise Refusal("The credentials were not accepted")
        if row.failures >= MAX_FAILURES:
            self.check_throttle(username, address)  # says how long to wait
        return self._used(row)

    def _key(self, username: str, secret: str, address: str, with_failures: bool) -> Any:
        if not username or not secret:
            return None
        digest = _digest(secret)
        statement = self._find_key_and_failures if with_failures else self._find_key
        with self.engine.connect() as connection:
            row = connection.execute(
                statement, {"digest": digest, "username": username, "address": address, "since": _now() - FAILURE_WINDOW}
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, digest):
            return None
        return row

    def _used(self, row: Any) -> str:
        """Note that a key was used (at most once a minute: it is a write); its user's id."""
        now = _now()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
            with self.engine.begin() as connection:
                connection.execute(self.keys.update().where(self.keys.c.id == row.id).values(last_used_at=now))
        return str(row.user)

    # --- people: passwords, tokens, throttling ------------------------------------------------------

    def set_password(self, username: str, password: str) -> None:
        """Set ``username``'s password; their sign-in tokens end with the old one."""
        if len(password) < 8:
            raise ValidationError("A password needs at least 8 characters", "weak_password")
        with self.engine.begin() as connection:
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
        with self.engine.begin() as connection:
            return self.end_tokens(self._require(connection, username), connection)

    def check_throttle(self, username: str, address: str = "", signing_in: bool = False) -> None:
        """Refuse (429) while ``username`` has had too many failures from ``address`` lately.

        ``signing_in`` (a password, which could be guessed): also while the name has had
        many more failures from anywhere.
        """
        since = _now() - FAILURE_WINDOW
        failures = self.failures
        here = failures.c.address == address
        with self.engine.connect() as connection:
            recent = connection.execute(
                sa.select(sa.func.count(sa.case((here, 1))), sa.func.min(sa.case((here, failures.c.at))),
                          sa.func.count(), sa.func.min(failures.c.at))
                .where(failures.c.username == username, failures.c.at > since)
            ).one()  # fmt: skip
        oldest = recent[1] if recent[0] >= MAX_FAILURES else recent[3] if signing_in and recent[2] >= MAX_NAME_FAILURES else None
        if oldest is not None:
            wait = int((oldest + FAILURE_WINDOW - _now()).total_seconds()) + 1
            raise Refusal(f"Too many failed attempts; try again in {wait} s", status=429, retry_after=wait)

    def failed(self, username: str, address: str = "") -> None:
        now = _now()
        with self.engine.begin() as connection:
            connection.execute(self.failures.delete().where(self.failures.c.at < now - FAILURE_WINDOW))
            connection.execute(
                self.failures.insert().values(id=str(uuid.uuid4()), username=username, address=address, at=now)
            )

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
        token = secrets.token_urlsafe(32)
        expires = _now() + TOKEN_LIFETIME
        with self.engine.begin() as connection:
            connection.execute(self.tokens.delete().where(self.tokens.c.expires_at < _now()))
            connection.execute(self.tokens.insert().values(token_hash=_digest(token), user_id=row.id, expires_at=expires))
        return token, expires.replace(tzinfo=datetime.timezone.utc)

    def verify_token(self, token: str) -> tuple[str, str]:
        """(user id, username) for a live token; Refusal saying why not (an expired one says so)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(self.tokens.c.expires_at, self.users.c.id, self.users.c.username)
                .join(self.users, self.users.c.id == self.tokens.c.user_id)
                .where(self.tokens.c.token_hash == _digest(token), self.users.c.is_active.is_(True))
            ).first()  # fmt: skip
        if row is None:
            raise Refusal("The credentials were not accepted")
        if row.expires_at <= _now():
            raise Refusal(f"The token expired at {row.expires_at.isoformat(timespec='seconds')}Z; sign in again")
        return str(row.id), str(row.username)

    # --- remembered answers -----------------------------------------------------------------------

    def remembered(self, user_id: str, key: str) -> str | None:
        """The answer (JSON text) given to this user's batch with this idempotency key within a day, if any."""
        row = self._answer_row(user_id, key)
        if row is None or row.state == "running" or _now() - row.created_at > IDEMPOTENCY_WINDOW:
            return None
        return str(row.answer)

    def _answer_row(self, user_id: str, key: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(self.answers).where(self.answers.c.user_id == user_id, self.answers.c.key == key)
            ).first()  # fmt: skip

    def claim(
        self, user_id: str, key: str, request_hash: str, lifetime: datetime.timedelta = CLAIM_LIFETIME
    ) -> tuple[KeyState, str | None]:
        """Claim ``key`` for a batch whose body hashes to ``request_hash``: what was found, and a value.

        ``CLAIMED`` comes with the claim (pass it to :meth:`settle` or :meth:`release`),
        ``ANSWERED`` with the remembered answer; ``RUNNING`` and ``REUSED`` with None. Only
        one request can claim a key: the claim is a row, inserted and committed at once.
        A claim older than ``lifetime`` (its worker died) and an answer older than a day
        are taken over.
        """
        for _ in range(5):  # each turn, another request changed the row in between
            row = self._answer_row(user_id, key)
            now = _now()
            claim = str(uuid.uuid4())
            claimed = {"state": "running", "claim": claim, "request_hash": request_hash, "answer": "", "created_at": now}
            if row is None:
                try:
                    with self.engine.begin() as connection:
                        connection.execute(self.answers.insert().values(user_id=user_id, key=key, **claimed))
                except sa.exc.IntegrityError:
                    continue  # another request claimed it first
                return KeyState.CLAIMED, claim
            running = row.state == "running"
            if now - row.created_at > (lifetime if running else IDEMPOTENCY_WINDOW):
                if running:
                    log.warning("idempotency key claimed %s ago and never answered: taken over", now - row.created_at)
                with self.engine.begin() as connection:
                    taken = connection.execute(
                        self.answers.update().where(*self._same(user_id, key), self.answers.c.created_at == row.created_at,
                                                    self.answers.c.claim.is_not_distinct_from(row.claim))
                        .values(**claimed)
                    ).rowcount  # fmt: skip
                if taken:
                    return KeyState.CLAIMED, claim
                continue
            if row.request_hash is not None and row.request_hash != request_hash:
                return KeyState.REUSED, None
            return (KeyState.RUNNING, None) if running else (KeyState.ANSWERED, str(row.answer))
        return KeyState.RUNNING, None

    def _same(self, user_id: str, key: str, claim: str | None = None) -> list[Any]:
        """Conditions for this user's key (and its running claim)."""
        same = [self.answers.c.user_id == user_id, self.answers.c.key == key]
        if claim is not None:
            same += [self.answers.c.claim == claim, self.answers.c.state == "running"]
        return same

    def settle(self, user_id: str, key: str, claim: str, answer: str, connection: sa.Connection | None = None) -> bool:
        """Turn a claim into the remembered ``answer`` (in ``connection``'s transaction, if given).

        False when the claim is no longer this request's (it was taken over): then the
        batch must not be stored, as another request runs it.
        """
        with self._writing(connection) as connection:
            return bool(connection.execute(
                self.answers.update().where(*self._same(user_id, key, claim))
                .values(state="done", answer=answer, created_at=_now())
            ).rowcount)  # fmt: skip

    def release(self, user_id: str, key: str, claim: str) -> None:
        """Let go of a claim whose batch did not run through: a retry with the key runs it."""
        with self.engine.begin() as connection:
            connection.execute(self.answers.delete().where(*self._same(user_id, key, claim)))

    def tidy(self) -> None:
        """Now and then (every ``FORGET_EVERY`` calls), drop expired answers.

        Call it outside any transaction: on SQLite a batch holds the write lock, and this
        would wait for it.
        """
        self._remembered += 1
        if self._remembered % FORGET_EVERY == 1:
            self.forget_expired()

    def forget_expired(self) -> None:
        """Drop answers older than a day, in a transaction of its own (never inside a batch's:
        every batch deleting the same old rows would queue behind each other)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(self.answers.delete().where(self.answers.c.created_at < _now() - IDEMPOTENCY_WINDOW))
        except sa.exc.DBAPIError as error:  # they are ignored when read; the next round drops them
            log.info("could not drop expired answers now: %s", error.orig)
