"""The event log: every event, in the order of its sequence number, kept in the database.

Events are appended inside the transaction of the change they tell of (a batch's
``ftrack.update``) or in one of their own (a published event), so an event exists
exactly when its change was committed. Each gets ``seq``, a number the database assigns:
readers ask for what came after the last number they saw.

**Ordering.** A reader never skips an event: once it has read ``seq`` n, no event with a
lower number commits later. On SQLite a writing transaction holds the database's write
lock, so numbers are assigned and committed one transaction at a time. On PostgreSQL,
where transactions commit side by side, :meth:`EventLog.append` first takes a
transaction-level advisory lock (one per schema) and holds it until the commit: the
appends of two transactions are serialised from the number's assignment to the commit
(only that tail: the rest of the batches still run side by side). PostgreSQL makes a
commit visible before it releases the transaction's locks, so the next number is assigned
only once the previous one can be read. A transaction that appends and then rolls back
leaves a gap, never a late arrival.

Events are kept ``retention`` long (:meth:`EventLog.prune`); an event a listener parked is
kept until it is replayed or dropped.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...exceptions import ValidationError

if TYPE_CHECKING:
    from ..auth.permissions import Principal

__all__ = ["EventLog", "RawJSON", "StoredEvent"]

#: PostgreSQL's notification channel: its payload is ``<schema>:<seq>``, sent by each append
#: and delivered at commit. The log is the truth: a notification only says "read the log".
CHANNEL = "ftrack_like_events"

#: Lock key of the appends of one schema (PostgreSQL's advisory locks are database-wide).
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ftrack_like_api events ' || current_schema()))"
#: The same, and the event's text compressed with lz4 rather than pglz, for this transaction only: a
#: batch of 10,000 creates is one 15 MB event, which pglz takes ~210 ms to store and lz4 ~75 ms.
_LOCK_LZ4 = f"{_LOCK}, set_config('default_toast_compression', 'lz4', true)"
#: Whether this server can compress with lz4 (PostgreSQL 14 and later, built with it).
_HAS_LZ4 = "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
_NOTIFY = sa.text(f"SELECT pg_notify('{CHANNEL}', current_schema() || ':' || :seq)")


class RawJSON:
    """An event's ``data`` given to :meth:`EventLog.append` as its JSON text (of an object), stored as is.

    The server's own ``ftrack.update`` events are written as text (``json_text.py``): a batch of
    10,000 creates is one 15 MB payload, not worth building as dicts only to encode them.
    Readers get the decoded object, as for any event.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({self.text[:60]!r}{'…' if len(self.text) > 60 else ''})"


@dataclasses.dataclass(frozen=True)
class StoredEvent:
    """One event as the log keeps it."""

    seq: int
    id: str
    topic: str
    data: Any  # an object; a reply's may be any JSON value
    source: dict[str, Any]
    #: An expression naming who the event is for ("" when for everyone).
    target: str
    in_reply_to: str | None
    #: When it was appended (UTC, with its zone).
    sent: datetime.datetime
    #: Who caused or published it (None: the server itself).
    user_id: str | None
    #: The project it concerns, for permissions (None: no project; everyone may read it).
    project_id: str | None

    def to_wire(self) -> dict[str, Any]:
        """ftrack's event shape (as its hub sends it) plus ``seq``."""
        return {
            "id": self.id,
            "topic": self.topic,
            "data": self.data,
            "source": self.source,
            "target": self.target,
            "sent": self.sent.isoformat() if self.sent is not None else None,
            "inReplyToEvent": self.in_reply_to,
            "seq": self.seq,
        }


class EventLog:
    """Appends to and reads the ``event_log`` table of one database."""

    def __init__(self, engine: sa.Engine, tables: Mapping[str, sa.Table]) -> None:
        self.engine = engine
        self.table = tables["event_log"]
        self.parked = tables["event_parked"]
        self._postgresql = engine.dialect.name == "postgresql"
        self._lock = _LOCK  # on PostgreSQL, with lz4 once known to be there
        self._lz4_checked = False
        table = self.table
        self._insert = table.insert().returning(table.c.seq, sort_by_parameter_order=True)
        #: (PostgreSQL) One event, the log's lock and its notification in one statement: a status update's event
        #: is one, and a statement of its own for the lock, or for the notification, was one round trip more.
        notify = sa.func.pg_notify(CHANNEL, sa.func.current_schema().concat(":").concat(sa.cast(table.c.seq, sa.Text)))
        self._locked_one = {lz4: _locked_insert(table, notify, lz4) for lz4 in (False, True)}
        self._last = sa.select(sa.func.coalesce(sa.func.max(table.c.seq), 0))

    # --- writing ------------------------------------------------------------------------------

    def append(self, connection: sa.Connection, events: Sequence[Mapping[str, Any]], user_id: str | None = None) -> list[int]:
        """Add ``events`` in the caller's transaction; their sequence numbers, in order.

        An event is ftrack's shape: ``topic`` (required), ``id`` (a new uuid when missing),
        ``data``, ``source``, ``target``, ``inReplyToEvent`` (or ``in_reply_to_event``);
        ``sent`` is the server's time of the append, whatever the event says; ``data`` may be
        a :class:`RawJSON` (JSON text the caller vouches for), stored as it is. An extra
        ``project_id`` (not part of the wire shape) files it under a project for permissions.
        A malformed event is a :class:`~ftrack_like_api.exceptions.ValidationError`.
        """
        if not events:
            return []
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        rows = [_row(event, user_id, now) for event in events]
        if self._postgresql:
            if not self._lz4_checked:
                self._lz4_checked = True
                if connection.exec_driver_sql(_HAS_LZ4).scalar():
                    self._lock = _LOCK_LZ4
            if len(rows) == 1:  # the lock taken by the insert itself, before its row is numbered
                return [int(connection.execute(self._locked_one[self._lock is _LOCK_LZ4], rows[0]).scalar_one())]
            connection.exec_driver_sql(self._lock)
        seqs = [int(seq) for seq in connection.execute(self._insert, rows).scalars()]
        if self._postgresql:
            connection.execute(_NOTIFY, {"seq": str(max(seqs))})
        return seqs

    @staticmethod
    def checked(event: Mapping[str, Any]) -> Mapping[str, Any]:
        """``event``, once it is known :meth:`append` takes it; else the ValidationError it would raise."""
        _row(event, None, datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))
        return event

    def prune(self, older_than: datetime.timedelta) -> int:
        """Remove events appended more than ``older_than`` ago (but not parked ones); how many."""
        cutoff = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - older_than
        table, parked = self.table, self.parked
        statement = table.delete().where(
            table.c.sent < cutoff, ~sa.exists().where(parked.c.seq == table.c.seq)
        )
        with self.engine.connect().execution_options(ftrack_writes=True) as connection, connection.begin():
            return int(connection.execute(statement).rowcount or 0)

    # --- reading ------------------------------------------------------------------------------

    def read(
        self,
        after: int,
        limit: int = 1000,
        principal: Principal | None = None,
        topics: Sequence[str] | None = None,
        connection: sa.Connection | None = None,
    ) -> list[StoredEvent]:
        """Events with ``seq`` greater than ``after``, oldest first, at most ``limit`` of them.

        With ``principal``, only those it may read: an admin or a user of every project
        reads all; anyone else the events of the projects they read and those of no
        project. With ``topics``, only events of those topics.
        """
        table = self.table
        statement = sa.select(table).where(table.c.seq > after).order_by(table.c.seq).limit(limit)
        if topics:
            statement = statement.where(table.c.topic.in_(list(topics)))
        if principal is not None and not principal.admin and principal.readable is not None:
            statement = statement.where(
                sa.or_(table.c.project_id.is_(None), table.c.project_id.in_(sorted(principal.readable)))
            )
        if connection is not None:
            return [_stored(row) for row in connection.execute(statement).mappings()]
        with self.engine.connect() as own:
            return [_stored(row) for row in own.execute(statement).mappings()]

    def get(self, seq: int) -> StoredEvent | None:
        """The event numbered ``seq``, if it is still kept."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(self.table).where(self.table.c.seq == seq)).mappings().first()
        return None if row is None else _stored(row)

    def last(self, connection: sa.Connection | None = None) -> int:
        """The highest sequence number committed (0 when the log is empty)."""
        if connection is not None:
            return int(connection.execute(self._last).scalar() or 0)
        with self.engine.connect() as own:
            return int(own.execute(self._last).scalar() or 0)


def _locked_insert(table: sa.Table, notify: sa.ColumnElement[Any], lz4: bool) -> sa.Insert:
    """(PostgreSQL) One event's ``INSERT … SELECT`` whose ``FROM`` takes the log's lock (and, with ``lz4``, sets
    this transaction's compression): its row is numbered once the lock is held, as with :data:`_LOCK` before it.

    The lock's call is volatile, so PostgreSQL keeps its subquery a step of its own, run before the
    row it yields is given its ``seq`` (the column's default) and stored.
    """
    lock = (_LOCK_LZ4 if lz4 else _LOCK).removeprefix("SELECT ")
    locked = sa.select(sa.literal_column(lock)).subquery("locked")
    columns = ["id", "topic", "data", "source", "target", "in_reply_to", "sent", "user_id", "project_id"]
    values = sa.select(*[sa.bindparam(name, type_=table.c[name].type).label(name) for name in columns]).select_from(locked)
    return table.insert().from_select(columns, values).returning(table.c.seq, notify)


def _row(event: Mapping[str, Any], user_id: str | None, now: datetime.datetime) -> dict[str, Any]:
    """The columns of one event, or a ValidationError saying what is wrong with it."""
    if not isinstance(event, Mapping):
        raise ValidationError(f"An event is an object, not {type(event).__name__}", "bad_event")
    topic = event.get("topic")
    if not isinstance(topic, str) or not topic:
        raise ValidationError("An event needs a topic (a non-empty string)", "bad_event")
    event_id = event.get("id") or str(uuid.uuid4())
    data, source, target = (event.get(name) for name in ("data", "source", "target"))
    data, source, target = {} if data is None else data, {} if source is None else source, target or ""
    reply = event.get("inReplyToEvent", event.get("in_reply_to_event"))
    project = event.get("project_id")
    # A reply's data is what the subscriber's callback returned (ftrack's client sends any JSON value).
    data_kind = object if reply is not None else (Mapping, RawJSON)
    for name, value, kind in (("id", event_id, str), ("data", data, data_kind), ("source", source, Mapping),
                              ("target", target, str)):  # fmt: skip
        if not isinstance(value, kind):
            raise ValidationError(f"An event's {name} is {'a string' if kind is str else 'an object'}, "
                                  f"not {type(value).__name__}", "bad_event")  # fmt: skip
    if reply is not None and not isinstance(reply, str):
        raise ValidationError("An event's inReplyToEvent is an event id (a string)", "bad_event")
    return {
        "id": event_id,
        "topic": topic,
        "data": data.text if isinstance(data, RawJSON) else _json(data),
        "source": _json(source),
        "target": target,
        "in_reply_to": reply,
        "sent": now,
        "user_id": user_id,
        "project_id": None if project is None else str(project),
    }


def _json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), default=_plain, allow_nan=False)
    except ValueError as error:
        raise ValidationError(f"An event's values are JSON: {error}", "bad_event") from None


def _plain(value: Any) -> Any:
    """Dates as ISO text; anything else JSON does not know is refused."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise ValidationError(f"An event's values are JSON, not {type(value).__name__}", "bad_event")


def _stored(row: Any) -> StoredEvent:
    sent = row["sent"]
    return StoredEvent(
        seq=int(row["seq"]),
        id=row["id"],
        topic=row["topic"],
        data=json.loads(row["data"]),
        source=json.loads(row["source"]),
        target=row["target"],
        in_reply_to=row["in_reply_to"],
        sent=sent.replace(tzinfo=datetime.timezone.utc),
        user_id=row["user_id"],
        project_id=row["project_id"],
    )
