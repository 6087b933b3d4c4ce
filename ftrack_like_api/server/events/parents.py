"""Where an entity of an ``ftrack.update`` hangs: its parent, found among the batch's rows or in the
database, and its chain up to the project (``parents``), written as JSON text once per entity.

Many entities of a batch hang under one parent (10,000 tasks under a shot): the chain above
them is worked out, and written, once. A loop in the data stops a chain before it goes round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...schema import EntityType, Kind as AttributeKind, Schema
from . import json_text

if TYPE_CHECKING:
    from .updates import TypeFacts as Kind

__all__ = ["Chain", "Node", "Parents", "add_ids", "parent_rules"]

#: A parent rule: (column holding the parent's id, type to look in, types it may be in).
Rule = tuple[str, "str | None", tuple[str, ...]]

#: A node's parent not looked for yet.
UNKNOWN: Any = object()


class Node:
    """One entity of a chain: its ids and types, where its parent is, and (once asked) its way up."""

    __slots__ = ("chain", "entity_id", "kind", "object_type", "parent", "parent_id", "project", "up")

    def __init__(self, kind: Kind, entity_id: Any, parent: tuple[str, Any] | None, parent_id: Any, project: Any,
                 object_type: Any) -> None:  # fmt: skip
        self.kind = kind
        self.entity_id = entity_id  # a list for a composite key
        self.parent = parent  # (type names to look in, id) or None
        self.parent_id = parent_id
        self.project = project  # a project id the row names itself, if any
        self.object_type = object_type  # a TypedContext's object type
        self.up: Node | None = UNKNOWN  # the parent's node, once looked for
        self.chain: Chain | None = None


class Chain:
    """A node's ``parents`` (itself up to its project) as JSON text, and the project it belongs to."""

    __slots__ = ("above", "node", "project", "show", "text")

    def __init__(self, node: Node, above: Chain | None) -> None:
        self.node = node
        self.above = above
        kind = node.kind
        own = kind.node % (json_text.value(node.entity_id), json_text.value(node.parent_id))
        self.text: str = own if above is None else f"{own},{above.text}"
        # ayon-ftrack's rule: the topmost "show" of the chain; else the first project a row names.
        self.show: Any
        if above is not None and above.show is not None:
            self.show = above.show
        else:
            self.show = node.entity_id if kind.legacy == "show" else None
        # (Where ``above`` has no show, its project is the first one named.)
        first = node.project if node.project is not None else above.project if above is not None else None
        self.project: Any = self.show if self.show is not None else first


class Parents:
    """Finds the parents of a batch's entities and writes their chains, for one schema and storage."""

    def __init__(self, schema: Schema, tables: Mapping[str, sa.Table], kind_of: Callable[[EntityType], Kind]) -> None:
        self.schema = schema
        self.tables = tables
        self.kind_of = kind_of
        self._families: dict[str, tuple[str, ...]] = {}
        #: Each type's statement, built once (keys bound at each run): building it was a tenth of an update's CPU.
        self._statements: dict[str, sa.Select[Any]] = {}

    def parent(self, kind: Kind, row: Any) -> tuple[tuple[str, Any] | None, Any]:
        """Where a row's parent is (type names to look in, id), and its id; (None, None) for none."""
        for column, target, within in kind.rules:
            found = row.get(column)
            if found is None:
                continue
            if target is None:
                named = row.get("parent_type") if column == "parent_id" else None
                target = named if isinstance(named, str) and named in self.schema else ",".join(within)
            return (target, found), found
        return None, None

    def node(self, kind: Kind, row: Any) -> Node:
        key = kind.primary_key
        entity_id = row.get(key[0]) if len(key) == 1 else [row.get(k) for k in key]
        parent, parent_id = self.parent(kind, row)
        project = entity_id if kind.legacy == "show" else row.get("project_id") if kind.has_project else None
        return Node(kind, entity_id, parent, parent_id, project, row.get("object_type_id"))

    # --- parents ------------------------------------------------------------------------------

    def resolve(
        self, connection: sa.Connection, start: set[tuple[str, Any]], nodes: dict[tuple[str, Any], Node],
        created: Mapping[Any, Mapping[str, Any]],
    ) -> None:  # fmt: skip
        """Find every parent of every chain, from the parents ``start`` names: in the batch's own rows first,
        then one query per level and type."""
        pending = start
        looked: set[tuple[str, Any]] = set()
        for _ in range(64):  # deeper than any hierarchy; a loop in the data stops here
            missing: dict[str, set[Any]] = {}
            found: list[Node] = []
            for parent in pending:
                if parent in looked or self.find(parent, nodes) is not None:
                    continue
                looked.add(parent)
                target, key = parent
                made = created.get(key)
                name = self.holder(target, made) if made is not None else None
                if made is not None and name is not None:
                    concrete = self.schema.concrete(name, made)
                    kind = self.kind_of(concrete)
                    node = nodes[(kind.family, key)] = self.node(kind, made)
                    found.append(node)
                else:
                    missing.setdefault(target, set()).add(key)
            for target, keys in missing.items():
                for name in target.split(","):
                    if not keys:
                        break
                    entity_type = self.schema[name]
                    table = self.tables[entity_type.table or entity_type.name]
                    pk = table.c[entity_type.primary_key[0]]
                    statement = self._statements.get(name)
                    if statement is None:
                        statement = self._statements[name] = self._rows_and_above(entity_type, table, pk)
                    for row in connection.execute(statement, {"keys": sorted(keys)}).mappings():
                        concrete = self.schema.concrete(name, row)
                        kind = self.kind_of(concrete)
                        node = nodes[(kind.family, row[pk.name])] = self.node(kind, row)
                        keys.discard(row[pk.name])
                        found.append(node)
            pending = {node.parent for node in found if node.parent is not None}
            if not pending:
                return

    def _rows_and_above(self, entity_type: EntityType, table: sa.Table, pk: sa.Column[Any]) -> sa.Select[Any]:
        """The rows keyed ``keys`` (a parameter); for contexts, with every context above them too: one statement
        for the whole chain up to the project (a task's shot, sequence and project), not one per level."""
        keys: sa.BindParameter[Any] = sa.bindparam("keys", expanding=True)
        if entity_type.table != "context" or "parent_id" not in table.c:
            return sa.select(table).where(pk.in_(keys))
        chain = sa.select(pk.label("id")).where(pk.in_(keys)).cte("above", recursive=True)
        step = table.alias("step")
        # UNION, not UNION ALL: a loop in the data ends the walk instead of going round.
        chain = chain.union(sa.select(step.c.parent_id).join(chain, step.c[pk.name] == chain.c.id)
                            .where(step.c.parent_id.is_not(None)))  # fmt: skip
        # Each row by its key (one IN over the chain): an OR of two IN would read the whole table.
        return sa.select(table).where(pk.in_(sa.select(chain.c.id)))

    def holder(self, target: str, row: Mapping[str, Any]) -> str | None:
        """Which of the types ``target`` names a row the batch created belongs to (by its columns)."""
        for name in target.split(","):
            entity_type = self.schema[name]
            table = self.tables.get(entity_type.table or entity_type.name)
            if table is not None and all(column in table.c for column in row):
                return name
        return None

    def find(self, parent: tuple[str, Any], nodes: dict[tuple[str, Any], Node]) -> Node | None:
        """The node of ``parent`` (type names to look in, id), if known."""
        target, key = parent
        families = self._families.get(target)
        if families is None:
            families = self._families[target] = tuple(
                (self.schema[name].table or name) for name in target.split(","))  # fmt: skip
        for family in families:
            node = nodes.get((family, key))
            if node is not None:
                return node
        return None

    def up(self, node: Node, nodes: dict[tuple[str, Any], Node]) -> Node | None:
        up = node.up
        if up is UNKNOWN:
            up = node.up = None if node.parent is None else self.find(node.parent, nodes)
        return up

    def chain(self, node: Node, nodes: dict[tuple[str, Any], Node]) -> Chain:
        """``node``'s chain, made once per node: a child's is its own element and its parent's chain."""
        if node.chain is not None:
            return node.chain
        path: list[Node] = []
        on_path: set[int] = set()
        top: Node | None = node
        while top is not None and top.chain is None:
            if id(top) in on_path:  # a loop in the data: the chain stops before going round again
                path[-1].up = None
                top = None
                break
            on_path.add(id(top))
            path.append(top)
            top = self.up(top, nodes)
        above = top.chain if top is not None else None
        for step in reversed(path):
            above = step.chain = Chain(step, above)
        assert node.chain is not None
        return node.chain


def parent_rules(entity_type: EntityType) -> list[Rule]:
    """Where an entity's parent is: (column holding its id, type to look in, types it may be in)."""
    rules: list[Rule] = []
    if entity_type.table == "context":
        rules.append(("parent_id", "Context", ()))
    else:
        for rule in entity_type.project:
            if rule.key is not None:
                rules.append((rule.key, None, (rule.within,) if rule.within else ()))
            elif len(rule.path) > 1:
                attribute = entity_type.attributes.get(rule.path[0])
                if attribute is not None and attribute.kind is AttributeKind.REFERENCE and len(attribute.via) == 1:
                    rules.append((attribute.via[0], attribute.target, ()))
            elif rule.path == ("project_id",):
                rules.append(("project_id", "Project", ()))
    # A polymorphic reference: all its possible types, tried in turn.
    merged: dict[str, Rule] = {}
    for column, target, within in rules:
        known = merged.get(column)
        merged[column] = (column, target, (known[2] if known else ()) + within)
    return list(merged.values())


def add_ids(ids: dict[Any, None], told: set[int], chain: Chain | None) -> None:
    """Add the ids of a chain to an event's ``data.parents``, in order (``told``: the chains added
    already, and so everything above them)."""
    while chain is not None and id(chain) not in told:
        told.add(id(chain))
        entity_id = chain.node.entity_id
        if isinstance(entity_id, str):
            ids.setdefault(entity_id)
        chain = chain.above


