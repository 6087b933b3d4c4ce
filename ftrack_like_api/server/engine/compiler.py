"""Query AST → SQLAlchemy Core: conditions, type filters, ordering, validation.

Values are always bound. A path through a reference or a collection becomes an
``EXISTS`` subquery correlated on the join keys (no row is ever multiplied, so no
``DISTINCT``); ``has``/``any`` group several conditions on one related entity the
same way. Ordering through references uses a scalar subquery. Names are checked
against the schema before any SQL exists; a mistake is a :class:`QueryError`
naming the type, the attribute and the closest real names.

Compiled under :meth:`Compiler.binding`, a query's slots (see :mod:`.statements`) become
named bind parameters, and each related-keys subquery of the outermost level is left for
the caller to run first, its keys sent as values (``__keys0`` …): given the values, the
database's planner sees how few rows match.

While a batch runs for a user restricted to some projects (:meth:`Compiler.scoped`),
every table a query reaches — the queried type, each related type of a path, a
``has``/``any``, a subquery, an order — is filtered to the rows of those projects
and the rows of no project (:meth:`Compiler.visible`), inside the SQL itself.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from ...exceptions import QueryError
from ...query import ast
from ...schema import Attribute, EntityType, Kind, Schema
from .predicates import Predicates, _binding
from .statements import Binding
from .storage import Storage

__all__ = ["Compiler"]

Leaf = Callable[[EntityType, sa.FromClause, Attribute], sa.ColumnElement[bool]]

#: How many related() calls deep the compiling is: only the outermost level's keys are sent as values.
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("ftrack_like_depth", default=0)


#: The projects whose rows the running batch may see, or None for every project.
_scope: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar("ftrack_like_scope", default=None)
_CURRENT: Any = object()


class Compiler(Predicates):
    """Builds SQL for one schema on one storage (the leaf comparisons in :class:`.Predicates`)."""

    def __init__(self, schema: Schema, storage: Storage) -> None:
        self.schema = schema
        self.storage = storage
        self.dialect = storage.dialect
        self._filters: dict[str, tuple[tuple[tuple[str, Any], ...], ...]] = {}
        self._meanings: dict[tuple[str, str], list[tuple[EntityType, Attribute]]] = {}
        #: The meaning chosen for a name a type's subtypes define, by (type, name, whether a path goes on).
        self._chosen: dict[tuple[str, str, bool], Attribute | None] = {}

    # --- names ----------------------------------------------------------------------------

    def entity_type(self, name: str, text: str | None = None) -> EntityType:
        if name not in self.schema:
            raise QueryError(f"Unknown entity type {name!r}{self.schema.suggest(name, self.schema.types)}", text)
        return self.schema[name]

    def attribute(
        self, entity_type: EntityType, name: str, text: str | None = None, then: bool = False
    ) -> Attribute:
        """``entity_type``'s attribute ``name``; through a polymorphic type, its subtypes' too.

        The subtypes share the table, so the column exists (Resource → User.username).
        Where subtypes give one name different meanings (``Project.status`` is text,
        ``TypedContext.status`` a relation), the meaning a path can go on through when
        ``then`` (more follows), else the one most concrete subtypes share.
        """
        attribute = entity_type.attributes.get(name)
        if attribute is None:
            key = (entity_type.name, name, then)
            if key not in self._chosen:
                meanings = self.meanings(entity_type, name)
                if then and any(a.kind is not Kind.SCALAR for _, a in meanings):
                    meanings = [(t, a) for t, a in meanings if a.kind is not Kind.SCALAR]
                self._chosen[key] = max(meanings, key=lambda meaning: self._holders(meaning[0]))[1] if meanings else None
            attribute = self._chosen[key]
        if attribute is None or (attribute.hidden and name not in entity_type.classifier):
            visible = [a for a, spec in entity_type.attributes.items() if not spec.hidden]
            raise QueryError(f"{entity_type.name} has no attribute {name!r}{self.schema.suggest(name, visible)}", text)
        return attribute

    def meanings(self, entity_type: EntityType, name: str) -> list[tuple[EntityType, Attribute]]:
        """Each different meaning of ``name`` among ``entity_type``'s subtypes: (the most general
        subtype that has it, the attribute). Empty when none has it."""
        key = (entity_type.name, name)
        found = self._meanings.get(key)
        if found is None:
            found = []
            for sub in self.schema.subtypes(entity_type.name):
                attribute = sub.attributes.get(name)
                if attribute is None or attribute.hidden or any(attribute == a for _, a in found):
                    continue
                found.append((sub, attribute))  # subtypes come base first: the most general holder
            self._meanings[key] = found
        return found

    def _holders(self, entity_type: EntityType) -> int:
        return sum(1 for t in self.schema.subtypes(entity_type.name) if not t.abstract)

    def target(self, attribute: Attribute) -> EntityType:
        return self.schema[attribute.target]  # type: ignore[index]

    # --- which rows are of a type -----------------------------------------------------------

    def type_filter(self, entity_type: EntityType, table: sa.FromClause) -> sa.ColumnElement[bool] | None:
        """The condition that selects rows of ``entity_type`` (its subtypes included) in its table."""
        variants = self._filters.get(entity_type.name)
        if variants is None:
            own = entity_type.classifier
            family = self.schema.subtypes(entity_type.name)
            if all(own.items() <= member.classifier.items() for member in family):
                variants = (tuple(own.items()),)
            else:
                variants = tuple(dict.fromkeys(tuple(member.classifier.items()) for member in family))
            self._filters[entity_type.name] = variants
        clauses = [sa.and_(*(table.c[column] == value for column, value in variant)) for variant in variants if variant]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else sa.or_(*clauses)

    # --- which rows the acting user may see -------------------------------------------------

    @contextlib.contextmanager
    def scoped(self, projects: frozenset[str] | None) -> Iterator[None]:
        """While inside this block, what compiles sees only the rows of ``projects`` (None: all)."""
        token = _scope.set(projects)
        try:
            yield
        finally:
            _scope.reset(token)

    def scope(self) -> frozenset[str] | None:
        """The projects whose rows what compiles now may see (None: every project)."""
        return _scope.get()

    def visible(
        self, entity_type: EntityType, table: sa.FromClause, projects: frozenset[str] | None = _CURRENT
    ) -> sa.ColumnElement[bool] | None:
        """The condition that keeps the rows of ``entity_type`` in ``projects`` (default: the scope).

        A type without project rules is studio-wide: None. So is a row whose rule leads to
        no project (a component of no version). Rules are in the schema (``project``).
        """
        if projects is _CURRENT:
            projects = _scope.get()
        if projects is None or not entity_type.project:
            return None
        token = _scope.set(None)  # the filter's own subqueries are not filtered again
        try:
            return sa.and_(*(self._project_rule(entity_type, table, rule, projects) for rule in entity_type.project))
        finally:
            _scope.reset(token)

    def _project_rule(
        self, entity_type: EntityType, table: sa.FromClause, rule: Any, projects: frozenset[str]
    ) -> sa.ColumnElement[bool]:
        allowed = sorted(projects)
        if rule.path:
            first = self.attribute(entity_type, rule.path[0])
            if len(rule.path) == 1:
                column = table.c[first.name]
                return sa.or_(column.is_(None), self.dialect.in_values(column, allowed))
            node = ast.Membership(ast.Path(rule.path), tuple(ast.Literal(p) for p in allowed))
            return sa.or_(table.c[first.via[0]].is_(None), self.condition(entity_type, table, node))
        # A polymorphic key: hidden when it holds the key of a hidden row of that type.
        target = self.schema[rule.within]
        other = self.storage.table(target).alias()
        shown = self.visible(target, other, projects)
        hidden = [sa.not_(shown) if shown is not None else sa.false()]
        type_filter = self.type_filter(target, other)
        if type_filter is not None:
            hidden.append(type_filter)
        column = table.c[rule.key]
        return sa.or_(column.is_(None), column.not_in(sa.select(other.c[target.primary_key[0]]).where(*hidden)))

    # --- conditions -------------------------------------------------------------------------

    def condition(
        self, entity_type: EntityType, table: sa.FromClause, node: ast.Expression, text: str | None = None
    ) -> sa.ColumnElement[bool]:
        """SQL for a ``where`` expression on rows of ``entity_type`` in ``table``."""
        if isinstance(node, ast.And):
            return sa.and_(*(self.condition(entity_type, table, o, text) for o in node.operands))
        if isinstance(node, ast.Or):
            return sa.or_(*(self.condition(entity_type, table, o, text) for o in node.operands))
        if isinstance(node, ast.Not):
            return sa.not_(self.condition(entity_type, table, node.operand, text))
        if isinstance(node, ast.Comparison):
            return self._walk(entity_type, table, node.path, text, lambda t, tb, a: self._compare(t, tb, a, node, text))
        if isinstance(node, ast.Membership):
            return self._walk(entity_type, table, node.path, text, lambda t, tb, a: self._member(t, tb, a, node, text))
        if isinstance(node, ast.Relation):
            return self._walk(entity_type, table, node.path, text, lambda t, tb, a: self._relation(t, tb, a, node, text))
        raise QueryError(f"Not a condition: {node!r}", text)

    def _walk(
        self, entity_type: EntityType, table: sa.FromClause, path: ast.Path, text: str | None, leaf: Leaf,
        depth: int = 0,
    ) -> sa.ColumnElement[bool]:  # fmt: skip
        name = path.segments[depth]
        if name not in entity_type.attributes and len(self.meanings(entity_type, name)) > 1:
            # Each subtype by its own meaning of the name: rows of a subtype whose meaning cannot
            # take the rest of the path match nothing, and only when none can is it an error.
            clauses, refusals = [], []
            more = depth < len(path.segments) - 1  # relations first: their refusal says more then
            binding = _binding.get()
            if binding is not None:
                binding.fragile += 1  # which meanings a value fits decides the SQL: not for other values
            try:
                for holder, _ in sorted(
                    self.meanings(entity_type, name), key=lambda m: more and m[1].kind is Kind.SCALAR
                ):
                    try:
                        inner = self._walk(holder, table, path, text, leaf, depth)
                    except QueryError as refusal:
                        refusals.append(refusal)
                        continue
                    kind = self.type_filter(holder, table)
                    clauses.append(inner if kind is None else sa.and_(kind, inner))
            finally:
                if binding is not None:
                    binding.fragile -= 1
            if not clauses:
                raise refusals[0]
            return clauses[0] if len(clauses) == 1 else sa.or_(*clauses)
        attribute = self.attribute(entity_type, name, text, then=depth < len(path.segments) - 1)
        if depth == len(path.segments) - 1:
            return leaf(entity_type, table, attribute)
        if attribute.kind is Kind.SCALAR:
            raise QueryError(
                f"{entity_type.name}.{attribute.name} is a value, so {path} cannot go on past it", text
            )
        return self.related(
            entity_type, table, attribute,
            lambda target, inner: self._walk(target, inner, path, text, leaf, depth + 1),
        )  # fmt: skip

    def related(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        attribute: Attribute,
        inner: Callable[[EntityType, sa.FromClause], sa.ColumnElement[bool]] | None = None,
    ) -> sa.ColumnElement[bool]:
        """A related entity (through ``attribute``) exists for which ``inner`` holds.

        Single-key relations compile to an uncorrelated ``IN`` subquery — the database
        starts from the related rows and walks the key's index, instead of running a
        subquery per outer row — with ``IS NOT NULL`` guards so that ``not`` means what
        it meant. Composite keys and tree walks use a correlated ``EXISTS``.
        """
        top = _depth.get() == 0
        token = _depth.set(_depth.get() + 1)
        try:
            return self._related(entity_type, table, attribute, inner, top)
        finally:
            _depth.reset(token)

    def _related(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        attribute: Attribute,
        inner: Callable[[EntityType, sa.FromClause], sa.ColumnElement[bool]] | None,
        top: bool,
    ) -> sa.ColumnElement[bool]:
        target = self.target(attribute)
        other = self.storage.table(target).alias()
        conditions = [w for w in [self.type_filter(target, other), self.visible(target, other)] if w is not None]
        conditions += [other.c[column] == value for column, value in attribute.where.items()]
        if inner is not None:
            conditions.append(inner(target, other))
        single = len(entity_type.primary_key) == 1 and len(target.primary_key) == 1
        if attribute.recursive is not None:
            chain = self.chain(entity_type, table, attribute)
            source = chain.join(other, other.c[target.primary_key[0]] == chain.c.id)
            select = sa.select(sa.literal(1)).select_from(source).where(*conditions)
            return sa.exists(select.correlate_except(other, chain))
        if attribute.kind is Kind.REFERENCE and len(attribute.via) == 1 and single:
            local = table.c[attribute.via[0]]
            return sa.and_(local.is_not(None), self._in(local, sa.select(other.c[target.primary_key[0]]).where(*conditions), top))
        if attribute.through is not None and single:
            link = self.storage.table(self.schema[attribute.through.type]).alias()
            owner = link.c[attribute.through.local]
            source = link.join(other, link.c[attribute.through.remote] == other.c[target.primary_key[0]])
            members = sa.select(owner).select_from(source).where(owner.is_not(None), *conditions)
            return self._in(table.c[entity_type.primary_key[0]], members, top)
        if attribute.kind is not Kind.REFERENCE and len(attribute.via) == 1 and single:
            owner = other.c[attribute.via[0]]
            members = sa.select(owner).where(owner.is_not(None), *conditions)
            return self._in(table.c[entity_type.primary_key[0]], members, top)
        where = self.join(entity_type, table, attribute, other)
        if inner is not None:
            where.append(inner(target, other))
        return sa.exists(sa.select(sa.literal(1)).select_from(other).where(*where).correlate_except(other))

    def _in(self, column: sa.ColumnElement[Any], keys: sa.Select[Any], top: bool) -> sa.ColumnElement[bool]:
        """``column IN keys``; at the outermost level of a binding, ``column IN (:__keysN)`` for the caller to fill.

        Given the values, the database's planner sees how few rows match and uses the
        column's index; given a subquery it cannot know, and a paged query may walk the
        whole table in key order looking for rows that are not there. Deeper levels stay
        subqueries: they select among the few rows of the level above.
        """
        binding = _binding.get()
        if binding is None or not top or not binding.resolve:
            return column.in_(keys)
        number = len(binding.resolutions)
        binding.resolutions.append(keys)
        if number in binding.plain:
            return column.in_(keys)
        return column.in_(sa.bindparam(f"__keys{number}", expanding=True))

    @contextlib.contextmanager
    def binding(
        self, values: tuple[str, ...], plain: frozenset[int] = frozenset(), resolve: bool = True
    ) -> Iterator[Binding]:
        """While compiling inside this block, the slots of ``values`` are bind parameters (see :class:`Binding`)."""
        binding = Binding(values, plain, resolve)
        token = _binding.set(binding)
        try:
            yield binding
        finally:
            _binding.reset(token)

    def chain(self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute) -> sa.CTE:
        """The keys above (or below) one row of ``table`` along ``attribute.recursive``: a recursive CTE."""
        parent, key = attribute.recursive, entity_type.primary_key[0]
        assert parent is not None, f"{entity_type.name}.{attribute.name} is not recursive"
        step = self.storage.table(entity_type).alias()
        if attribute.direction == "up":
            chain = sa.select(table.c[parent].label("id")).correlate(table).cte(recursive=True, nesting=True)
            following = sa.select(step.c[parent].label("id")).join(chain, step.c[key] == chain.c.id)
            following = following.where(step.c[parent].is_not(None))
        else:
            start = self.storage.table(entity_type).alias()
            anchor = sa.select(start.c[key].label("id")).where(start.c[parent] == table.c[key]).correlate(table)
            chain = anchor.cte(recursive=True, nesting=True)
            following = sa.select(step.c[key].label("id")).join(chain, step.c[parent] == chain.c.id)
        return chain.union_all(following)

    def chains(self, entity_type: EntityType, attribute: Attribute, keys: list[Any]) -> sa.CTE:
        """``chain`` for many rows at once: (root, id, depth) for every key above or below each of ``keys``."""
        parent, key = attribute.recursive, entity_type.primary_key[0]
        assert parent is not None, f"{entity_type.name}.{attribute.name} is not recursive"
        start, step = self.storage.table(entity_type).alias(), self.storage.table(entity_type).alias()
        if attribute.direction == "up":
            anchor = sa.select(start.c[key].label("root"), start.c[parent].label("id"), sa.literal(1).label("depth"))
            anchor = anchor.where(self.dialect.in_values(start.c[key], keys), start.c[parent].is_not(None))
            chain = anchor.cte(recursive=True)
            following = sa.select(chain.c.root, step.c[parent], chain.c.depth + 1).join(chain, step.c[key] == chain.c.id)
            following = following.where(step.c[parent].is_not(None))
        else:
            anchor = sa.select(start.c[parent].label("root"), start.c[key].label("id"), sa.literal(1).label("depth"))
            chain = anchor.where(self.dialect.in_values(start.c[parent], keys)).cte(recursive=True)
            following = sa.select(chain.c.root, step.c[key], chain.c.depth + 1).join(chain, step.c[parent] == chain.c.id)
        return chain.union_all(following)

    def join(
        self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute, other: sa.FromClause
    ) -> list[sa.ColumnElement[bool]]:
        """Conditions tying rows of ``other`` (the attribute's target) to a row of ``table``."""
        target = self.target(attribute)
        where: list[sa.ColumnElement[bool]] = []
        if attribute.kind is Kind.REFERENCE:
            where += [other.c[key] == table.c[local] for key, local in zip(target.primary_key, attribute.via)]
        elif attribute.through is not None:
            link_type = self.schema[attribute.through.type]
            link = self.storage.table(link_type).alias()
            # Explicit correlation: `table` belongs to a select two levels up, and
            # SQLAlchemy correlates only with the select right around by itself.
            where.append(
                sa.exists(
                    sa.select(sa.literal(1))
                    .select_from(link)
                    .where(
                        link.c[attribute.through.local] == table.c[entity_type.primary_key[0]],
                        link.c[attribute.through.remote] == other.c[target.primary_key[0]],
                    )
                    .correlate_except(link)
                )
            )
        else:
            where += [other.c[remote] == table.c[key] for remote, key in zip(attribute.via, entity_type.primary_key)]
        where += [other.c[column] == value for column, value in attribute.where.items()]
        where += [w for w in [self.type_filter(target, other), self.visible(target, other)] if w is not None]
        return where

    def _relation(
        self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute, node: ast.Relation, text: str | None
    ) -> sa.ColumnElement[bool]:
        word = node.quantifier.value
        if attribute.kind is Kind.SCALAR:
            raise QueryError(f"{entity_type.name}.{attribute.name} is a value; '{word}' goes with a relation", text)
        if word == "has" and attribute.kind is not Kind.REFERENCE:
            raise QueryError(f"{entity_type.name}.{attribute.name} is a collection: use 'any', not 'has'", text)
        if word == "any" and attribute.kind is Kind.REFERENCE:
            raise QueryError(f"{entity_type.name}.{attribute.name} is a reference: use 'has', not 'any'", text)
        if node.condition is None:
            return self.related(entity_type, table, attribute)
        condition = node.condition
        return self.related(entity_type, table, attribute, lambda t, tb: self.condition(t, tb, condition, text))

    def column(
        self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute, text: str | None
    ) -> tuple[sa.ColumnElement[Any], Attribute]:
        if attribute.kind is Kind.SCALAR and not attribute.computed:
            return table.c[attribute.name], attribute
        if attribute.kind is Kind.REFERENCE and len(attribute.via) == 1:
            local = entity_type.attributes[attribute.via[0]]
            return table.c[local.name], local
        kind = "computed" if attribute.computed else attribute.kind.value
        hint = f": use {attribute.name} any (…)" if attribute.kind in (Kind.COLLECTION, Kind.MAPPED) else ""
        raise QueryError(f"{entity_type.name}.{attribute.name} is a {kind} attribute and cannot be compared{hint}", text)

    def subquery(self, node: ast.Subquery, text: str | None) -> sa.Select[Any]:
        entity_type = self.entity_type(node.entity_type, text)
        table = self.storage.table(entity_type).alias()
        if len(node.projection.segments) != 1:
            raise QueryError(f"A subquery selects one attribute of {entity_type.name}, not {node.projection}", text)
        attribute = self.attribute(entity_type, node.projection.segments[0], text)
        column, _ = self.column(entity_type, table, attribute, text)
        where = [self.type_filter(entity_type, table), self.visible(entity_type, table)]
        if node.where is not None:
            where.append(self.condition(entity_type, table, node.where, text))
        return sa.select(column).where(*[w for w in where if w is not None])

    # --- ordering ---------------------------------------------------------------------------

    def order_column(
        self, entity_type: EntityType, table: sa.FromClause, path: ast.Path, text: str | None
    ) -> sa.ColumnElement[Any]:
        """What to sort by for a path: a column, or a scalar subquery through references."""
        attribute = self.attribute(entity_type, path.segments[0], text)
        if len(path.segments) == 1:
            return self.column(entity_type, table, attribute, text)[0]
        if attribute.kind is not Kind.REFERENCE:
            raise QueryError(f"Cannot order by {path}: {entity_type.name}.{attribute.name} is not a reference", text)
        target = self.target(attribute)
        other = self.storage.table(target).alias()
        inner = self.order_column(target, other, ast.Path(path.segments[1:]), text)
        return sa.select(inner).where(*self.join(entity_type, table, attribute, other)).limit(1).scalar_subquery()
