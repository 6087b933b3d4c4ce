"""``EventLogEntry``: the event log as ShotGrid's event rows, for scripts and the event daemon.

Every committed change — through ``/api3/json``, ftrack's ``/api`` or our Session — is an
``ftrack.update`` event in the log (``server/events``), numbered by the log's sequence. Its
entities become ShotGrid rows: an ``add`` is ``Shotgun_Shot_New``, a ``remove``
``Shotgun_Shot_Retirement``, and each attribute an ``update`` changed one
``Shotgun_Shot_Change`` with ``attribute_name`` and ``meta`` (old and new values, as the
field's values read: status codes, links). Only types the mapping serves, and only
attributes it names, become rows.

Ids are dense: 1, 2, 3 … with no gap — ShotGrid's event daemon takes a skipped id for an
event still to come and waits for it. Each event's entries are numbered once, in the order
the numberer first sees the events, and the numbers kept (``shotgrid_event``: an event's
sequence, its first number and how many entries it has), so ids only grow, each change is
seen once, and ``["id", "greater_than", last]`` resumes exactly where a reader stopped, as
the daemon does across restarts. The log is read in SQL by id range (through those numbers)
and time (``created_at``), under the caller's project permissions; an event's entries are
then written out in order.
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from ....exceptions import ValidationError
from ....schema import Schema
from ...events.updates import LEGACY_KEYS, TOPIC, legacy_type
from .mapping import Field, Mapping, SgType

__all__ = ["EventLogEntries", "FIELDS", "LOOKBACK", "NUMBER_AT_ONCE"]

#: How far behind the last numbered event the numberer looks for events committed late.
LOOKBACK = 1000
#: Events numbered by one read at most (a log older than the endpoint is numbered over several reads, in order).
NUMBER_AT_ONCE = 5000
#: The fields of an EventLogEntry and ShotGrid's data types for them.
FIELDS = {"id": "number", "event_type": "text", "attribute_name": "text", "meta": "serializable", "entity": "entity",
          "user": "entity", "project": "entity", "created_at": "date_time", "description": "text",
          "session_uuid": "text"}  # fmt: skip
_ACTIONS = {"add": "New", "remove": "Retirement", "update": "Change", "move": "Change"}
#: Events read from the log at once while a page fills.
_CHUNK = 200


class EventLogEntries:
    """Pages of EventLogEntry rows from one backend's event log."""

    def __init__(self, mapping: Mapping, schema: Schema, table: sa.Table, numbers: sa.Table,
                 tables: Callable[[str], sa.Table] | None = None, retired: sa.Table | None = None) -> None:  # fmt: skip
        self.mapping, self.table, self.numbers = mapping, table, numbers
        #: Our type's table and the retired rows, to tell which ShotGrid type an entity changed is when its event
        #: does not say (a Reply's update).
        self.tables, self.retired = tables, retired
        # Per ShotGrid type: our attribute name as ftrack.update names it -> ShotGrid field.
        self.attributes: dict[str, dict[str, Field]] = {}
        for sg_type in mapping.types.values():
            legacy = LEGACY_KEYS.get(legacy_type(schema, schema[sg_type.ours]), {})
            named: dict[str, Field] = {}
            for field in sg_type.fields.values():
                for attr in _attrs(field):
                    named[legacy.get(attr, attr)] = field
            self.attributes[sg_type.name] = named

    def number(self, connection: sa.Connection) -> None:
        """Number the entries of the events not numbered yet, after the last number given: no gap, no reuse.

        One numberer at a time (PostgreSQL: an advisory lock; SQLite: its write lock). An event
        committed late with a lower sequence number (another worker's) is still numbered, after
        those numbered before it, so a reader past them sees it too.
        """
        numbers, log = self.numbers, self.table
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('ftrack_like_api shotgrid events ' || current_schema()))"))
        last_seq, next_number = connection.execute(
            sa.select(sa.func.max(numbers.c.seq), sa.func.max(numbers.c.first + numbers.c.count))).one()
        since = max((last_seq or 0) - LOOKBACK, 0)
        numbered = sa.select(numbers.c.seq).where(numbers.c.seq > since)
        fresh = connection.execute(sa.select(log).where(log.c.topic == TOPIC, log.c.seq > since, log.c.seq.not_in(numbered))
                                   .order_by(log.c.seq).limit(NUMBER_AT_ONCE)).mappings().all()  # fmt: skip
        number = next_number or 1
        rows = []
        for event in fresh:
            count = sum(1 for _ in self._expand(event, 0, connection))
            rows.append({"seq": event["seq"], "first": number, "count": count})
            number += count
        for start in range(0, len(rows), 500):
            connection.execute(numbers.insert(), rows[start:start + 500])

    def page(self, connection: sa.Connection, principal: Any, filters: Any, fields: list[str], descending: bool,
             per_page: int, page: int, resolve: Any, uuids: Any) -> tuple[list[dict[str, Any]], bool]:  # fmt: skip
        """(the rows of page ``page``, whether another follows); ``resolve(rows)`` makes their links ShotGrid's,
        ``uuids(numbers)`` gives the entities numbered (a project filtered on)."""
        self.number(connection)
        low, high, since, until, project, user = _bounds(filters)
        if project is not None:
            project = uuids([project]).get(project, "")
        made_by = _made_by(user, uuids) if user is not None else None
        wanted, skip = per_page + 1, (page - 1) * per_page
        rows: list[dict[str, Any]] = []
        for entry in self._entries(connection, principal, low, high, since, until, project, made_by, descending):
            if (low is not None and entry["id"] <= low) or (high is not None and entry["id"] >= high):
                continue  # the bounding events' own entries past the bound
            if made_by is not None and (entry["user_id"], entry["script"]) != made_by:
                continue  # the owner's other scripts, or the owner by hand (SQL found the owner's events)
            if skip:
                skip -= 1
                continue
            rows.append(entry)
            if len(rows) == wanted:
                break
        more = len(rows) > per_page
        rows = resolve(rows[:per_page])
        return [{"type": "EventLogEntry", "id": r["id"], **{f: r.get(f) for f in fields if f not in ("id", "type")}}
                for r in rows], more  # fmt: skip

    def _entries(self, connection: sa.Connection, principal: Any, low: int | None, high: int | None, since: Any,
                 until: Any, project: str | None, made_by: tuple[str, str | None] | None,
                 descending: bool) -> Iterator[dict[str, Any]]:  # fmt: skip
        log, numbers = self.table, self.numbers
        statement = (sa.select(log, numbers.c.first).join(numbers, numbers.c.seq == log.c.seq)
                     .where(numbers.c.count > 0))  # fmt: skip
        if low is not None:
            statement = statement.where(numbers.c.first + numbers.c.count > low + 1)
        if high is not None:
            statement = statement.where(numbers.c.first < high)
        if since is not None:
            statement = statement.where(log.c.sent >= since)
        if until is not None:
            statement = statement.where(log.c.sent <= until)
        if project is not None:
            statement = statement.where(log.c.project_id == project)
        if made_by is not None:
            statement = statement.where(log.c.user_id == made_by[0])
        if principal is not None and not principal.admin and principal.readable is not None:
            statement = statement.where(sa.or_(log.c.project_id.is_(None), log.c.project_id.in_(sorted(principal.readable))))
        order = numbers.c.first.desc() if descending else numbers.c.first
        last: int | None = None
        while True:
            chunk = statement
            if last is not None:
                chunk = chunk.where(numbers.c.first < last if descending else numbers.c.first > last)
            events = connection.execute(chunk.order_by(order).limit(_CHUNK)).mappings().all()
            for event in events:
                entries = list(self._expand(event, event["first"], connection))
                yield from (reversed(entries) if descending else entries)
            if len(events) < _CHUNK:
                return
            last = events[-1]["first"]

    def _told(self, connection: sa.Connection, ours: str, item: dict[str, Any]) -> dict[str, Any] | None:
        """What tells which of the ShotGrid types sharing ``ours`` the entity of ``item`` is: the attribute's value
        an ``add`` set or a ``remove`` held, or (an ``update``) the row's now, or as it was retired — its first type
        if it is gone otherwise (deleted through ftrack's API before its events were numbered)."""
        if self.mapping.told_by(ours) == "component_locations":
            return self._related(connection, item["entityId"], "ComponentLocation", "component_id", "location_id",
                                 "component_locations")  # fmt: skip
        if self.mapping.told_by(ours) == "metadata":
            return self._related(connection, item["entityId"], "Metadata", "parent_id", "key", "metadata")
        attr = self.mapping.discriminators(ours)
        if not attr:
            return None
        change = (item.get("changes") or {}).get(attr[0])
        if isinstance(change, dict) and item.get("action") in ("add", "remove"):
            return {attr[0]: change.get("new" if item["action"] == "add" else "old")}
        if self.tables is None:
            return None
        table = self.tables(ours)
        found = connection.execute(sa.select(table.c[attr[0]]).where(table.c.id == item["entityId"])).first()
        if found is not None:
            return {attr[0]: found[0]}
        if self.retired is None:
            return None
        kept = connection.execute(sa.select(self.retired.c.rows).where(self.retired.c.entity_id == item["entityId"])).scalar()
        rows = [row for _, row in json.loads(kept or "[]") if row.get("id") == item["entityId"] and attr[0] in row]
        return {attr[0]: rows[0][attr[0]]} if rows else None

    def _related(self, connection: sa.Connection, key: str, kind: str, parent: str, column: str,
                 answer: str) -> dict[str, Any] | None:  # fmt: skip
        """The rows of ``kind`` whose ``parent`` column is ``key`` (their ``column`` only, as ``{answer: [{column}, …]}``):
        those there now, or as they were retired with the entity — a component's locations, an entity's metadata keys."""
        if self.tables is None:
            return None
        table = self.tables(kind)
        rows = [{column: row[0]} for row in connection.execute(sa.select(table.c[column]).where(table.c[parent] == key))]
        if not rows and self.retired is not None:
            kept = connection.execute(sa.select(self.retired.c.rows).where(self.retired.c.entity_id == key)).scalar()
            rows = [{column: row.get(column)} for name, row in json.loads(kept or "[]")
                    if name == table.name and row.get(parent) == key]  # fmt: skip
        return {answer: rows}

    def _expand(self, event: Any, first: int, connection: sa.Connection) -> Iterator[dict[str, Any]]:
        """The ShotGrid rows of one ``ftrack.update`` event, numbered from ``first``."""
        data, source = json.loads(event["data"]), json.loads(event["source"])
        number = first - 1
        user = source.get("user") or {}
        script = (source.get("apiKey") or {}).get("name")
        common = {"created_at": event["sent"], "project_id": event["project_id"], "user_id": user.get("id"),
                  "script": script, "username": user.get("username")}  # fmt: skip
        for item in data.get("entities") or ():
            ours = str(item.get("entity_type"))
            if self.mapping.of_ours(ours) is None or not isinstance(item.get("entityId"), str):
                continue
            sg_type = self.mapping.of_ours(ours, self._told(connection, ours, item))
            if sg_type is None:  # an entity of ours no ShotGrid type is (the version made for a publish)
                continue
            action = _ACTIONS.get(item.get("action"))
            if action is None:
                continue
            base = {**common, "entity_id": item["entityId"], "sg_type": sg_type.name}
            event_type = f"Shotgun_{sg_type.name}_{action}"
            if action != "Change":
                number += 1
                yield {**base, "id": number, "event_type": event_type, "attribute_name": None,
                       "meta_raw": {"type": "new_entity" if action == "New" else "entity_retirement"}}  # fmt: skip
                continue
            for key, change in (item.get("changes") or {}).items():
                field = self.attributes[sg_type.name].get(key)
                if field is None:
                    continue
                number += 1
                yield {**base, "id": number, "event_type": event_type, "attribute_name": field.name,
                       "meta_raw": {"type": "attribute_change", "field": field, "old": (change or {}).get("old"),
                                    "new": (change or {}).get("new")}}  # fmt: skip


def _attrs(field: Field) -> list[str]:
    if field.kind == "status":
        return ["status_id"]
    if field.kind == "thumbnail":
        return ["thumbnail_id"]
    if field.kind in ("entity", "named"):
        return ["parent_id"] if field.parent else [f"{field.attr}_id"]
    return [field.attr] if field.kind == "scalar" and field.attr else []


def _made_by(user: tuple[str, int], uuids: Any) -> tuple[str, str | None]:
    """(the user's uuid, the script's name or None) of a ``user`` filtered on: a HumanUser acting by hand, or an
    ApiUser (numbered ``apikey:<owner>:<name>``, :mod:`.apiusers`); one naming nobody finds nothing."""
    found = uuids([user[1]]).get(user[1])
    if user[0] == "ApiUser":
        prefix, owner, name = (found or "::").split(":", 2)
        return (owner, name) if prefix == "apikey" else ("", "")
    return (found, None) if found is not None and not found.startswith("apikey:") else ("", "")


def _bounds(filters: Any) -> tuple[int | None, int | None, Any, Any, int | None, tuple[str, int] | None]:
    """(ids above, ids below, since, until, the project's number, the user's type and number) from the filters: id
    and created_at ranges, the project and the user are what is served."""
    conditions = filters.get("conditions", []) if isinstance(filters, dict) else filters or []
    if isinstance(filters, dict) and filters.get("logical_operator", "and") != "and" and len(conditions) > 1:
        raise ValidationError("EventLogEntry is filtered by id and created_at ranges, all of them at once", "bad_filter")
    low = high = since = until = project = None
    user: tuple[str, int] | None = None
    for condition in conditions:
        path, relation = condition.get("path"), condition.get("relation")
        values = condition.get("values") or [None]
        if path == "id" and relation in ("greater_than", "less_than", "is", "between"):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise ValidationError(f"EventLogEntry.id {relation} takes whole numbers, not {values!r}", "bad_filter")
            if relation == "greater_than":
                low = values[0] if low is None else max(low, values[0])
            elif relation == "less_than":
                high = values[0] if high is None else min(high, values[0])
            else:
                first, last = (values[0], values[0]) if relation == "is" else (values[0], values[1])
                low, high = max(low or first - 1, first - 1), min(high or last + 1, last + 1)
        elif path == "project" and relation == "is" and isinstance(values[0], dict) and values[0].get("type") == "Project":
            if not isinstance(values[0].get("id"), int) or (project is not None and project != values[0]["id"]):
                raise ValidationError(f"EventLogEntry.project is takes one project, not {values!r}", "bad_filter")
            project = values[0]["id"]
        elif path == "user" and relation == "is" and isinstance(values[0], dict):
            link = values[0]
            if link.get("type") not in ("ApiUser", "HumanUser") or not isinstance(link.get("id"), int) or user is not None:
                raise ValidationError(f"EventLogEntry.user is takes one HumanUser or ApiUser, not {values!r}", "bad_filter")
            user = (link["type"], link["id"])
        elif path == "created_at" and relation in ("greater_than", "less_than"):
            try:
                when = datetime.datetime.strptime(str(values[0]), "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                raise ValidationError(f"EventLogEntry.created_at takes a datetime, not {values[0]!r}", "bad_filter") from None
            since, until = (when, until) if relation == "greater_than" else (since, when)
        else:
            raise ValidationError(f"EventLogEntry is filtered by id and created_at ranges, project and user here, not {path!r} "
                                  f"{relation!r}",
                                  "bad_filter")  # fmt: skip
    return low, high, since, until, project, user



def finish(
    mapping: Mapping,
    rows: list[dict[str, Any]],
    numbers: Any,
    known: Any,
    status_names: Any,
    link_names: Any = None,
) -> list[dict[str, Any]]:
    """``rows`` as ShotGrid answers them: links with integer ids, ``meta`` in the fields' values.

    ``numbers({uuid: our type})`` gives (or makes) integer ids, ``known(uuids)`` those that
    exist, ``status_names(uuids)`` our statuses' names, ``link_names({uuid: ShotGrid type})`` the names of links to
    the types named by a metadata entry (a Version's ``code``: one statement for the page; None: not named).
    """
    wanted: dict[str, str] = {}
    values: set[str] = set()
    statuses: set[str] = set()
    named: dict[str, SgType] = {}
    for row in rows:
        sg_type = mapping.type(row["sg_type"])
        wanted[row["entity_id"]] = sg_type.ours
        if sg_type.named_by_metadata is not None:
            named[row["entity_id"]] = sg_type
        if row["project_id"]:
            wanted[row["project_id"]] = "Project"
        if row["script"] and row["user_id"]:
            wanted[_api_user(row)] = "ApiUser"
        elif row["user_id"]:
            wanted[row["user_id"]] = "User"
        meta = row["meta_raw"]
        if meta["type"] == "attribute_change" and meta["field"].kind in ("entity", "status"):
            target = statuses if meta["field"].kind == "status" else values
            target.update(v for v in (meta["old"], meta["new"]) if isinstance(v, str))
            linked = _named_link(mapping, meta["field"])
            if linked is not None:
                named.update((v, linked) for v in (meta["old"], meta["new"]) if isinstance(v, str))
    found = numbers(wanted)
    found.update(known(values - set(found)))
    names = status_names(statuses) if statuses else {}
    link_name = link_names(named) if named and link_names is not None else {}
    answered = []
    for row in rows:
        meta = row["meta_raw"]
        entity = {"type": row["sg_type"], "id": found.get(row["entity_id"]), "name": link_name.get(row["entity_id"])}
        if meta["type"] == "attribute_change":
            field: Field = meta["field"]
            old, new = (_value(mapping, field, v, found, names, link_name) for v in (meta["old"], meta["new"]))
            shown = {"type": "attribute_change", "attribute_name": field.name, "entity_type": row["sg_type"],
                     "entity_id": entity["id"], "field_data_type": field.sg_data_type, "old_value": old, "new_value": new,
                     "in_create": False}  # fmt: skip
        else:
            shown = {"type": meta["type"], "entity_type": row["sg_type"], "entity_id": entity["id"]}
        if row["script"] and row["user_id"]:
            user = {"type": "ApiUser", "id": found.get(_api_user(row)), "name": row["script"]}
        elif row["user_id"]:
            user = {"type": "HumanUser", "id": found.get(row["user_id"]), "name": row["username"]}
        else:
            user = None
        project = {"type": "Project", "id": found.get(row["project_id"]), "name": None} if row["project_id"] else None
        answered.append({"id": row["id"], "event_type": row["event_type"], "attribute_name": row["attribute_name"],
                         "meta": shown, "entity": entity, "user": user, "project": project, "description": None,
                         "session_uuid": None, "created_at": row["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ")})  # fmt: skip
    return answered


def _api_user(row: dict[str, Any]) -> str:
    """The key an API key's ShotGrid ``ApiUser`` is numbered by: its owner and its name."""
    return f"apikey:{row['user_id']}:{row['script']}"


def _named_link(mapping: Mapping, field: Field) -> SgType | None:
    """The type an entity field links to when a link to it is named by a metadata entry (a PublishedFile's ``version``)."""
    if field.kind != "entity" or len(field.types) != 1:
        return None
    linked = mapping.types.get(field.types[0])
    return linked if linked is not None and linked.named_by_metadata is not None else None


def _value(mapping: Mapping, field: Field, value: Any, found: dict[str, int], names: dict[str, str],
           link_names: dict[str, Any]) -> Any:  # fmt: skip
    if value is None:
        return None
    if field.kind == "status":
        name = names.get(value)
        return mapping.status_codes.get(name, name) if name is not None else None  # type: ignore[arg-type]
    if field.kind == "entity":
        number = found.get(value)
        if number is not None and _named_link(mapping, field) is not None:  # a Version's: named by its code
            return {"type": field.types[0], "id": number, "name": link_names.get(value)}
        return {"type": field.types[0], "id": number} if number is not None and len(field.types) == 1 else number
    if field.values:
        truth = {"1": True, "0": False, "true": True, "false": False}.get(str(value).lower(), value)
        return next((code for code, ours in field.values.items() if ours == truth), value)
    return value
