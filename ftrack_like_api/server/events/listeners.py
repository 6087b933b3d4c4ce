"""What the server keeps for durable listeners: each one's cursor, and the events it parked.

A durable listener (``ftrack-like listen --name NAME``) reads the log from its cursor: the
sequence number of the last event it has done. The cursor is kept per user and name
(``event_cursor``), so a listener stopped and started again goes on where it stopped. An
event whose callback kept failing is *parked* (``event_parked``: the listener's name, the
event's seq and id, the error, how many attempts) so the events after it are not held up;
``ftrack-like events replay`` tries the parked events again and takes off those that go
through. The log keeps a parked event past its retention until it is taken off.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any, Mapping

import sqlalchemy as sa

__all__ = ["KEPT_PLACE", "Listeners", "MAX_ERROR", "MAX_NAME", "Position"]

#: Cursors named ``KEPT_PLACE + <hub id>`` are where one of ftrack's hubs was when its server
#: stopped (``protocols/ftrack/hub``), not durable listeners.
KEPT_PLACE = "ftrack-hub:"

#: The longest listener name.
MAX_NAME = 200
#: The longest error text kept with a parked event (longer ones are cut).
MAX_ERROR = 20_000


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class Position:
    """Where one durable listener is: its cursor, how far behind the log's end, what it parked."""

    user_id: str
    #: The user's name (None when no ``users`` table was given, or the user is gone).
    username: str | None
    name: str
    seq: int
    behind: int
    parked: int
    updated: datetime.datetime | None


class Listeners:
    """The ``event_cursor`` and ``event_parked`` tables of one database (``tables`` as the storage defines them)."""

    def __init__(self, engine: sa.Engine, tables: Mapping[str, sa.Table]) -> None:
        self.engine = engine
        self.cursors = tables["event_cursor"]
        self.parked_events = tables["event_parked"]
        self.log = tables["event_log"]

    def _writing(self) -> Any:
        return self.engine.connect().execution_options(ftrack_writes=True)

    def cursor(self, user_id: str, name: str) -> int | None:
        """Where listener ``name`` of ``user_id`` is: the seq of the last event it has done (None: never ran)."""
        table = self.cursors
        with self.engine.connect() as connection:
            seq = connection.execute(
                sa.select(table.c.seq).where(table.c.user_id == user_id, table.c.name == name)
            ).scalar()
        return None if seq is None else int(seq)

    def positions(self, connection: sa.Connection, users: sa.Table | None = None) -> tuple[int, list[Position]]:
        """The log's last seq, and every durable listener's :class:`Position` (furthest behind first).

        ``users`` (the User table, with ``id`` and ``username``) names each listener's user.
        """
        cursors, parked = self.cursors, self.parked_events
        last = int(connection.execute(sa.select(sa.func.max(self.log.c.seq))).scalar() or 0)
        held = {(user, name): int(count) for user, name, count in connection.execute(
            sa.select(parked.c.user_id, parked.c.cursor, sa.func.count()).group_by(parked.c.user_id, parked.c.cursor))}  # fmt: skip
        username = users.c.username if users is not None else sa.null()
        joined = cursors.outerjoin(users, users.c.id == cursors.c.user_id) if users is not None else cursors
        rows = connection.execute(
            sa.select(cursors.c.user_id, username, cursors.c.name, cursors.c.seq, cursors.c.updated)
            .select_from(joined)
            .where(~cursors.c.name.startswith(KEPT_PLACE, autoescape=True))
            .order_by(cursors.c.seq)
        ).all()
        return last, [Position(str(user_id), who, name, int(seq), max(0, last - int(seq)), held.get((user_id, name), 0),
                               updated) for user_id, who, name, seq, updated in rows]  # fmt: skip

    def set_cursor(self, user_id: str, name: str, seq: int) -> None:
        """Move listener ``name``'s cursor to ``seq``."""
        table = self.cursors
        where = (table.c.user_id == user_id, table.c.name == name)
        values = {"seq": int(seq), "updated": _now()}
        self._upsert(table, where, values, {"user_id": user_id, "name": name})

    def forget_older(self, prefix: str, than: datetime.timedelta) -> int:
        """Remove the cursors named ``prefix…`` not moved for ``than``; how many."""
        table = self.cursors
        with self._writing() as connection, connection.begin():
            return int(connection.execute(table.delete().where(
                table.c.name.startswith(prefix, autoescape=True), table.c.updated < _now() - than)).rowcount or 0)  # fmt: skip

    def take_cursor(self, user_id: str, name: str, newer_than: datetime.timedelta) -> int | None:
        """Listener ``name``'s cursor, removed; None when there is none moved within ``newer_than``."""
        table = self.cursors
        where = (table.c.user_id == user_id, table.c.name == name)
        with self._writing() as connection, connection.begin():
            row = connection.execute(sa.select(table.c.seq, table.c.updated).where(*where)).first()
            if row is None:
                return None
            connection.execute(table.delete().where(*where))
        return int(row.seq) if row.updated >= _now() - newer_than else None

    def park(self, user_id: str, name: str, seq: int, event_id: str, error: str, attempts: int) -> None:
        """Park event ``seq`` for listener ``name`` with the error it failed with (again: the error and attempts are updated)."""
        table = self.parked_events
        where = (table.c.user_id == user_id, table.c.cursor == name, table.c.seq == int(seq))
        values = {"event_id": event_id, "error": error[:MAX_ERROR], "attempts": int(attempts), "parked_at": _now()}
        self._upsert(table, where, values, {"user_id": user_id, "cursor": name, "seq": int(seq)})

    def _upsert(self, table: sa.Table, where: tuple[Any, ...], values: dict[str, Any], key: dict[str, Any]) -> None:
        for _ in range(3):
            with self._writing() as connection:
                try:
                    with connection.begin():
                        if connection.execute(table.update().where(*where).values(**values)).rowcount:
                            return
                        connection.execute(table.insert().values(**key, **values))
                        return
                except sa.exc.IntegrityError:  # another writer inserted it meanwhile: update it
                    continue
        raise RuntimeError(f"{table.name}: the row {key} could not be written")  # pragma: no cover

    def parked(self, user_id: str, name: str | None = None) -> list[dict[str, Any]]:
        """The events ``user_id``'s listeners parked (``name``'s only, when given), oldest first, each with its event."""
        table, log = self.parked_events, self.log
        statement = (
            sa.select(table, log.c.id.label("log_id"), log.c.topic, log.c.data, log.c.source, log.c.target,
                      log.c.in_reply_to, log.c.sent)
            .select_from(table.outerjoin(log, log.c.seq == table.c.seq))
            .where(table.c.user_id == user_id)
            .order_by(table.c.cursor, table.c.seq)
        )  # fmt: skip
        if name is not None:
            statement = statement.where(table.c.cursor == name)
        with self.engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [_parked(row) for row in rows]

    def unpark(self, user_id: str, name: str, seq: int) -> bool:
        """Take event ``seq`` off listener ``name``'s parked events; whether it was there."""
        table = self.parked_events
        with self._writing() as connection, connection.begin():
            done = connection.execute(
                table.delete().where(table.c.user_id == user_id, table.c.cursor == name, table.c.seq == int(seq))
            )
        return bool(done.rowcount)


def _parked(row: Any) -> dict[str, Any]:
    event = None
    if row["log_id"] is not None:
        sent = row["sent"]
        event = {"id": row["log_id"], "topic": row["topic"], "data": json.loads(row["data"]),
                 "source": json.loads(row["source"]), "target": row["target"], "inReplyToEvent": row["in_reply_to"],
                 "sent": sent.replace(tzinfo=datetime.timezone.utc).isoformat() if sent is not None else None,
                 "seq": int(row["seq"])}  # fmt: skip
    parked_at = row["parked_at"].replace(tzinfo=datetime.timezone.utc).isoformat()
    return {"cursor": row["cursor"], "seq": int(row["seq"]), "event_id": row["event_id"], "error": row["error"],
            "attempts": int(row["attempts"]), "parked_at": parked_at, "event": event}  # fmt: skip
