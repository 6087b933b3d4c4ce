"""``ftrack.update``: what a committed batch changed, in ftrack's own event payload.

ftrack's server publishes one ``ftrack.update`` event per commit with every entity it
changed in ``data.entities``; listeners written for it (status propagation, ayon-ftrack's
handlers, ftrack's recipes) read these fields, so they are kept as ftrack names them::

    {"topic": "ftrack.update",
     "data": {"entities": [{
                  "action": "update",                 # add / update / remove / move
                  "entityId": "<id>",                  # a list for a composite key
                  "entityType": "task",                # ftrack's legacy lower-case name
                  "entity_type": "Task",               # today's name
                  "objectTypeId": "<id>",              # TypedContext only
                  "parentId": "<id of the parent>",
                  "keys": ["statusid"],
                  "changes": {"statusid": {"old": "<id>", "new": "<id>"}},
                  "parents": [{"entityId": "<id>", "entityType": "task", "entity_type": "Task",
                               "parentId": "<id>"}, …, {… "entityType": "show" …}]}],
              "parents": ["<every id of every chain>"],
              "user": {"userid": "<id>", "name": "First Last"}},
     "source": {"applicationId": "ftrack_like_api.server",
                "user": {"id": "<id>", "username": "jo"},
                "apiKey": {"name": "nuke"}}}          # absent when not made with a key

- ``entityType``: ``show`` for a Project, ``task`` for every TypedContext (shots, sequences
  and tasks alike), and otherwise the type's name in lower case (``assetversion``,
  ``user``, ``note``, ``appointment`` …).
- ``keys`` and ``changes`` use the attribute names ftrack's payloads use where they differ
  from today's (:data:`LEGACY_KEYS`: ``statusid``, ``typeid``, ``thumbid``, ``taskid``,
  ``text`` for a note's content …); other attributes keep their names. An ``add`` lists
  every value set (``old`` None), a ``remove`` every value the row held (``new`` None), an
  ``update`` the values that changed. A context whose ``parent_id`` changed is a ``move``.
  Values are JSON: dates as ISO text.
- An entity changed twice in a batch is one entry (first old value, last new one). A
  custom attribute value is a change of the entity it is on, under its key, as text
  (booleans ``"1"``/``"0"``), as ftrack's payloads carry them.
- ``parents`` starts with the entity itself and goes up to its project (TypedContexts by
  ``parent_id``; a version by its asset; a note by what it is on …, as the schema's
  project rules lead).

Permissions: each event carries the project of its entities, so a batch that touches
several projects appends one event per project (and one for the entities of no project,
such as users); readers see only the events of projects they read (``EventLog.read``).
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ...schema import EntityType, Kind, Schema

__all__ = ["LEGACY_KEYS", "TOPIC", "Updates", "legacy_type"]

TOPIC = "ftrack.update"

#: Attribute names ftrack's ``ftrack.update`` payloads use where today's API names differ
#: (as listeners read them), per legacy ``entityType``.
LEGACY_KEYS: dict[str, dict[str, str]] = {
    "task": {"status_id": "statusid", "type_id": "typeid", "thumbnail_id": "thumbid", "priority_id": "priorityid",
             "object_type_id": "objecttypeid", "start_date": "startdate", "end_date": "enddate"},
    "show": {"full_name": "fullname", "thumbnail_id": "thumbid", "start_date": "startdate", "end_date": "enddate"},
    "assetversion": {"status_id": "statusid", "task_id": "taskid", "thumbnail_id": "thumbid", "user_id": "userid",
                     "is_published": "ispublished"},
    "note": {"content": "text"},
}  # fmt: skip

#: One change a batch made: (action, concrete type, primary key values, the row before, the values after).
Change = tuple[str, EntityType, tuple[Any, ...], "Mapping[str, Any] | None", "Mapping[str, Any] | None"]


def legacy_type(schema: Schema, entity_type: EntityType) -> str:
    """ftrack's legacy lower-case name of a type: ``show``, ``task`` for a TypedContext, else the name lowered."""
    names = {t.name for t in schema.ancestry(entity_type.name)}
    if "Project" in names:
        return "show"
    if "TypedContext" in names:
        return "task"
    return entity_type.name.lower()


class _Node:
    """One entity of a chain: its ids and types, and where its parent is."""

    __slots__ = ("entry", "object_type", "parent", "project")

    def __init__(self, entry: dict[str, Any], parent: tuple[str, Any] | None, project: Any, object_type: Any) -> None:
        self.entry = entry  # {"entityId", "entityType", "entity_type", "parentId"}
        self.parent = parent  # (type name to look in, id) or None
        self.project = project  # a project id the row names itself, if any
        self.object_type = object_type  # a TypedContext's object type


class Updates:
    """Builds the ``ftrack.update`` events of a batch from the changes it recorded."""

    def __init__(self, schema: Schema, tables: Mapping[str, sa.Table]) -> None:
        self.schema = schema
        self.tables = tables
        self._legacy: dict[str, str] = {}
        self._shown: dict[str, dict[str, str]] = {}
        self._parents: dict[str, list[tuple[str, str | None, tuple[str, ...]]]] = {}
        users = tables["resource"]
        self._user = sa.select(users.c.first_name, users.c.last_name, users.c.username).where(users.c.id == sa.bindparam("id"))

    # --- the events ---------------------------------------------------------------------------

    def events(
        self,
        connection: sa.Connection,
        changes: list[Change],
        created: Mapping[Any, Mapping[str, Any]],
        user_id: str | None,
        source: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The events (one per project touched, and one for entities of none) of ``changes``.

        ``created`` holds the rows the batch created, by key (a parent made in the same
        batch is found there, not in the database).
        """
        entries: list[tuple[dict[str, Any], _Node]] = []
        nodes: dict[tuple[str, Any], _Node] = {}
        for action, entity_type, key, before, after in changes:
            if self._is_value(entity_type):
                entry = _value_entry(before, after)
            else:
                entry = self._entry(action, entity_type, key, before, after)
            if entry is None:
                continue
            row = (after or {}) if before is None else before if after is None else {**before, **after}
            node = self._node(entity_type, row)
            entries.append((entry, node))
            if len(key) == 1:
                nodes.setdefault((self._family(entity_type), key[0]), node)
        if not entries:
            return []
        self._resolve(connection, [node for _, node in entries], nodes, created)
        grouped: dict[Any, list[dict[str, Any]]] = {}
        chains: dict[Any, dict[Any, None]] = {}
        owners: dict[Any, dict[str, Any]] = {}
        for entry, node in entries:
            chain = self._chain(node, nodes)
            if "entityId" not in entry:
                # A custom attribute value: ftrack tells it as a change of the entity it is on.
                if len(chain) < 2:
                    continue
                chain = chain[1:]
                merged = self._on_owner(entry, chain[0], owners)
                if merged:
                    continue
            elif entry["action"] != "remove" and isinstance(entry["entityId"], str):
                told = owners.get(entry["entityId"])
                if told is not None:  # changed twice, or its custom attributes came first: one entry
                    if told["action"] != "add":
                        told["action"] = entry["action"] if entry["action"] != "update" else told["action"]
                    _merge(told, entry["changes"])
                    continue
                owners[entry["entityId"]] = entry
            entry["parents"] = [n.entry for n in chain]
            entry["parentId"] = chain[0].entry["parentId"]
            project = next((n.entry["entityId"] for n in reversed(chain) if n.entry["entityType"] == "show"), None)
            if project is None:
                project = next((n.project for n in chain if n.project is not None), None)
            grouped.setdefault(project, []).append(entry)
            ids = chains.setdefault(project, {})
            for n in chain:
                if isinstance(n.entry["entityId"], str):
                    ids[n.entry["entityId"]] = None
        user = self._who(connection, user_id)
        events = []
        for project, project_entries in grouped.items():
            events.append({
                "id": str(uuid.uuid4()),
                "topic": TOPIC,
                "data": {"entities": project_entries, "parents": list(chains[project]),
                         "user": {"userid": user_id, "name": user[0]}},
                "source": {"applicationId": "ftrack_like_api.server", "user": {"id": user_id, "username": user[1]},
                           **(dict(source) if source else {})},
                "target": "",
                "project_id": project,
            })  # fmt: skip
        return events

    def _is_value(self, entity_type: EntityType) -> bool:
        """Whether a type is a custom attribute value (kept per type)."""
        legacy = self._legacy_type(entity_type)
        return legacy.endswith("customattributevalue")

    def _on_owner(self, entry: dict[str, Any], owner: _Node, owners: dict[Any, dict[str, Any]]) -> bool:
        """Make a custom attribute value's entry its owner's; True when merged into the owner's own entry."""
        known = owners.get(owner.entry["entityId"])
        if known is not None:
            _merge(known, entry["changes"])
            return True
        entry.update({"action": "update", "entityId": owner.entry["entityId"], "entityType": owner.entry["entityType"],
                      "entity_type": owner.entry["entity_type"]})  # fmt: skip
        if owner.object_type is not None:
            entry["objectTypeId"] = owner.object_type
        owners[owner.entry["entityId"]] = entry
        return False

    def _who(self, connection: sa.Connection, user_id: str | None) -> tuple[str | None, str | None]:
        if user_id is None:
            return None, None
        row = connection.execute(self._user, {"id": user_id}).first()
        if row is None:
            return None, None
        name = " ".join(part for part in (row.first_name, row.last_name) if part) or row.username
        return name, row.username

    # --- one entity ---------------------------------------------------------------------------

    def _entry(
        self, action: str, entity_type: EntityType, key: tuple[Any, ...],
        before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:  # fmt: skip
        legacy = self._legacy_type(entity_type)
        shown = self._shown_keys(entity_type)
        changes: dict[str, dict[str, Any]] = {}
        if action == "add":
            for name, value in (after or {}).items():
                shown_as = shown.get(name)
                if shown_as is not None and value is not None:
                    changes[shown_as] = {"old": None, "new": value if type(value) is str else _plain(value)}
        elif action == "remove":
            for name, value in (before or {}).items():
                shown_as = shown.get(name)
                if shown_as is not None and value is not None:
                    changes[shown_as] = {"old": value if type(value) is str else _plain(value), "new": None}
        else:
            before = before or {}
            for name, value in (after or {}).items():
                shown_as = shown.get(name)
                old = before.get(name)
                if shown_as is not None and old != value:
                    changes[shown_as] = {"old": _plain(old), "new": _plain(value)}
            if not changes:
                return None
            if "parent_id" in changes and legacy in ("task", "show"):
                action = "move"
        entry: dict[str, Any] = {
            "action": action,
            "entityId": key[0] if len(key) == 1 else list(key),
            "entityType": legacy,
            "entity_type": entity_type.name,
            "keys": list(changes),
            "changes": changes,
        }
        if "object_type_id" in entity_type.attributes:
            row: Mapping[str, Any] = (after or {}) if before is None else before if after is None else {**before, **after}
            entry["objectTypeId"] = row.get("object_type_id")
        return entry

    def _shown_keys(self, entity_type: EntityType) -> dict[str, str]:
        """The attributes that go into ``changes``, by name, with the name they go under (worked out once per type)."""
        shown = self._shown.get(entity_type.name)
        if shown is None:
            renamed = LEGACY_KEYS.get(self._legacy_type(entity_type), {})
            # The key is entityId and the classifier entity_type: not repeated in ``changes``.
            implied = set(entity_type.primary_key) | set(entity_type.classifier) - {"object_type_id"}
            shown = self._shown[entity_type.name] = {
                name: renamed.get(name, name) for name, attribute in entity_type.attributes.items()
                if _shown(attribute) and name not in implied
            }  # fmt: skip
        return shown

    def _legacy_type(self, entity_type: EntityType) -> str:
        legacy = self._legacy.get(entity_type.name)
        if legacy is None:
            legacy = self._legacy[entity_type.name] = legacy_type(self.schema, entity_type)
        return legacy

    def _family(self, entity_type: EntityType) -> str:
        """The table an id is looked up in (ids are unique per table)."""
        return entity_type.table or entity_type.name

    # --- parents ------------------------------------------------------------------------------

    def _parent_rules(self, entity_type: EntityType) -> list[tuple[str, str | None, tuple[str, ...]]]:
        """Where an entity's parent is: (column holding its id, type to look in, types it may be in)."""
        cached = self._parents.get(entity_type.name)
        if cached is not None:
            return cached
        rules: list[tuple[str, str | None, tuple[str, ...]]] = []
        if entity_type.table == "context":
            rules.append(("parent_id", "Context", ()))
        else:
            for rule in entity_type.project:
                if rule.key is not None:
                    rules.append((rule.key, None, (rule.within,) if rule.within else ()))
                elif len(rule.path) > 1:
                    attribute = entity_type.attributes.get(rule.path[0])
                    if attribute is not None and attribute.kind is Kind.REFERENCE and len(attribute.via) == 1:
                        rules.append((attribute.via[0], attribute.target, ()))
                elif rule.path == ("project_id",):
                    rules.append(("project_id", "Project", ()))
        # A polymorphic reference: all its possible types, tried in turn.
        merged: dict[str, tuple[str, str | None, tuple[str, ...]]] = {}
        for column, target, within in rules:
            known = merged.get(column)
            merged[column] = (column, target, (known[2] if known else ()) + within)
        found = self._parents[entity_type.name] = list(merged.values())
        return found

    def _node(self, entity_type: EntityType, row: Any) -> _Node:
        legacy = self._legacy_type(entity_type)
        key = [row.get(k) for k in entity_type.primary_key]
        entry = {"entityId": key[0] if len(key) == 1 else key, "entityType": legacy, "entity_type": entity_type.name,
                 "parentId": None}  # fmt: skip
        parent: tuple[str, Any] | None = None
        for column, target, within in self._parent_rules(entity_type):
            value = row.get(column)
            if value is None:
                continue
            if target is None:
                named = row.get("parent_type") if column == "parent_id" else None
                target = named if isinstance(named, str) and named in self.schema else ",".join(within)
            parent = (target, value)
            entry["parentId"] = value
            break
        project = row.get("project_id") if "project_id" in entity_type.attributes else None
        if legacy == "show":
            project = entry["entityId"]
        return _Node(entry, parent, project, row.get("object_type_id"))

    def _resolve(
        self, connection: sa.Connection, start: list[_Node], nodes: dict[tuple[str, Any], _Node],
        created: Mapping[Any, Mapping[str, Any]],
    ) -> None:  # fmt: skip
        """Find every parent of every chain: in the batch's own rows first, then one query per level and type."""
        pending = [node.parent for node in start if node.parent is not None]
        looked: set[tuple[str, Any]] = set()
        for _ in range(64):  # deeper than any hierarchy; a loop in the data stops here
            missing: dict[str, set[Any]] = {}
            found: list[_Node] = []
            for parent in pending:
                if parent in looked or self._known(parent, nodes):
                    continue
                looked.add(parent)
                target, value = parent
                made = created.get(value)
                name = self._holder(target, made) if made is not None else None
                if made is not None and name is not None:
                    concrete = self.schema.concrete(name, made)
                    node = nodes[(self._family(concrete), value)] = self._node(concrete, made)
                    found.append(node)
                else:
                    missing.setdefault(target, set()).add(value)
            for target, values in missing.items():
                for name in target.split(","):
                    if not values:
                        break
                    entity_type = self.schema[name]
                    table = self.tables[self._family(entity_type)]
                    pk = table.c[entity_type.primary_key[0]]
                    for row in connection.execute(sa.select(table).where(pk.in_(sorted(values)))).mappings():
                        concrete = self.schema.concrete(name, row)
                        node = nodes[(self._family(concrete), row[pk.name])] = self._node(concrete, row)
                        values.discard(row[pk.name])
                        found.append(node)
            pending = [node.parent for node in found if node.parent is not None]
            if not pending:
                return

    def _holder(self, target: str, row: Mapping[str, Any]) -> str | None:
        """Which of the types ``target`` names a row the batch created belongs to (by its columns)."""
        for name in target.split(","):
            table = self.tables.get(self._family(self.schema[name]))
            if table is not None and all(column in table.c for column in row):
                return name
        return None

    def _known(self, parent: tuple[str, Any], nodes: dict[tuple[str, Any], _Node]) -> bool:
        target, value = parent
        return any((self._family(self.schema[name]), value) in nodes for name in target.split(","))

    def _chain(self, node: _Node, nodes: dict[tuple[str, Any], _Node]) -> list[_Node]:
        chain = [node]
        seen = {id(node)}
        while node.parent is not None:
            target, value = node.parent
            parent = None
            for name in target.split(","):
                parent = nodes.get((self._family(self.schema[name]), value))
                if parent is not None:
                    break
            if parent is None or id(parent) in seen:
                break
            chain.append(parent)
            seen.add(id(parent))
            node = parent
        return chain


def _merge(entry: dict[str, Any], changes: Mapping[str, dict[str, Any]]) -> None:
    """Add later ``changes`` of the same entity to its entry: the first old value, the last new one."""
    for name, change in changes.items():
        earlier = entry["changes"].get(name)
        if earlier is None:
            entry["keys"].append(name)
            entry["changes"][name] = change
        else:
            entry["changes"][name] = {"old": earlier["old"], "new": change["new"]}


def _value_entry(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A custom attribute value's change under its key, values as ftrack's payloads carry them (text)."""
    row = after if before is None else before
    key = (row or {}).get("key")
    old = _as_text((before or {}).get("value"))
    new = None if after is None else _as_text(after.get("value", (before or {}).get("value")))
    if key is None or old == new:
        return None
    return {"keys": [key], "changes": {key: {"old": old, "new": new}}}


def _as_text(stored: Any) -> str | None:
    """A stored custom attribute value (JSON text) as ftrack's events carry it: text, booleans as "1"/"0"."""
    if stored is None:
        return None
    try:
        value = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        return str(stored)
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value) if not isinstance(value, str) else value


def _shown(attribute: Any) -> bool:
    """Whether a value goes into ``changes``: a visible stored attribute."""
    return attribute is not None and attribute.kind is Kind.SCALAR and not attribute.hidden and not attribute.computed


def _plain(value: Any) -> Any:
    """A value as JSON carries it: dates as ISO text (UTC), exact numbers as floats."""
    if isinstance(value, datetime.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value
