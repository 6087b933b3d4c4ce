"""Load the references and collections a projection names, one query per attribute and level.

Each reference or collection named by a projection (``status.name``,
``assignments.resource.username``) is loaded for all rows at once, keyed on the join
columns: 5,000 tasks with ``status.name`` cost two queries, not 5,001, and no row is
multiplied by a join. What is found is written with the answer's :class:`.Encoding`, so an
entity met again is a reference to its first encoding.
"""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa

from ...schema import Attribute, EntityType, Kind
from .compiler import Compiler
from .computed import Computed
from .custom_attributes import CustomAttributes
from .compact import Included
from .encoding import Encoding, Extra, Index, Registry, Row, Tree
from .encoding import rows as _rows
from .statements import Prepared, StatementCache

__all__ = ["Loader"]


class Loader:
    """Fills the related projections of encoded entities; the keyed reads it keeps go in ``statements``."""

    def __init__(
        self,
        compiler: Compiler,
        encoding: Encoding,
        computed: Computed,
        custom: CustomAttributes,
        statements: StatementCache,
    ) -> None:
        self.compiler = compiler
        self.schema = compiler.schema
        self.storage = compiler.storage
        self.encoding = encoding
        self.computed = computed
        self.custom = custom
        self.statements = statements

    def load(
        self,
        connection: sa.Connection,
        entity_type: EntityType,
        parents: list[dict[str, Any]],
        rows: list[Row],
        index: Index,
        tree: Tree,
        registry: Registry,
        text: str,
        included: Included | None = None,
        path: tuple[str, ...] = (),
        extra: Extra | None = None,
    ) -> None:
        """Fill the reference and collection projections of ``parents`` (encoded entities, each written
        from the row at the same place in ``rows``), one query per attribute (``included``: a compact
        answer's, where each reference is written as its place; ``path``: the projection ``parents``
        were reached by — a listing's earlier pages sent some references at each path, which are
        written as their places and neither fetched nor encoded again; ``extra``: a value more of each
        entity, read with it, see :class:`.Extra`)."""
        for attribute, _ in tree.values():
            if attribute.computed and not self.computed.is_column(attribute) and parents:
                key = index[entity_type.primary_key[0]]
                self.computed.fill(connection, entity_type, attribute, [(c, row[key]) for c, row in zip(parents, rows)])
        for name, (attribute, subtree) in tree.items():
            if attribute.kind is Kind.SCALAR or not parents:
                continue
            target = self.compiler.target(attribute)
            if attribute.kind is Kind.MAPPED:
                subtree = {**{n: (target.attributes[n], {}) for n in (attribute.key, attribute.value)}, **subtree}
            table = self.storage.table(target)
            children: dict[int, tuple[dict[str, Any], Row]] = {}
            # Through a polymorphic type, a subtype's meaning of the name (TypedContext.status beside
            # Project.status): the rows of other subtypes do not get it.
            owners, owned = parents, rows
            if name not in entity_type.attributes:
                means: dict[str, bool] = {}  # per concrete type: whether its `name` is this attribute
                for concrete in {c["__entity_type__"] for c in parents}:
                    means[concrete] = self.schema[concrete].attributes.get(name) == attribute
                kept = [means[c["__entity_type__"]] for c in parents]
                owners, owned = list(itertools.compress(parents, kept)), list(itertools.compress(rows, kept))
            if attribute.kind is Kind.REFERENCE:
                # Many rows, few targets (a listing's statuses): the targets fetched at once, the work done
                # once per distinct key; each row meeting a key again only gets its value.
                via = index[attribute.via[0]]
                met = [row[via] for row in owned]
                wanted = set(met)
                wanted.discard(None)
                if not wanted:  # every one is null (a project's parent): nothing to fetch, nor to go on from
                    for canonical in owners:
                        canonical[name] = None
                    continue
                at = (*path, name)
                # What a row meeting a key again gets: a listing's earlier pages sent some (written as
                # their places, neither fetched nor encoded again); an unknown key or none gets None.
                later: dict[Any, Any] = {None: None}
                known = included.known(at) if included is not None else None
                if known:
                    later.update((key, known[key]) for key in wanted if key in known)
                    wanted.difference_update(later)
                found: dict[Any, Row] = {}
                found_index: Index = {}
                if wanted:
                    found_index, hits = self._fetch(connection, target, table, subtree, wanted, extra)
                    key_position = found_index[target.primary_key[0]]  # one column: checked when the projection was read
                    found = {hit[key_position]: hit for hit in hits}
                    encode = self.encoding.encoder(target, subtree, registry, found_index, extra)
                memory = included.memory(at, len(found)) if included is not None else None
                # The rows in order, the work once per distinct key at the row that first meets it (ftrack's
                # form: in full there, a reference after): the fields an owner gets from being a target too
                # then land where writing row by row puts them, so the answer's bytes are the same.
                for canonical, key in zip(owners, met):
                    if key in later:
                        canonical[name] = later[key]
                        continue
                    hit = found.get(key)
                    if hit is None:
                        canonical[name] = later[key] = None
                        continue
                    child, written = encode(hit)
                    children[id(child)] = (child, hit)
                    if included is not None:
                        canonical[name] = later[key] = place = included.place(child)
                        if memory is not None:
                            memory[key] = place
                        continue
                    canonical[name] = written
                    later[key] = {"__entity_type__": child["__entity_type__"], target.primary_key[0]: key}
            else:
                parent_key = index[entity_type.primary_key[0]]
                keys = {row[parent_key] for row in owned}
                grouped: dict[Any, list[Row]] = {}
                columns = self.encoding.columns(target, table, subtree, extra)
                found_index, hits = self._fetch_members(
                    connection, entity_type, attribute, target, table, columns, keys
                )
                encode = self.encoding.encoder(target, subtree, registry, found_index, extra)
                owner = found_index.get("__parent__", 0)  # absent only when nothing was fetched
                for hit in hits:
                    grouped.setdefault(hit[owner], []).append(hit)
                if attribute.kind is Kind.MAPPED and self.custom.holds(target):
                    self._add_unstored_values(
                        connection, target, owners, owned, index, parent_key, found_index, grouped
                    )
                for canonical, row in zip(owners, owned):
                    items = []
                    for hit in grouped.get(row[parent_key], ()):
                        child, written = encode(hit)
                        items.append(written if included is None else included.place(child))
                        children[id(child)] = (child, hit)
                    canonical[name] = items
            found_entities, found_rows = [c for c, _ in children.values()], [h for _, h in children.values()]
            self.load(connection, target, found_entities, found_rows, found_index, subtree, registry, text, included,
                      (*path, name), extra)  # fmt: skip

    def _add_unstored_values(
        self,
        connection: sa.Connection,
        target: EntityType,
        parents: list[dict[str, Any]],
        rows: list[Row],
        index: Index,
        owner_key: int,
        found_index: Index,
        grouped: dict[Any, list[Row]],
    ) -> None:
        """Add to ``grouped`` the custom attributes each owner has but no stored value for."""
        object_type = index.get("object_type_id")
        project = index.get("project_id")
        configuration = found_index["configuration_id"]
        owners = []
        for canonical, row in zip(parents, rows):
            concrete = self.schema[canonical["__entity_type__"]]
            key = row[owner_key]
            project_id = row[project] if project is not None else (key if concrete.name == "Project" else None)
            owners.append((concrete, key, row[object_type] if object_type is not None else None, project_id))
        stored = {key: {hit[configuration] for hit in hits} for key, hits in grouped.items()}
        width = len(found_index)
        for key, values in self.custom.missing(connection, owners, stored).items():
            for value in values:
                row = [None] * width
                for column, item in {**target.classifier, **value, "__parent__": key}.items():
                    if column in found_index:
                        row[found_index[column]] = item
                grouped.setdefault(key, []).append(tuple(row))

    def _fetch(
        self, connection: sa.Connection, target: EntityType, table: sa.FromClause, tree: Tree, wanted: set[Any],
        extra: Extra | None = None,
    ) -> tuple[Index, list[Row]]:
        """The rows of ``target`` whose key is one of ``wanted``, with the columns of the projections ``tree``."""
        if not wanted:
            return {}, []
        ordered = sorted(wanted, key=str)
        key = table.c[target.primary_key[0]]
        if len(ordered) > self.storage.dialect.long_in_list:  # the keys go as one parameter: a statement of their own
            return _rows(
                connection.execute(self._fetching(target, table, tree, self.storage.dialect.in_values(key, ordered), extra))
            )
        shape = ("fetch", target.name, tuple(tree), self.compiler.scope(), extra and extra.key)
        prepared = self.statements.get(shape)
        if prepared is None:
            statement = self._fetching(target, table, tree, key.in_(sa.bindparam("__wanted", expanding=True)), extra)
            prepared = Prepared((), (), 0, {frozenset(): statement})
            self.statements.put(shape, prepared)
        parameters = prepared.parameters((), "", self.compiler.coerce)
        parameters["__wanted"] = ordered
        return _rows(connection.execute(prepared.statements[frozenset()], parameters))

    def _fetching(
        self, target: EntityType, table: sa.FromClause, tree: Tree, keys: sa.ColumnElement[bool], extra: Extra | None = None
    ) -> sa.Select[Any]:
        """The select of ``target``'s rows for the projections ``tree`` where ``keys`` holds (and the user may see them)."""
        where = [keys]
        for condition in (self.compiler.type_filter(target, table), self.compiler.visible(target, table)):
            if condition is not None:
                where.append(condition)
        return sa.select(*self.encoding.columns(target, table, tree, extra)).where(*where)

    def _fetch_members(
        self,
        connection: sa.Connection,
        owner: EntityType,
        attribute: Attribute,
        target: EntityType,
        table: sa.Table,
        columns: list[sa.ColumnElement[Any]],
        keys: set[Any],
    ) -> tuple[Index, list[Row]]:
        ordered = sorted(keys - {None}, key=str)
        if not ordered:
            return {}, []
        dialect = self.storage.dialect
        where = [table.c[column] == value for column, value in attribute.where.items()]
        for condition in (self.compiler.type_filter(target, table), self.compiler.visible(target, table)):
            if condition is not None:
                where.append(condition)
        if attribute.recursive is not None:
            chain = self.compiler.chains(owner, attribute, ordered)
            source = chain.join(table, table.c[target.primary_key[0]] == chain.c.id)
            statement = sa.select(*columns, chain.c.root.label("__parent__")).select_from(source).where(*where)
            # Ancestors read from the top down, as a path does; descendants level by level.
            depth = chain.c.depth.desc() if attribute.direction == "up" else chain.c.depth.asc()
            return _rows(connection.execute(statement.order_by(depth, *(table.c[k] for k in target.primary_key))))
        order = [table.c[k] for k in target.primary_key]
        if attribute.through is not None:
            link = self.storage.table(self.schema[attribute.through.type]).alias()
            parent = link.c[attribute.through.local]
            source = table.join(link, link.c[attribute.through.remote] == table.c[target.primary_key[0]])
            statement = sa.select(*columns, parent.label("__parent__")).select_from(source)
            where.append(dialect.in_values(parent, ordered))
            if "sort" in link.c:  # a workflow's statuses, a schema's types: in the order the link gives
                order.insert(0, link.c.sort)
        else:
            parent = table.c[attribute.via[0]]
            statement = sa.select(*columns, parent.label("__parent__"))
            where.append(dialect.in_values(parent, ordered))
        statement = statement.where(*where).order_by(*order)
        return _rows(connection.execute(statement))
