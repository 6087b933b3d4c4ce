"""Aquarium's graph over our tables: one relation of items and one of edges, in SQL.

Every query meshQL compiles to (:mod:`.compiler`) and every item or edge the routes
answer is read from these two selectables, built once from the mapping (data, not code
per type):

- **items**: the contexts of the mapped types (their Aquarium type told by ``context_type``
  and object type), the users and groups, the child entities (versions, components, notes,
  timelogs: :mod:`.entities`), and the generic items; columns ``key``, ``type``,
  ``generic``, one per data key a mapped type keeps in an attribute (``name``,
  ``description`` …), ``extra`` (the JSON of the other keys), the times and authors,
  and ``project`` (for the caller's project permissions).
- **edges**: ``Child`` from each context's ``parent_id`` and each child entity's parent,
  ``Assigned`` from each assignment, ``Member`` from each membership, ``Dependency`` /
  ``Breakdown`` from each TypedContextLink (its type kept beside it; one made elsewhere is
  the first link type of the mapping), ``Playlist`` from each list of versions to each
  version in it (a ListObject), ``Child`` from Lagoon's Projects container to each
  project, and the generic edges; columns ``key``, ``type``, ``from_key``, ``to_key``,
  ``data`` (JSON text).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, Sequence

import sqlalchemy as sa

from ...auth.permissions import Principal
from .entities import ChildEntities
from .mapping import Mapping

__all__ = ["CHILD_PREFIX", "LAGOON_NAMESPACE", "PROJECTS_CONTAINER", "PROJECT_PREFIX", "Relations"]

#: The key of the Child edge that is a context's parent: this, then the child's id.
CHILD_PREFIX = "parent-"
#: The namespace of the keys of Lagoon's organisation and its containers (:mod:`.organisation`).
LAGOON_NAMESPACE = uuid.UUID("0f6a1c8e-4b5d-5e2f-9a7b-3c1d2e4f5a6b")
#: Lagoon's ``Projects`` container, whose Child edges lead to every project of ours; the key of each edge is this, then
#: the project's id.
PROJECTS_CONTAINER, PROJECT_PREFIX = str(uuid.uuid5(LAGOON_NAMESPACE, "container:Projects")), "lagoon-project-"


def _text(value: str) -> sa.ColumnElement[str]:
    """A constant of the mapping, written into the SQL (not bound): PostgreSQL plans the relations far better when
    it sees their constants (a bound type name hides which rows a branch can hold)."""
    return sa.literal_column("'" + value.replace("'", "''") + "'", sa.Text)


class Relations:
    """The item and edge relations of one storage."""

    def __init__(self, storage: Any, mapping: Mapping) -> None:
        self.mapping = mapping
        tables = storage.tables
        self.context, self.object_type = tables["context"], tables["object_type"]
        self.resource, self.appointment, self.membership = tables["resource"], tables["appointment"], tables["membership"]
        self.item_table, self.edge_table = storage.aquarium["aquarium_item"], storage.aquarium["aquarium_edge"]
        self.link = tables["typed_context_link"]
        self.lists, self.list_object = tables["list"], tables["list_object"]
        self.children = ChildEntities(storage, self.item_table, self.edge_table)

    # --- items ---------------------------------------------------------------------------------

    def items(self, principal: Principal | None = None, types: frozenset[str] | None = None) -> sa.Subquery:
        """Every item the caller may see, as one relation (see the module's text); only those of ``types`` when
        given (a query that names its types reads only the tables that hold them). A new alias each call."""
        return self._items(principal.readable if principal is not None else None, types).subquery()

    def keys(self, principal: Principal | None = None) -> sa.Subquery:
        """The key of every item the caller may see, and nothing else (what an existence test needs: the database
        plans it without the columns' joins). A new alias each call."""
        return self._keys(principal.readable if principal is not None else None).subquery()

    @functools.lru_cache(maxsize=64)  # noqa: B019 - as _items
    def _keys(self, readable: frozenset[str] | None) -> Any:
        everything = self._items(readable, None)
        branches: list[Any] = list(everything.selects) if isinstance(everything, sa.CompoundSelect) else [everything]
        # Each branch as a subquery of which only the key is read: both databases flatten it and drop the joins that
        # only fed the other columns.
        return sa.union_all(*(sa.select(branch.subquery().c.key) for branch in branches))

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one Relations per server; building the statement is the cost
    def _items(self, readable: frozenset[str] | None, types: frozenset[str] | None) -> Any:
        contexts = [t for t in self.mapping.contexts() if types is None or t.name in types]
        branches = [self._contexts(readable, contexts)] if contexts else []
        for kind in self.mapping.resources():
            if types is None or kind.name in types:
                branches.append(self._resources(kind))
        for kind in self.mapping.children():
            if types is None or kind.name in types:
                branches.append(self.children.items(kind, self.mapping.columns, readable))
        branches.append(self._generic(types, readable))
        return sa.union_all(*branches) if len(branches) > 1 else branches[0]

    def _columns(self, values: dict[str, Any]) -> list[Any]:
        return [(values[key] if values.get(key) is not None else sa.null()).label(key) for key in self.mapping.columns]

    def _contexts(self, readable: frozenset[str] | None, kinds: list[Any]) -> sa.Select[Any]:
        c, o, a = self.context, self.object_type, self.item_table
        shows = any(t.name == "Project" for t in kinds)
        objects = [t.object_type for t in kinds if t.object_type]
        kind = sa.case(
            (c.c.context_type == _text("show"), _text("Project")),
            *((o.c.name == _text(t.object_type), _text(t.name)) for t in self.mapping.contexts() if t.object_type),
            else_=o.c.name,
        )
        # A data key is the attribute of whichever mapped type the row is.
        values: dict[str, Any] = {}
        for key in self.mapping.columns:
            holders = [(t, t.data[key]) for t in self.mapping.contexts() if key in t.data]
            branches = [((c.c.context_type == _text("show")) if t.name == "Project" else (o.c.name == _text(t.object_type or "")),
                         c.c[attr])
                        for t, attr in holders]  # fmt: skip
            if branches:
                values[key] = sa.case(*branches, else_=sa.null())
        project = sa.func.coalesce(c.c.project_id, c.c.id)
        select = (
            sa.select(c.c.id.label("key"), kind.label("type"), sa.false().label("generic"), *self._columns(values),
                      a.c.data.label("extra"), c.c.created_at.label("created_at"),
                      sa.func.coalesce(a.c.updated_at, c.c.created_at).label("updated_at"),
                      c.c.created_by_id.label("created_by"), sa.func.coalesce(a.c.updated_by, c.c.created_by_id).label("updated_by"),
                      project.label("project"))
            .select_from(c.outerjoin(o, o.c.id == c.c.object_type_id).outerjoin(a, a.c.key == c.c.id))
            .where(sa.or_(*([c.c.context_type == _text("show")] if shows else []),
                          *([o.c.name.in_([_text(n) for n in objects])] if objects else [])))
        )  # fmt: skip
        if readable is not None:
            select = select.where(project.in_(sorted(readable)))
        return select

    def _resources(self, kind: Any) -> sa.Select[Any]:
        r, a = self.resource, self.item_table
        values = {key: r.c[attr] for key, attr in kind.data.items()}
        return (
            sa.select(r.c.id.label("key"), _text(kind.name).label("type"), sa.false().label("generic"), *self._columns(values),
                      a.c.data.label("extra"), a.c.created_at.label("created_at"), a.c.updated_at.label("updated_at"),
                      a.c.created_by.label("created_by"), a.c.updated_by.label("updated_by"), sa.null().label("project"))
            .select_from(r.outerjoin(a, a.c.key == r.c.id))
            .where(r.c.resource_type == _text(kind.resource_type))
        )  # fmt: skip

    def _generic(self, types: frozenset[str] | None, readable: frozenset[str] | None) -> sa.Select[Any]:
        a = self.item_table
        values = {"name": a.c.name}
        select = (
            sa.select(a.c.key, a.c.type, a.c.generic, *self._columns(values), a.c.data.label("extra"), a.c.created_at,
                      a.c.updated_at, a.c.created_by, a.c.updated_by, sa.null().label("project"))
            .where(a.c.generic.is_(True))
        )  # fmt: skip
        if readable is not None:
            select = select.where(a.c.key.not_in(self._hidden(readable)))
        return select.where(a.c.type.in_(sorted(types))) if types is not None else select

    @functools.lru_cache(maxsize=64)  # noqa: B019 - as _items; one CTE object per readable set, however many steps name it
    def _hidden(self, readable: frozenset[str]) -> sa.Select[Any]:
        """The generic items under a context of a project not in ``readable``, up their Child edges at any depth
        (a Version under a Task of another project is not seen, as the Task is not)."""
        e, c = self.edge_table, self.context
        chain = sa.select(e.c.to_key.label("key"), e.c.from_key.label("above")).where(e.c.type == _text("Child")).cte(
            "aquarium_up", recursive=True)  # fmt: skip
        up = e.alias("up_edge")
        chain = chain.union(sa.select(chain.c.key, up.c.from_key).where(up.c.to_key == chain.c.above, up.c.type == _text("Child")))
        project = sa.func.coalesce(c.c.project_id, c.c.id)
        return sa.select(chain.c.key).join(c, c.c.id == chain.c.above).where(project.not_in(sorted(readable)))

    # --- edges ---------------------------------------------------------------------------------

    def edges(self, types: Sequence[str] = (), reach: frozenset[str] | None = None) -> sa.Subquery:
        """Every edge, as one relation (see the module's text); only those of ``types`` when given, and only those on a
        path to an item of the types ``reach`` when given (a walk to Shots reads no version's Child edges). A new alias
        each call."""
        return self._edges(tuple(types), self._leading_to(reach)).subquery()

    @functools.lru_cache(maxsize=256)  # noqa: B019 - as _items
    def _leading_to(self, reach: frozenset[str] | None) -> frozenset[str] | None:
        """The child entity types whose Child edges may be on a path to an item of ``reach`` (None: all): those types,
        and those they may be under (a Comment is reached through its Version). Other edges lead anywhere."""
        if reach is None:
            return None
        children = {kind.name for kind in self.mapping.children()}
        needed = set(reach) & children
        child = self.mapping.edges.get("Child")
        grew = True
        while grew and child is not None:
            above = {k for k in children - needed for sources, targets in child.pairs if k in sources and targets & needed}
            grew, needed = bool(above), needed | above
        return frozenset(needed)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - as _items
    def _edges(self, types: tuple[str, ...], kinds: frozenset[str] | None = None) -> Any:
        c, ap, e = self.context, self.appointment, self.edge_table
        child_key = _text(CHILD_PREFIX).op("||")(c.c.id)
        children = (
            sa.select(child_key.label("key"), _text("Child").label("type"), c.c.parent_id.label("from_key"),
                      c.c.id.label("to_key"), sa.func.coalesce(e.c.data, _text("{}")).label("data"))
            .select_from(c.outerjoin(e, e.c.key == child_key))
            .where(c.c.parent_id.is_not(None))
        )  # fmt: skip
        assigned = (
            sa.select(ap.c.id.label("key"), _text("Assigned").label("type"), ap.c.context_id.label("from_key"),
                      ap.c.resource_id.label("to_key"), sa.func.coalesce(e.c.data, _text("{}")).label("data"))
            .select_from(ap.outerjoin(e, e.c.key == ap.c.id))
            .where(ap.c.type == _text("assignment"))
        )  # fmt: skip
        m = self.membership
        members = (
            sa.select(m.c.id.label("key"), _text("Member").label("type"), m.c.group_id.label("from_key"),
                      m.c.user_id.label("to_key"), sa.func.coalesce(e.c.data, _text("{}")).label("data"))
            .select_from(m.outerjoin(e, e.c.key == m.c.id))
        )  # fmt: skip
        generic = sa.select(e.c.key, e.c.type, e.c.from_key, e.c.to_key, e.c.data).where(e.c.generic.is_(True))
        projects = (
            sa.select(_text(PROJECT_PREFIX).op("||")(c.c.id).label("key"), _text("Child").label("type"),
                      _text(PROJECTS_CONTAINER).label("from_key"), c.c.id.label("to_key"), _text("{}").label("data"))
            .where(c.c.context_type == _text("show"))
        )  # fmt: skip
        parents = [children, projects, *(self.children.child_edges(kind, CHILD_PREFIX) for kind in self.mapping.children()
                                         if kinds is None or kind.name in kinds)]  # fmt: skip
        named = self.mapping.links()
        links = self._links(named, [t for t in types if t in named] if types else named) if named else None
        listed = [self._list_items(name) for name in self.mapping.list_items() if not types or name in types]
        if not types:
            return sa.union_all(*parents, assigned, members, *([links] if links is not None else []), *listed, generic)
        branches = [*(parents if "Child" in types else []), *([assigned] if "Assigned" in types else []),
                    *([members] if "Member" in types else []), *([links] if links is not None and set(named) & set(types) else []),
                    *listed, generic.where(e.c.type.in_(list(types)))]  # fmt: skip
        return sa.union_all(*branches) if len(branches) > 1 else branches[0]

    def _list_items(self, name: str) -> sa.Select[Any]:
        """The versions in each list of versions (ListObject), as ``name`` edges from the list."""
        lo, lst, e = self.list_object, self.lists, self.edge_table
        return (
            sa.select(lo.c.id.label("key"), _text(name).label("type"), lo.c.list_id.label("from_key"),
                      lo.c.entity_id.label("to_key"), sa.func.coalesce(e.c.data, _text("{}")).label("data"))
            .select_from(lo.join(lst, lst.c.id == lo.c.list_id).outerjoin(e, e.c.key == lo.c.id))
            .where(lst.c.system_type == _text("assetversion"))
        )  # fmt: skip

    def _links(self, named: list[str], wanted: list[str]) -> sa.Select[Any]:
        """The TypedContextLinks, as edges of the link type kept beside each (``named[0]`` when none is)."""
        link, e = self.link, self.edge_table
        kind = sa.func.coalesce(e.c.type, _text(named[0]))
        select = (
            sa.select(link.c.id.label("key"), kind.label("type"), link.c.from_id.label("from_key"), link.c.to_id.label("to_key"),
                      sa.func.coalesce(e.c.data, _text("{}")).label("data"))
            .select_from(link.outerjoin(e, e.c.key == link.c.id))
        )  # fmt: skip
        return select if set(wanted) == set(named) else select.where(kind.in_([_text(w) for w in wanted]))
