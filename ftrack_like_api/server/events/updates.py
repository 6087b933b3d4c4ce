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

Cost: the payload is written as JSON text (``json_text.py``) from the rows the writer
recorded, never built as dicts: the creates of one type that nothing else in the batch
changes are written together, a column of values at a time, and each parent's chain
(``parents.py``) once however many entities hang under it. The text is stored as it is
(:class:`~ftrack_like_api.server.events.log.RawJSON`).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from ...schema import EntityType, Schema
from . import json_text
from .log import RawJSON
from .changes import changes_told, shown, value_change
from .parents import Chain, Node, Parents, add_ids, parent_rules

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

#: Not a project (the first entry's, as the events are put together).
_NOTHING: Any = object()


def legacy_type(schema: Schema, entity_type: EntityType) -> str:
    """ftrack's legacy lower-case name of a type: ``show``, ``task`` for a TypedContext, else the name lowered."""
    names = {t.name for t in schema.ancestry(entity_type.name)}
    if "Project" in names:
        return "show"
    if "TypedContext" in names:
        return "task"
    return entity_type.name.lower()


class TypeFacts:
    """What the events need of one concrete type, worked out once."""

    __slots__ = ("family", "grouped", "has_project", "is_value", "legacy", "name", "node", "primary_key", "rules", "shown",
                 "typed")  # fmt: skip

    def __init__(self, updates: Updates, entity_type: EntityType) -> None:
        self.name = entity_type.name
        self.legacy = legacy_type(updates.schema, entity_type)
        self.family = entity_type.table or entity_type.name  # the table an id is looked up in (ids are unique per table)
        self.primary_key = tuple(entity_type.primary_key)
        self.is_value = self.legacy.endswith("customattributevalue")
        self.has_project = "project_id" in entity_type.attributes
        self.typed = "object_type_id" in entity_type.attributes  # its entries carry objectTypeId
        #: Whether its adds may be told in groups (keyed by one value, and not a custom attribute value).
        self.grouped = len(self.primary_key) == 1 and not self.is_value
        renamed = LEGACY_KEYS.get(self.legacy, {})
        # The key is entityId and the classifier entity_type: not repeated in ``changes``.
        implied = set(entity_type.primary_key) | set(entity_type.classifier) - {"object_type_id"}
        #: The attributes that go into ``changes``, by name, with the name they go under.
        self.shown = {
            name: renamed.get(name, name) for name, attribute in entity_type.attributes.items()
            if shown(attribute) and name not in implied
        }  # fmt: skip
        self.rules = parent_rules(entity_type)
        self.node = json_text.node_template(self.name, self.legacy)


class _Entry:
    """One entry of ``data.entities``: an entity's action and changes, told with its node's chain."""

    __slots__ = ("action", "changes", "node", "row", "typed")

    def __init__(self, action: str, node: Node, changes: dict[str, tuple[Any, Any]] | None,
                 row: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.action = action
        self.node = node
        #: By the name told, (old, new) as stored; None for an add told from ``row``.
        self.changes = changes
        self.row = row
        self.typed = node.kind.typed

    def materialise(self) -> dict[str, tuple[Any, Any]]:
        """Its changes as a dict (an add told from its row, the first time), to merge into."""
        if self.changes is None:
            shown, row = self.node.kind.shown, self.row or {}
            self.changes = {shown[name]: (None, v) for name, v in row.items() if name in shown and v is not None}
        return self.changes

    def merge(self, changes: Mapping[str, tuple[Any, Any]]) -> None:
        """Add later ``changes`` of the same entity: the first old value, the last new one."""
        mine = self.materialise()
        for name, (old, new) in changes.items():
            earlier = mine.get(name)
            mine[name] = (old, new) if earlier is None else (earlier[0], new)


class _Adds:
    """Adds of one type: told together, a column at a time (per layout: the names a row holds, in order)."""

    __slots__ = ("kind", "layout", "names", "parent_ids", "pointers", "positions", "rows", "target")

    def __init__(self, kind: TypeFacts, positions: list[int] | None = None, rows: list[Mapping[str, Any]] | None = None,
                 layout: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.kind = kind
        self.positions: list[int] = positions or []
        self.rows: list[Mapping[str, Any]] = rows or []
        self.layout = layout
        #: The names told (in the row's order).
        self.names = tuple(name for name in layout if name in kind.shown)
        #: Each row's parentId, and where its parent is: ``target`` for all (a context's parent is a
        #: Context), or per row in ``pointers``.
        self.parent_ids: list[Any] = []
        self.target: str | None = None
        self.pointers: list[tuple[str, Any] | None] = []

    def ids(self) -> list[Any]:
        return [row.get(self.kind.primary_key[0]) for row in self.rows]

    def layouts(self, shared: set[Any]) -> tuple[list[_Adds], list[tuple[int, Mapping[str, Any]]]]:
        """Its rows in groups of one layout, and apart those of entities in ``shared`` (named by
        other changes too: each an entry of its own, to be merged with them)."""
        positions, rows = self.positions, self.rows
        apart: list[tuple[int, Mapping[str, Any]]] = []
        if shared:
            keep = [key not in shared for key in self.ids()]
            apart = [(p, row) for p, row, kept in zip(positions, rows, keep) if not kept]
            positions, rows = list(itertools.compress(positions, keep)), list(itertools.compress(rows, keep))
        layouts = list(map(tuple, rows))
        if len(set(layouts)) <= 1:
            return ([_Adds(self.kind, positions, rows, layouts[0])] if rows else []), apart
        by_layout: dict[tuple[str, ...], _Adds] = {}
        for position, row, layout in zip(positions, rows, layouts):
            group = by_layout.get(layout)
            if group is None:
                group = by_layout[layout] = _Adds(self.kind, layout=layout)
            group.positions.append(position)
            group.rows.append(row)
        return list(by_layout.values()), apart

    def column(self, name: str) -> list[Any]:
        """The value of ``name`` in each row (all of one layout)."""
        return list(map(itemgetter(name), self.rows)) if name in self.layout else [None] * len(self.rows)

    def locate(self, updates: Updates) -> set[tuple[str, Any]]:
        """Work out where each row's parent is; the parents to find."""
        kind = self.kind
        if kind.rules == [("parent_id", "Context", ())]:
            self.target = "Context"
            self.parent_ids = self.column("parent_id")
            return {("Context", parent) for parent in set(self.parent_ids) if parent is not None}
        located = [updates.parents.parent(kind, row) for row in self.rows]
        self.pointers = [pointer for pointer, _ in located]
        self.parent_ids = [parent_id for _, parent_id in located]
        return {pointer for pointer in self.pointers if pointer is not None}


class Updates:
    """Builds the ``ftrack.update`` events of a batch from the changes it recorded."""

    def __init__(self, schema: Schema, tables: Mapping[str, sa.Table]) -> None:
        self.schema = schema
        self.tables = tables
        self._kinds: dict[str, TypeFacts] = {}
        self.parents = Parents(schema, tables, lambda entity_type: self._kinds.get(entity_type.name) or self._kind(entity_type))
        self._adds = json_text.AddTemplates()
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
        who: tuple[str | None, str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """The events (one per project touched, and one for entities of none) of ``changes``.

        ``who``: the author's name and username, when the caller read them already (the batch's
        acting user is read for every batch); else they are read here.

        ``created`` holds the rows the batch created, by key (a parent made in the same
        batch is found there, not in the database). Each event's ``data`` is its JSON text
        (a :class:`~ftrack_like_api.server.events.log.RawJSON`).

        Adds of entities nothing else in the batch changes (nearly every create) are told in
        groups of one type and row layout, a column of values at a time; every other change
        as an entry of its own, merged with the others of its entity.
        """
        entries, groups = self._sort(changes)
        if not entries and not groups:
            return []
        nodes: dict[tuple[str, Any], Node] = {}
        for _, entry in entries:
            if type(entry.node.entity_id) is not list:
                nodes.setdefault((entry.node.kind.family, entry.node.entity_id), entry.node)
        start: set[tuple[str, Any]] = {entry.node.parent for _, entry in entries if entry.node.parent is not None}
        for group in groups:
            start.update(group.locate(self))
        self.parents.resolve(connection, start, nodes, created)
        # What each change tells, by its position in the batch: its text, its project, and the ids
        # it adds to data.parents (its own, and those of a chain).
        size = len(changes)
        texts: list[str | None] = [None] * size
        projects: list[Any] = [None] * size
        owns: list[Any] = [None] * size
        aboves: list[Chain | None] = [None] * size
        for position, entry in self._merged(entries, nodes):
            chain = self.parents.chain(entry.node, nodes)
            texts[position], projects[position], aboves[position] = self._text(entry), chain.project, chain
        for group in groups:
            self._tell(group, nodes, texts, projects, owns, aboves)
        grouped: dict[Any, list[str]] = {}
        told: dict[Any, tuple[dict[Any, None], set[int]]] = {}
        last: Any = _NOTHING
        bucket: list[str] = []
        ids: dict[Any, None] = {}
        chains: set[int] = set()
        for text, project, own, above in zip(texts, projects, owns, aboves):
            if text is None:
                continue
            if project != last or last is _NOTHING:
                if project not in grouped:
                    grouped[project], told[project] = [], ({}, set())
                bucket, (ids, chains) = grouped[project], told[project]
                last = project
            bucket.append(text)
            if own is not None:
                ids.setdefault(own)
            if above is not None and id(above) not in chains:
                add_ids(ids, chains, above)
        user = who if who is not None else self._who(connection, user_id)
        user_text = json_text.value({"userid": user_id, "name": user[0]})
        events = []
        for project, project_texts in grouped.items():
            data = (f'{{"entities":[{",".join(project_texts)}],"parents":{json_text.value(list(told[project][0]))},'
                    f'"user":{user_text}}}')  # fmt: skip
            events.append({
                "id": str(uuid.uuid4()),
                "topic": TOPIC,
                "data": RawJSON(data),
                "source": {"applicationId": "ftrack_like_api.server", "user": {"id": user_id, "username": user[1]},
                           **(dict(source) if source else {})},
                "target": "",
                "project_id": project,
            })  # fmt: skip
        return events

    def _sort(self, changes: list[Change]) -> tuple[list[tuple[int, _Entry]], list[_Adds]]:
        """The changes as entries of their own (by position) and groups of adds told together."""
        kinds = self._kinds
        named: set[Any] = set()  # the keys the entries of their own name
        owned: set[Any] = set()  # what custom attribute values are on
        entries: list[tuple[int, _Entry]] = []
        adds: dict[str, _Adds] = {}
        for position, (action, entity_type, key, before, after) in enumerate(changes):
            kind = kinds.get(entity_type.name) or self._kind(entity_type)
            if action == "add" and kind.grouped and after is not None:
                group = adds.get(kind.name)
                if group is None:
                    group = adds[kind.name] = _Adds(kind)
                group.positions.append(position)
                group.rows.append(after)
                continue
            if len(key) == 1:
                named.add(key[0])
            if action == "add":
                row = after or {}
            else:
                row = (before or {}) if after is None else {**(before or {}), **after}
            if kind.is_value:
                value = value_change(before, after)
                if value is None:
                    continue
                entry = _Entry("update", self.parents.node(kind, row), value)
                if entry.node.parent is not None:
                    owned.add(entry.node.parent[1])
            elif action == "add":
                entry = _Entry("add", self.parents.node(kind, row), None, row)
            else:
                told = changes_told(kind.shown, action, before, after)
                if action != "remove":
                    if not told:
                        continue
                    if "parent_id" in told and kind.legacy in ("task", "show"):
                        action = "move"
                entry = _Entry(action, self.parents.node(kind, row), told)
            entries.append((position, entry))
        # An add that another change of the batch names (or an id added twice) is an entry of its own.
        added = [group.ids() for group in adds.values()]
        every = set(itertools.chain.from_iterable(added))
        shared = (named | owned) & every
        if len(every) < sum(map(len, added)):
            counted: dict[Any, int] = {}
            for key in itertools.chain.from_iterable(added):
                counted[key] = counted.get(key, 0) + 1
            shared.update(key for key, count in counted.items() if count > 1)
        groups: list[_Adds] = []
        for group in adds.values():
            layouts, apart = group.layouts(shared)
            groups += layouts
            entries += [(position, _Entry("add", self.parents.node(group.kind, row), None, row)) for position, row in apart]
        if shared:
            entries.sort(key=itemgetter(0))
        return entries, groups

    def _merged(self, entries: list[tuple[int, _Entry]], nodes: dict[tuple[str, Any], Node]) -> list[tuple[int, _Entry]]:
        """The entries told, in order: an entity's changes merged into its first entry, a custom
        attribute value's into the entity it is on."""
        told: list[tuple[int, _Entry]] = []
        owners: dict[Any, _Entry] = {}
        for position, entry in entries:
            node = entry.node
            if node.kind.is_value:
                # A custom attribute value: ftrack tells it as a change of the entity it is on.
                owner = self.parents.up(node, nodes)
                if owner is None:
                    continue
                known = owners.get(owner.entity_id)
                if known is not None:
                    known.merge(entry.changes or {})
                    continue
                entry.node, entry.typed = owner, owner.object_type is not None
                owners[owner.entity_id] = entry
            elif entry.action != "remove" and isinstance(node.entity_id, str):
                first = owners.get(node.entity_id)
                if first is not None:  # changed twice, or its custom attributes came first: one entry
                    if first.action != "add" and entry.action != "update":
                        first.action = entry.action
                    first.merge(entry.materialise())
                    continue
                owners[node.entity_id] = entry
            told.append((position, entry))
        return told

    def _text(self, entry: _Entry) -> str:
        """An entry of its own as JSON text."""
        node = entry.node
        kind = node.kind
        assert node.chain is not None
        object_type = (node.object_type,) if entry.typed else None
        return json_text.entry(entry.action, node.entity_id, kind.legacy, kind.name, entry.materialise(), object_type,
                               node.chain.text, json_text.value(node.parent_id))  # fmt: skip

    def _tell(
        self, group: _Adds, nodes: dict[tuple[str, Any], Node], texts: list[str | None], projects: list[Any],
        owns: list[Any], aboves: list[Chain | None],
    ) -> None:  # fmt: skip
        """Write a group of adds, a column at a time, into the lists by position."""
        kind = group.kind
        keys: list[Any] = group.parent_ids if group.target is not None else group.pointers
        above: dict[Any, Chain | None] = {}
        for key in set(keys):
            if key is not None:
                node = self.parents.find((group.target, key) if group.target is not None else key, nodes)
                above[key] = None if node is None else self.parents.chain(node, nodes)
        chains: list[Chain | None] = list(map(above.get, keys))
        tail = {key: "," + chain.text for key, chain in above.items() if chain is not None}
        tails = list(map(tail.get, keys, itertools.repeat("")))
        # Every column wanted, read in one pass: the key, the names told, objectTypeId, project_id.
        wanted = [kind.primary_key[0], *group.names]
        typed, has_project = kind.typed and "object_type_id" in group.layout, kind.has_project and "project_id" in group.layout
        wanted += ["object_type_id"] * typed + ["project_id"] * has_project
        columns: list[Any] = list(zip(*map(itemgetter(*wanted), group.rows))) if len(wanted) > 1 else [group.column(wanted[0])]
        ids = columns[0]
        object_types = columns[len(group.names) + 1] if typed else [None] * len(ids) if kind.typed else None
        own_projects = columns[-1] if has_project else itertools.repeat(None)
        columns = columns[1:len(group.names) + 1]
        told = self._adds.texts(kind.name, kind.legacy, kind.shown, group.names, columns, ids, object_types, tails,
                                group.parent_ids)  # fmt: skip
        # The project: the topmost show above (ayon-ftrack's rule), else the first project named.
        shows = {key: chain.show for key, chain in above.items() if chain is not None and chain.show is not None}
        if len(shows) == len(set(keys)):  # every row hangs under a project: the project above it
            told_projects: list[Any] = list(map(shows.__getitem__, keys))
        else:
            is_show = kind.legacy == "show"
            told_projects = [
                chain.show if chain is not None and chain.show is not None else entity_id if is_show
                else own if own is not None else chain.project if chain is not None else None
                for entity_id, own, chain in zip(ids, own_projects, chains)
            ]  # fmt: skip
        own_ids = ids if set(map(type, ids)) == {str} else [key if type(key) is str else None for key in ids]
        positions = group.positions
        if positions[-1] - positions[0] == len(positions) - 1:  # one run of the batch (they are in order)
            run = slice(positions[0], positions[-1] + 1)
            texts[run], projects[run], owns[run], aboves[run] = told, told_projects, own_ids, chains
            return
        for position, text, project, own_id, chain in zip(positions, told, told_projects, own_ids, chains):
            texts[position], projects[position], owns[position], aboves[position] = text, project, own_id, chain

    def _who(self, connection: sa.Connection, user_id: str | None) -> tuple[str | None, str | None]:
        if user_id is None:
            return None, None
        row = connection.execute(self._user, {"id": user_id}).first()
        if row is None:
            return None, None
        name = " ".join(part for part in (row.first_name, row.last_name) if part) or row.username
        return name, row.username

    def _kind(self, entity_type: EntityType) -> TypeFacts:
        kind = self._kinds[entity_type.name] = TypeFacts(self, entity_type)
        return kind
