"""Remembered answers: a batch sent with an idempotency key runs once, however many copies come.

A batch sent with an idempotency key is answered from memory when the same user sends
the same key again within a day, so a retry after a dropped connection is carried out
once. The first request to bring a key *claims* it (a row only one request can insert,
committed before the batch runs); a copy arriving while the batch runs finds the claim
and waits for the answer, which is written in the batch's own transaction. A key sent
with a different batch is refused. A claim whose worker died is taken over once it is
older than the batch time limit allows.
"""

from __future__ import annotations

import datetime
import enum
import logging
import uuid
from typing import Any, Callable

import sqlalchemy as sa

from ..engine.storage import writing
from .tables import utcnow

__all__ = ["IdempotentAnswers", "KeyState", "MAX_KEY_LENGTH", "claim_lifetime"]

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


class KeyState(enum.Enum):
    """What claiming an idempotency key found."""

    CLAIMED = "claimed"  #: the key is this request's now: run the batch
    ANSWERED = "answered"  #: the batch ran: its answer is remembered
    RUNNING = "running"  #: another request is running the batch now
    REUSED = "reused"  #: the key came with a different batch


def claim_lifetime(batch_timeout: float | None) -> datetime.timedelta:
    """How old a claim must be before another request may take it over: its worker must have died."""
    return CLAIM_LIFETIME if batch_timeout is None else datetime.timedelta(seconds=batch_timeout) + CLAIM_MARGIN


class IdempotentAnswers:
    """Claims and remembered answers (a part of :class:`.Authenticator`)."""

    engine: sa.Engine
    answers: sa.Table
    _remembered: int
    _writing: Callable[[sa.Connection | None], Any]  # the caller's transaction, or one of ours (ApiKeys')

    def remembered(self, user_id: str, key: str) -> str | None:
        """The answer (JSON text) given to this user's batch with this idempotency key within a day, if any."""
        row = self._answer_row(user_id, key)
        if row is None or row.state == "running" or utcnow() - row.created_at > IDEMPOTENCY_WINDOW:
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
        for turn in range(5):  # each turn, another request changed the row in between
            now = utcnow()
            claim = str(uuid.uuid4())
            claimed = {"state": "running", "claim": claim, "request_hash": request_hash, "answer": "", "created_at": now}
            if turn == 0:
                # Almost every key is new: claim it at once, and look at the row only when one is there
                # (one round trip to the database less for each write).
                try:
                    if self._claim_at_once({"user_id": user_id, "key": key, **claimed}):
                        return KeyState.CLAIMED, claim
                    with writing(self.engine) as connection:
                        _unflushed(connection)
                        connection.execute(self.answers.insert().values(user_id=user_id, key=key, **claimed))
                    return KeyState.CLAIMED, claim
                except sa.exc.IntegrityError:
                    pass
            row = self._answer_row(user_id, key)
            if row is None:
                try:
                    with writing(self.engine) as connection:
                        _unflushed(connection)
                        connection.execute(self.answers.insert().values(user_id=user_id, key=key, **claimed))
                except sa.exc.IntegrityError:
                    continue  # another request claimed it first
                return KeyState.CLAIMED, claim
            running = row.state == "running"
            if now - row.created_at > (lifetime if running else IDEMPOTENCY_WINDOW):
                if running:
                    log.warning("idempotency key claimed %s ago and never answered: taken over", now - row.created_at)
                with writing(self.engine) as connection:
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

    def _claim_at_once(self, row: dict[str, Any]) -> bool:
        """On PostgreSQL, insert a claim in one statement that is its own transaction, committed without
        waiting for the disk (as :func:`_unflushed` says why): True once inserted; False elsewhere.

        A transaction of its own (BEGIN, the setting, the insert, COMMIT) was four round trips;
        this is one. ``set_config(…, true)`` holds for the statement's own transaction, whose
        commit is where PostgreSQL reads it. IntegrityError when the key is claimed already.
        """
        if self.engine.dialect.name != "postgresql":
            return False
        statement = getattr(self, "_claim_statement", None)
        if statement is None:
            off = sa.select(sa.func.set_config("synchronous_commit", "off", True).label("setting")).subquery()
            names = list(row)
            values = sa.select(*(sa.bindparam(n, type_=self.answers.c[n].type) for n in names)).where(off.c.setting == "off")
            statement = self._claim_statement = self.answers.insert().from_select(names, values).returning(self.answers.c.key)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return connection.execute(statement, row).first() is not None

    def settle(self, user_id: str, key: str, claim: str, answer: str, connection: sa.Connection | None = None) -> bool:
        """Turn a claim into the remembered ``answer`` (in ``connection``'s transaction, if given).

        False when the claim is no longer this request's (it was taken over): then the
        batch must not be stored, as another request runs it.
        """
        with self._writing(connection) as connection:
            return bool(connection.execute(
                self.answers.update().where(*self._same(user_id, key, claim))
                .values(state="done", answer=answer, created_at=utcnow())
            ).rowcount)  # fmt: skip

    def release(self, user_id: str, key: str, claim: str) -> None:
        """Let go of a claim whose batch did not run through: a retry with the key runs it."""
        with writing(self.engine) as connection:
            connection.execute(self.answers.delete().where(*self._same(user_id, key, claim)))

    def tidy(self) -> None:
        """Now and then (every ``FORGET_EVERY`` calls), drop expired answers.

        Call it outside any transaction: on SQLite a batch holds the write lock, and this
        would wait for it.
        """
        if self.forget_due():
            self.forget_expired()

    def forget_due(self) -> bool:
        """Count one remembered answer; whether :meth:`forget_expired` is due (every ``FORGET_EVERY``
        calls). No database: a caller on an event loop asks here, and goes to a thread only when due."""
        self._remembered += 1
        return self._remembered % FORGET_EVERY == 1

    def forget_expired(self) -> None:
        """Drop answers older than a day, in a transaction of its own (never inside a batch's:
        every batch deleting the same old rows would queue behind each other)."""
        try:
            with writing(self.engine) as connection:
                connection.execute(self.answers.delete().where(self.answers.c.created_at < utcnow() - IDEMPOTENCY_WINDOW))
        except sa.exc.DBAPIError as error:  # they are ignored when read; the next round drops them
            log.info("could not drop expired answers now: %s", error.orig)


def _unflushed(connection: sa.Connection) -> None:
    """On PostgreSQL, commit this transaction without waiting for its WAL to reach the disk.

    For a claim: other requests see it at once all the same (an asynchronous commit is
    visible when it returns), and it reaches the disk no later than the batch it claims
    for, whose own commit waits for the WAL up to it. A crash before then loses a claim
    whose batch was not stored either: a retry with the key runs it, as it should. One
    wait for the disk less per write (about 5 ms here; a commit of one change waited twice).
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")

