"""Aquarium's writes and reads of items and edges, inside one batch of the engine.

An item of a mapped type is created, changed and deleted through the engine's writer (so
its permissions, integrity and ``ftrack.update`` events hold), the data keys our model has
no attribute for kept beside it in ``aquarium_item``. A Child edge between contexts is the
child's parent; an Assigned edge from a Task to a User an assignment; every other edge and
item is kept whole (:mod:`.tables`). A context type made with no parent (``POST items``)
is kept whole until a Child edge from a context gives it one: it then becomes an entity of
ours under the same key.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import sqlalchemy as sa

from ....exceptions import ValidationError
from ...auth.permissions import PermissionDenied
from ...engine.batch import BatchContext
from .events import AquariumEvents
from .mapping import ItemType, Mapping
from .relations import CHILD_PREFIX, Relations
from .shapes import edge_of, item_of

__all__ = ["Store", "deep_merge"]


def deep_merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """``change`` merged into a copy of ``base``: objects merged key by key, anything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def not_found(what: str) -> ValidationError:
    return ValidationError(f"{what} not found", "not_found")


class Store:
    """Items and edges over one backend and mapping."""

    def __init__(self, backend: Any, mapping: Mapping, relations: Relations, events: AquariumEvents) -> None:
        self.backend, self.mapping, self.relations, self.events = backend, mapping, relations, events
        self.items_table, self.edges_table = relations.item_table, relations.edge_table

    # --- reading ------------------------------------------------------------------------------

    def items(self, batch: BatchContext, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The items of ``keys`` the caller may see, by key."""
        relation = self.relations.items(batch.principal)
        rows = batch.connection.execute(sa.select(relation).where(relation.c.key.in_(keys))).mappings()
        return {row["key"]: item_of(row, self.mapping.columns) for row in rows}

    def item(self, batch: BatchContext, key: Any) -> dict[str, Any]:
        """The item ``key``; not_found otherwise."""
        found = self.items(batch, [str(key)]).get(str(key))
        if found is None:
            raise not_found(f"Item {key}")
        return found

    def edge(self, batch: BatchContext, key: Any) -> dict[str, Any]:
        """The edge ``key``, if the caller may see both its ends; not_found otherwise."""
        relation = self.relations.edges()
        row = batch.connection.execute(sa.select(relation).where(relation.c.key == str(key))).mappings().first()
        if row is None or len(self.items(batch, [row["from_key"], row["to_key"]])) < len({row["from_key"], row["to_key"]}):
            raise not_found(f"Edge {key}")
        return edge_of(row)  # type: ignore[return-value]  # a row has a key

    # --- items --------------------------------------------------------------------------------

    def create(self, batch: BatchContext, type_name: Any, data: Any, parent: str | None = None) -> str:
        """A new item of ``type_name`` (under ``parent`` when the mapping makes that its parent); its key."""
        if not isinstance(type_name, str) or not type_name:
            raise ValidationError("An item needs a type (a text, such as 'Shot')", "bad_request")
        data = _data(data)
        kind = self.mapping.item(type_name)
        if kind is not None and kind.name == "User":
            raise ValidationError("Users are made through POST /v1/users", "bad_request")
        key = str(uuid.uuid4())
        if kind is not None and (kind.table == "resource" or kind.name == "Project" or parent is not None):
            self._entity(batch, kind, key, data, parent)
        else:
            self.keep(batch, key, type_name, data, generic=True)
            self.events.record(batch, "item", "created", type_name, key, data)
        return key

    def _entity(self, batch: BatchContext, kind: ItemType, key: str, data: dict[str, Any], parent: str | None) -> None:
        attributes = {attr: data[k] for k, attr in kind.data.items() if k in data}
        for k, attr in kind.also.items():
            if data.get(k) is not None:
                attributes.setdefault(attr, data[k])
        values: dict[str, Any] = {"__entity_type__": kind.ours, "id": key, **attributes}
        if kind.child:
            assert parent is not None
            values = self.relations.children.create(batch, self.backend.writer, kind, key, data, self.item(batch, parent))
        elif kind.name == "Project":
            values.setdefault("project_schema_id", self._schema(batch))
        elif parent is not None:
            values["parent_id"] = parent
        self.backend.writer.create(batch, kind.ours, values)
        kept = {k: v for k, v in data.items() if k not in kind.data}
        self.keep(batch, key, kind.name, kept, generic=False)
        if kept:  # for its history (the engine's event has the attributes)
            self.events.record(batch, "item", "created", kind.name, key, kept, beside=True)

    def _schema(self, batch: BatchContext) -> Any:
        table = self.backend.storage.tables["project_schema"]
        found = batch.connection.execute(sa.select(table.c.id).order_by(table.c.name != "VFX", table.c.name).limit(1)).scalar()
        if found is None:
            raise ValidationError("The studio has no project schema to make a project with", "bad_request")
        return found

    def keep(self, batch: BatchContext, key: str, type_name: str, data: dict[str, Any], generic: bool, checked: bool = True) -> None:
        """Write the row of ``aquarium_item`` that keeps ``data`` for the item ``key`` (if the caller may change it,
        unless ``checked`` is false: the server's own items)."""
        if checked:
            self.may_write(batch, key)
        table = self.items_table
        name = data.get("name") if generic and isinstance(data.get("name"), str) else None
        row = {"type": type_name, "generic": generic, "name": name, "data": _dumps(data), "updated_at": batch.now,
               "updated_by": batch.user_id}  # fmt: skip
        changed = batch.connection.execute(table.update().where(table.c.key == key).values(row)).rowcount
        if not changed:
            batch.connection.execute(table.insert().values(key=key, created_at=batch.now, created_by=batch.user_id, **row))

    def may_write(self, batch: BatchContext, key: str) -> None:
        """Refuse (PermissionError) a change of what is kept for ``key`` by a user who may not change its project.

        The engine checks what its writer changes; this checks what is kept beside it. An
        item of no project (a generic one) is changed by anyone who writes at all.
        """
        principal = batch.principal
        if principal.admin or (principal.writes and principal.writable is None):
            return
        if not principal.writes:
            raise PermissionDenied(f"{principal.username} may not change anything", "permission")
        context = self.relations.context
        project = batch.connection.execute(sa.select(sa.func.coalesce(context.c.project_id, context.c.id))
                                           .where(context.c.id == key)).scalar()  # fmt: skip
        if project is not None and project not in principal.writable:  # type: ignore[operator]
            raise PermissionDenied(f"{principal.username} may not change item {key} (its project is not theirs to change)",
                                   "permission")  # fmt: skip

    def update(self, batch: BatchContext, key: Any, data: Any, deep: bool = True, replace: bool = False) -> None:
        """Merge ``data`` into the item's (deeply, unless ``deep`` is false), or replace it."""
        current = self.item(batch, key)
        data = _data(data)
        new = data if replace else (deep_merge(current["data"], data) if deep else {**current["data"], **data})
        kind = self.mapping.item(current["type"])
        generic = self.kept_whole(batch, current["_key"])
        if kind is None or generic:
            self.keep(batch, current["_key"], current["type"], new, generic=True)
            self.events.record(batch, "item", "updated", current["type"], current["_key"], new)
            return
        attributes = {attr: new.get(k) for k, attr in kind.data.items() if new.get(k) != current["data"].get(k)}
        if kind.converted:
            changed = {k: new.get(k) for k in kind.converted if new.get(k) != current["data"].get(k)}
            attributes.update(self.relations.children.converted(batch, kind, changed))
        kept = {k: v for k, v in new.items() if k not in kind.data}
        before = {k: v for k, v in current["data"].items() if k not in kind.data}
        if attributes:
            self.backend.writer.update(batch, kind.ours, [current["_key"]], attributes)
        changed = {k: v for k, v in kept.items() if before.get(k) != v}
        if changed or not attributes:
            # What changed beside the entity, in the log for its history (on the event stream only when the engine logs nothing).
            self.events.record(batch, "item", "updated", current["type"], current["_key"], changed, beside=bool(attributes))
        self.keep(batch, current["_key"], kind.name, kept, generic=False)

    def kept_whole(self, batch: BatchContext, key: str) -> bool:
        table = self.items_table
        return bool(batch.connection.execute(sa.select(table.c.generic).where(table.c.key == key)).scalar())

    def delete(self, batch: BatchContext, key: Any) -> dict[str, Any]:
        """Delete the item (its edges go with it); what it was."""
        current = self.item(batch, key)
        kind = self.mapping.item(current["type"])
        if kind is not None and not self.kept_whole(batch, current["_key"]):
            self.backend.writer.delete(batch, kind.ours, [current["_key"]])
        else:
            self.events.record(batch, "item", "deleted", current["type"], current["_key"])
        t, e = self.items_table, self.edges_table
        batch.connection.execute(t.delete().where(t.c.key == current["_key"]))
        touching = sa.or_(e.c.from_key == current["_key"], e.c.to_key == current["_key"])
        for edge in batch.connection.execute(sa.select(e.c.key, e.c.type).where(touching, e.c.generic.is_(True))).all():
            self.events.record(batch, "edge", "deleted", edge.type, edge.key)
        batch.connection.execute(e.delete().where(touching))
        return current

    # --- edges --------------------------------------------------------------------------------

    def connect(self, batch: BatchContext, type_name: Any, source: Any, target: Any, data: Any = None) -> str:
        """A new edge of ``type_name`` from ``source`` to ``target``; its key. One per type, direction and pair (409)."""
        if not isinstance(type_name, str) or not type_name:
            raise ValidationError("An edge needs a type (a text, such as 'Child')", "bad_request")
        data = _data(data)
        found = self.items(batch, [str(source), str(target)])
        if str(source) not in found:
            raise not_found(f"Item {source}")
        if str(target) not in found:
            raise not_found(f"Item {target}")
        src, dst = found[str(source)], found[str(target)]
        self._refuse_duplicate(batch, type_name, src["_key"], dst["_key"])
        relation = self.mapping.edge(type_name, src["type"], dst["type"])
        key = None
        if relation is not None and relation.ours == "link" and not self.kept_whole(batch, src["_key"]) \
                and not self.kept_whole(batch, dst["_key"]):
            key = str(uuid.uuid4())
            self.backend.writer.create(batch, "TypedContextLink", {"__entity_type__": "TypedContextLink", "id": key,
                                                                   "from_id": src["_key"], "to_id": dst["_key"]})  # fmt: skip
            batch.connection.execute(self.edges_table.insert().values(key=key, type=type_name, generic=False, from_key=src["_key"],
                                                                       to_key=dst["_key"], data=_dumps(data)))  # fmt: skip
            return key
        if relation is not None and relation.ours == "parent":
            key = self._parent(batch, src["_key"], dst)
        elif relation is not None and relation.ours == "assignment":
            key = str(uuid.uuid4())
            self.backend.writer.create(batch, "Appointment", {"__entity_type__": "Appointment", "id": key, "type": "assignment",
                                                              "context_id": src["_key"], "resource_id": dst["_key"]})  # fmt: skip
        elif relation is not None and relation.ours == "list_item" and not self.kept_whole(batch, src["_key"]):
            key = str(uuid.uuid4())
            self.backend.writer.create(batch, "ListObject", {"__entity_type__": "ListObject", "id": key, "list_id": src["_key"],
                                                             "entity_id": dst["_key"]})  # fmt: skip
        elif relation is not None and relation.ours == "membership":
            key = str(uuid.uuid4())
            self.backend.writer.create(batch, "Membership", {"__entity_type__": "Membership", "id": key, "group_id": src["_key"],
                                                             "user_id": dst["_key"]})  # fmt: skip
        generic = key is None
        key = key or str(uuid.uuid4())
        if generic or data:
            batch.connection.execute(self.edges_table.insert().values(key=key, type=type_name, generic=generic, from_key=src["_key"],
                                                                       to_key=dst["_key"], data=_dumps(data)))  # fmt: skip
        if generic:
            self.events.record(batch, "edge", "created", type_name, key)
        return key

    def connect_made(self, batch: BatchContext, type_name: str, source: str, target: str, data: Any) -> str:
        """The key of the Child edge that made ``target`` (just created under ``source``), its ``data`` kept."""
        key, data = CHILD_PREFIX + target, _data(data)
        if data:
            batch.connection.execute(self.edges_table.insert().values(key=key, type=type_name, generic=False, from_key=source,
                                                                       to_key=target, data=_dumps(data)))  # fmt: skip
        return key

    def _refuse_duplicate(self, batch: BatchContext, type_name: str, source: str, target: str) -> None:
        edges = self.relations.edges()
        exists = batch.connection.execute(sa.select(edges.c.key).where(
            edges.c.type == type_name, edges.c.from_key == source, edges.c.to_key == target).limit(1)).scalar()  # fmt: skip
        if exists is not None:
            raise ValidationError(f"A {type_name} edge from {source} to {target} exists already ({exists})", "conflict")

    def _parent(self, batch: BatchContext, source: str, target: dict[str, Any]) -> str | None:
        """Make ``source`` the parent of ``target`` when it has none (a kept item becomes an entity); the edge's key,
        or None when the target has a parent already (the edge is then kept whole)."""
        context = self.relations.context
        kind = self.mapping.item(target["type"])
        assert kind is not None
        if self.kept_whole(batch, target["_key"]):
            self._entity(batch, kind, target["_key"], target["data"], source)
            return CHILD_PREFIX + target["_key"]
        if kind.child:  # a child entity has its parent already
            return None
        parent = batch.connection.execute(sa.select(context.c.parent_id).where(context.c.id == target["_key"])).scalar()
        if parent is None:
            self.backend.writer.update(batch, self.mapping.items[target["type"]].ours, [target["_key"]], {"parent_id": source})
            return CHILD_PREFIX + target["_key"]
        return None

    def move(self, batch: BatchContext, key: Any, old: Any, new: Any) -> dict[str, Any]:
        """Move item ``key`` from under ``old`` to under ``new`` (``PUT items/<key>/move``): a context's parent changes;
        an item kept whole has its Child edge replaced. The item and its new Child edge."""
        if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
            raise ValidationError("move takes {oldParentKey, newParentKey}", "bad_request")
        item, target = self.item(batch, key), self.item(batch, new)
        edges = self.relations.edges(("Child",))
        found = batch.connection.execute(sa.select(edges.c.key).where(edges.c.from_key == old, edges.c.to_key == item["_key"])).scalar()
        if found is None:
            raise not_found(f"Item {item['_key']} under {old}")
        kind = self.mapping.item(item["type"])
        relation = self.mapping.edge("Child", target["type"], item["type"])
        if found == CHILD_PREFIX + item["_key"] and kind is not None and kind.table == "context":
            if relation is None:
                raise ValidationError(f"A {item['type']} of ours is not a child of a {target['type']}", "bad_request")
            self.backend.writer.update(batch, kind.ours, [item["_key"]], {"parent_id": target["_key"]})
            return {"item": self.item(batch, item["_key"]), "edge": self.edge(batch, found)}
        if found == CHILD_PREFIX + item["_key"]:  # a version, a component, a note, a timelog: held by its parent
            raise ValidationError(f"A {item['type']} stays under its parent here (it is a {kind.ours if kind else 'child'} of "
                                  "ours): copy it instead", "conflict")  # fmt: skip
        self.disconnect(batch, found)
        edge = self.connect(batch, "Child", target["_key"], item["_key"])
        return {"item": self.item(batch, item["_key"]), "edge": self.edge(batch, edge)}

    def change_edge(self, batch: BatchContext, key: Any, data: Any, deep: bool = True, replace: bool = False) -> None:
        """Merge ``data`` into the edge's, or replace it."""
        current = self.edge(batch, key)
        data = _data(data)
        new = data if replace else (deep_merge(current["data"], data) if deep else {**current["data"], **data})
        table = self.edges_table
        self.events.record(batch, "edge", "updated", current["type"], current["_key"])
        if batch.connection.execute(table.update().where(table.c.key == current["_key"]).values(data=_dumps(new))).rowcount:
            return
        batch.connection.execute(table.insert().values(key=current["_key"], type=current["type"], generic=False,
                                                       from_key=current["_from"][len("items/"):], to_key=current["_to"][len("items/"):],
                                                       data=_dumps(new)))  # fmt: skip

    def disconnect(self, batch: BatchContext, key: Any) -> dict[str, Any]:
        """Delete the edge; what it was."""
        current = self.edge(batch, key)
        table, child = self.edges_table, current["_to"][6:]
        held = self.mapping.item(self.item(batch, child)["type"]) if current["_key"] == CHILD_PREFIX + child else None
        if held is not None and held.child:
            raise ValidationError(f"{current['_key']} is the parent of {held.name} {child} ({held.ours} of ours): delete the item "
                                  "rather than its parent", "conflict")  # fmt: skip
        if current["_key"] == CHILD_PREFIX + child:
            # Our contexts always have a parent: the item moves to another Child edge's source, if it has one.
            other = batch.connection.execute(sa.select(table.c.key, table.c.from_key).where(
                table.c.type == "Child", table.c.to_key == child, table.c.generic.is_(True))).first()  # fmt: skip
            if other is None:
                raise ValidationError(f"{current['_key']} is the only parent of item {child} here: link it to its new parent "
                                      "first (move), or delete the item", "conflict")  # fmt: skip
            self.backend.writer.update(batch, self.mapping.items[self.item(batch, child)["type"]].ours, [child],
                                       {"parent_id": other.from_key})  # fmt: skip
            batch.connection.execute(table.delete().where(table.c.key == other.key))
        elif current["type"] == "Assigned" and self._held(batch, self.relations.appointment, current["_key"]):
            self.backend.writer.delete(batch, "Appointment", [current["_key"]])
        elif current["type"] == "Member" and self._held(batch, self.relations.membership, current["_key"]):
            self.backend.writer.delete(batch, "Membership", [current["_key"]])
        elif current["type"] in self.mapping.list_items() and self._held(batch, self.relations.list_object, current["_key"]):
            self.backend.writer.delete(batch, "ListObject", [current["_key"]])
        elif current["type"] in self.mapping.links() and self._held(batch, self.relations.link, current["_key"]):
            self.backend.writer.delete(batch, "TypedContextLink", [current["_key"]])
        else:
            self.events.record(batch, "edge", "deleted", current["type"], current["_key"])
        batch.connection.execute(table.delete().where(table.c.key == current["_key"]))
        return current

    def _held(self, batch: BatchContext, table: sa.Table, key: str) -> bool:
        """Whether ``key`` is a row of ``table`` (the edge is that relation of ours)."""
        return batch.connection.execute(sa.select(table.c.id).where(table.c.id == key)).first() is not None


def _data(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError(f"data is an object, not {type(data).__name__}", "bad_request")
    return data
