"""``create``, ``update`` and ``delete`` of one entity, inside a batch's transaction.

Each operation is checked before it reaches SQL — the type exists and is not
abstract, every attribute exists, values have the right type, immutable attributes
stay as they are, required values are there (or given by an update later in the batch) — and fails with a
:class:`ValidationError` saying which and why. What ftrack fills by itself is filled
here too: defaults (``{uid}`` is a new uuid), the classifier of a polymorphic type,
``created_at``/``created_by``, a TypedContext's project, status, type and sort, an
AssetVersion's version number and status. The lookups behind those are cached for
the batch (``BatchContext`` in ``batch.py``), so 10,000 creates under one project cost a few
queries, not tens of thousands.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ...exceptions import ValidationError
from ...schema import Attribute, EntityType, Kind
from ...wire import decode_value
from .answers import Answers
from .compiler import Compiler
from .custom_attribute_rules import CustomAttributeRules
from .expected import check_expected
from .fills import Fills
from .batch import BatchContext, row_key
from ..auth.permissions import PermissionDenied
from .values import coerce_value, describe, to_wire

__all__ = ["Writer"]

#: A default of ``{uid}``: each row gets a new uuid.
_NEW_UID = object()


@dataclasses.dataclass(frozen=True)
class _CreatePlan:
    """What a create of one type does beyond the given values, worked out once per type."""

    #: Defaults as stored, by attribute name; ``_NEW_UID`` where each row gets a new uuid.
    defaults: tuple[tuple[str, Any], ...]
    #: Attributes the server fills, and whether what the rule gives still needs coercing.
    fills: tuple[tuple[Attribute, bool], ...]
    required: tuple[str, ...]
    #: The visible scalars an answer carries, with their types.
    answered: tuple[tuple[str, str | None], ...]
    table: sa.Table
    rows_per_insert: int


class Writer:
    """Writes entities of one schema to one storage."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.schema = compiler.schema
        self.storage = compiler.storage
        self.fills = Fills(compiler)
        self.answers = Answers(compiler)
        self.custom_attributes = CustomAttributeRules(compiler)
        self._plans: dict[str, _CreatePlan] = {}
        self._kinds: dict[tuple[str, str], bool] = {}
        #: A stored row's select per (type, locked), for who sees and changes every project: built once, keys bound.
        self._reads: dict[tuple[str, bool], sa.Select[Any]] = {}

    # --- create -----------------------------------------------------------------------------

    def create(self, batch: BatchContext, type_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        entity_type = self._type(type_name)
        if entity_type.abstract:
            concrete = [t.name for t in self.schema.subtypes(type_name) if not t.abstract]
            raise ValidationError(f"{type_name} is abstract: create one of {', '.join(concrete)}", "abstract_type")
        plan = self._plan(entity_type)
        later = batch.later.get((type_name, data.get("id"))) if batch.later else None
        if later:
            # Required values a later update of this batch gives count as given (required at the batch's end).
            data = {**data, **{n: later[n] for n in plan.required if data.get(n) is None and later.get(n) is not None}}
        row, after = self._values(batch, entity_type, data, creating=True)
        for name, default in plan.defaults:
            if name not in row:
                row[name] = str(uuid.uuid4()) if default is _NEW_UID else default
        row.update(entity_type.classifier)
        for attribute, coerce in plan.fills:
            if row.get(attribute.name) is None:
                value = self.fills.value(batch, entity_type, attribute, row)
                if value is not None:
                    row[attribute.name] = coerce_value(attribute.type or "string", value) if coerce else value
        missing = [name for name in plan.required if row.get(name) is None]
        if missing:
            raise ValidationError(f"{type_name} needs a value for {', '.join(missing)}", "missing_required")
        self.custom_attributes.check(batch, entity_type, row)
        table = plan.table
        values = {k: v for k, v in row.items() if v is not None}
        primary_key = entity_type.primary_key
        database_made = any(row.get(k) is None for k in primary_key)
        if database_made:
            # The database makes the key: insert now, and read it back.
            key_columns = [table.c[k] for k in primary_key]
            generated = batch.connection.execute(table.insert().values(values).returning(*key_columns)).one()
            row.update(zip(primary_key, generated))
        key = row_key(row[k] for k in primary_key)
        if not database_made:
            batch.insert(table, values, plan.rows_per_insert, key)
        if entity_type.project:
            batch.wrote(entity_type.name, "create", {k: row[k] for k in primary_key})
        if table.name == "context":
            batch.contexts[row["id"]] = (batch.index, "create", entity_type.name, [row["id"]])
        batch.created[key] = row
        batch.changed.append(("add", entity_type, tuple(row[k] for k in primary_key), None, row))
        for apply in after:
            apply(row)
        written: dict[str, Any] = {"__entity_type__": entity_type.name}
        for name in primary_key:
            written[name] = row.get(name)
        for name, kind in plan.answered:
            if name in row:  # what was not set is left out: ftrack's client reads it as NOT_SET, not None
                written[name] = to_wire(kind, row[name])
        return written

    def _plan(self, entity_type: EntityType) -> _CreatePlan:
        plan = self._plans.get(entity_type.name)
        if plan is None:
            scalars = entity_type.scalars
            table = self.storage.table(entity_type)
            plan = self._plans[entity_type.name] = _CreatePlan(
                defaults=tuple(
                    (a.name, _NEW_UID if a.default == "{uid}" else coerce_value(a.type or "string", a.default))
                    for a in scalars if a.has_default
                ),  # fmt: skip
                # "now" and "user" give stored values already (naive UTC, a user's id).
                fills=tuple((a, a.fill not in ("now", "user")) for a in scalars if a.fill),
                required=tuple(a.name for a in scalars if a.required and a.fill != "sequence"),
                answered=tuple((a.name, a.type) for a in scalars if not a.hidden),
                table=table,
                rows_per_insert=self.storage.dialect.rows_per_insert(len(table.c)),
            )
        return plan

    # --- update -----------------------------------------------------------------------------

    def update(
        self,
        batch: BatchContext,
        type_name: str,
        key: Any,
        data: Mapping[str, Any],
        expected: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change one entity; with ``expected`` (attribute → wire value), only if those values still hold.

        An ``expected`` value that differs from the stored one is a ``conflict``: the row is
        read locked (PostgreSQL: ``FOR UPDATE``; SQLite: the batch holds the write lock), so
        no other batch can change it between the check and the write.
        """
        entity_type = self._type(type_name)
        keys = self.key(entity_type, key)
        if expected is not None and not isinstance(expected, Mapping):
            raise ValidationError(f"expected must be an object, not {type(expected).__name__}", "bad_request")
        try:
            current = self._existing(batch, entity_type, keys, lock=bool(expected))
        except ValidationError as error:
            if error.code != "not_found" or not self._is_custom_attribute_value(entity_type):
                raise
            # A custom attribute without a stored value is shown with its default; setting it stores it.
            return self.create(batch, type_name, {**data, **keys})
        concrete = self.schema.concrete(entity_type.name, current)
        if expected:
            check_expected(self, concrete, current, expected)
        changes, after = self._values(batch, concrete, data, creating=False)
        self.custom_attributes.check(batch, concrete, changes, current)
        table = self.storage.table(entity_type)
        if changes.get("parent_id") is not None and "project_id" in current and current.get("context_type") != "show":
            # Its project (and its children's) is filled on create: a move stays inside the project.
            if self.fills.project_of(batch, changes["parent_id"]) != current["project_id"]:
                raise ValidationError(f"A {concrete.name} moves within its project, not to another one", "cross_project")
        if changes:
            where = [table.c[k] == v for k, v in keys.items()]
            batch.connection.execute(table.update().where(*where).values(changes))
            batch.updated(row_key(keys.values()), changes)
            batch.changed.append(("update", concrete, tuple(keys.values()), current, changes))
            if entity_type.project:  # it may have moved to another project
                batch.wrote(entity_type.name, "update", keys)
            if table.name == "context" and ("name" in changes or "parent_id" in changes):
                batch.contexts[keys["id"]] = (batch.index, "update", entity_type.name, list(keys.values()))
            if "status_id" in changes and changes["status_id"] != current.get("status_id"):
                self._status_changed(batch, concrete, current, changes["status_id"])
        row = {**current, **changes}
        for apply in after:
            apply(row)
        names = list(dict.fromkeys([*self.answers.system(concrete), *changes]))
        written = self.answers.written(concrete, row, names)
        if isinstance(data, Mapping) and len(concrete.primary_key) == 1:
            # The references, collections and key-value items the update names, as they stand now: a client
            # that clears its local values after a commit (ftrack's does) keeps them from the answer.
            for name in data:
                attribute = concrete.attributes.get(name) if isinstance(name, str) else None
                if attribute is not None and attribute.kind is Kind.REFERENCE:
                    written[name] = self.answers.reference(batch, attribute, row)
                elif attribute is not None and attribute.kind in (Kind.COLLECTION, Kind.MAPPED) and attribute.recursive is None:
                    written[name] = self.answers.members(batch, concrete, attribute, row[concrete.primary_key[0]])
        return written

    def _status_changed(self, batch: BatchContext, entity_type: EntityType, current: Mapping[str, Any], status: Any) -> None:
        """Record a TypedContext's or an AssetVersion's new status as ftrack does: a StatusChange."""
        ancestry = {t.name for t in self.schema.ancestry(entity_type.name)}
        kind = next((f"{base}StatusChange" for base in ("TypedContext", "AssetVersion") if base in ancestry), None)
        if kind is not None and kind in self.schema:
            data = {"parent_id": current["id"], "parent_type": entity_type.name, "status_id": status,
                    "from_status_id": current.get("status_id")}  # fmt: skip
            self.create(batch, kind, data)

    def _attribute(self, entity_type: EntityType, name: Any) -> Attribute:
        """The visible attribute ``name`` of ``entity_type``, or an error naming the close ones."""
        attribute = entity_type.attributes.get(name) if isinstance(name, str) else None
        if attribute is None or attribute.hidden:
            visible = [a for a, spec in entity_type.attributes.items() if not spec.hidden]
            raise ValidationError(
                f"{entity_type.name} has no attribute {name!r}{self.schema.suggest(str(name), visible)}", "unknown_attribute"
            )
        return attribute

    def _is_custom_attribute_value(self, entity_type: EntityType) -> bool:
        return any(t.name == "CustomAttributeValue" for t in self.schema.ancestry(entity_type.name))

    # --- delete -----------------------------------------------------------------------------

    def delete(self, batch: BatchContext, type_name: str, key: Any) -> bool:
        entity_type = self._type(type_name)
        keys = self.key(entity_type, key)
        current = self._existing(batch, entity_type, keys)
        batch.changed.append(("remove", self.schema.concrete(entity_type.name, current), tuple(keys.values()), current, None))
        table = self.storage.table(entity_type)
        batch.connection.execute(table.delete().where(*[table.c[k] == v for k, v in keys.items()]))
        batch.created.pop(row_key(keys.values()), None)
        if len(keys) == 1:
            owned = next(iter(keys.values()))
            for attribute in entity_type.attributes.values():
                if attribute.kind is Kind.MAPPED and attribute.via:
                    target = self.compiler.target(attribute)
                    items = self.storage.table(target)
                    batch.connection.execute(items.delete().where(items.c[attribute.via[0]] == owned))
        return True

    # --- reset ------------------------------------------------------------------------------

    def reset(self, batch: BatchContext, type_name: str, key: Any, attribute_name: Any) -> Any:
        """Put one attribute back to its schema default; the new value, as the wire writes it."""
        entity_type = self._type(type_name)
        attribute = entity_type.attributes.get(attribute_name) if isinstance(attribute_name, str) else None
        if attribute is None or attribute.kind is not Kind.SCALAR or attribute.hidden:
            raise ValidationError(f"{type_name} has no attribute {attribute_name!r} to reset", "unknown_attribute")
        if not attribute.has_default or attribute.immutable:
            raise ValidationError(f"{type_name}.{attribute.name} has no default to go back to", "no_default")
        keys = self.key(entity_type, key)
        current = self._existing(batch, entity_type, keys)
        default = str(uuid.uuid4()) if attribute.default == "{uid}" else attribute.default
        value = coerce_value(attribute.type or "string", default)
        concrete = self.schema.concrete(entity_type.name, current)
        batch.changed.append(("update", concrete, tuple(keys.values()), current, {attribute.name: value}))
        table = self.storage.table(entity_type)
        batch.connection.execute(table.update().where(*[table.c[k] == v for k, v in keys.items()]).values({attribute.name: value}))
        return to_wire(attribute.type, value)

    # --- pieces -----------------------------------------------------------------------------

    def _type(self, name: str) -> EntityType:
        if not isinstance(name, str) or name not in self.schema:
            raise ValidationError(f"Unknown entity type {name!r}{self.schema.suggest(str(name), self.schema.types)}", "unknown_type")
        return self.schema[name]

    def key(self, entity_type: EntityType, key: Any) -> dict[str, Any]:
        """The primary key values of an ``entity_key`` (a list, or one value for a single key)."""
        values = list(key) if isinstance(key, (list, tuple)) else [key]
        if len(values) != len(entity_type.primary_key) or any(v is None for v in values):
            raise ValidationError(
                f"{entity_type.name} is keyed by {', '.join(entity_type.primary_key)}: "
                f"{len(entity_type.primary_key)} value(s), not {key!r}",
                "bad_key",
            )
        keys = {}
        for name, value in zip(entity_type.primary_key, values):
            attribute = entity_type.attributes[name]
            keys[name] = self._coerce(entity_type, attribute, value)
        return keys

    def _existing(
        self, batch: BatchContext, entity_type: EntityType, keys: dict[str, Any], lock: bool = False
    ) -> dict[str, Any]:
        """The stored row; ``lock`` holds it against other writers until the batch ends (PostgreSQL)."""
        writable = batch.principal.writable
        everywhere = writable is None and self.compiler.scope() is None  # no project of theirs in the statement
        select = self._reads.get((entity_type.name, lock)) if everywhere else None
        if select is None:
            select = self._existing_select(entity_type, list(keys), lock, writable)
            if everywhere:
                self._reads[(entity_type.name, lock)] = select
        found = batch.connection.execute(select, {f"__key_{k}": v for k, v in keys.items()}).mappings().first()
        shown = ", ".join(f"{k} {v}" for k, v in keys.items())
        if found is None:
            raise ValidationError(f"No {entity_type.name} with {shown}", "not_found")
        row = dict(found)
        if not row.pop("__writable__", True):
            raise PermissionDenied(
                f"{batch.principal.username} may see the {entity_type.name} with {shown} but not change it", "permission"
            )
        return row

    def _existing_select(
        self, entity_type: EntityType, keys: list[str], lock: bool, writable: frozenset[str] | None
    ) -> sa.Select[Any]:
        """The select of one stored row of ``entity_type`` by its ``keys`` (bound as ``__key_<name>``)."""
        table = self.storage.table(entity_type)
        columns: list[sa.ColumnElement[Any]] = [table.c[a.name] for a in entity_type.scalars if a.name in table.c]
        for member in self.schema.subtypes(entity_type.name):
            columns += [table.c[c] for c in member.classifier if table.c[c] not in columns]
        if lock:  # checked against expected values, which may name the concrete type's columns
            columns = list(table.c)
        where = [table.c[k] == sa.bindparam(f"__key_{k}") for k in keys]
        # A row the user may not see is not found, whatever the reason; one they see but may not change is refused.
        for condition in (self.compiler.type_filter(entity_type, table), self.compiler.visible(entity_type, table)):
            if condition is not None:
                where.append(condition)
        inside = self.compiler.visible(entity_type, table, writable) if writable is not None else None
        if inside is not None:
            columns.append(sa.case((inside, True), else_=False).label("__writable__"))
        select = sa.select(*columns).where(*where)
        if lock:
            select = select.with_for_update()  # SQLite has no FOR UPDATE: its batch holds the write lock
        return select

    def _values(
        self, batch: BatchContext, entity_type: EntityType, data: Mapping[str, Any], creating: bool
    ) -> tuple[dict[str, Any], list[Any]]:
        """Column values from ``data``, and what to do once the row exists (collections)."""
        if not isinstance(data, Mapping):
            raise ValidationError(f"entity_data must be an object, not {type(data).__name__}", "bad_request")
        row: dict[str, Any] = {}
        after: list[Any] = []
        for name, value in data.items():
            if name == "__entity_type__":
                continue
            attribute = entity_type.attributes.get(name)
            if attribute is None or attribute.hidden:
                visible = [a for a, spec in entity_type.attributes.items() if not spec.hidden]
                raise ValidationError(
                    f"{entity_type.name} has no attribute {name!r}{self.schema.suggest(name, visible)}", "unknown_attribute"
                )
            if attribute.computed:
                raise ValidationError(f"{entity_type.name}.{name} is computed and cannot be set", "computed")
            if not creating and attribute.immutable and name not in entity_type.primary_key:
                raise ValidationError(f"{entity_type.name}.{name} is immutable", "immutable")
            if not creating and name in entity_type.primary_key:
                raise ValidationError(f"{entity_type.name}.{name} is the primary key and cannot change", "immutable")
            if attribute.kind is Kind.SCALAR:
                row[name] = self._coerce(entity_type, attribute, value)
            elif attribute.kind is Kind.REFERENCE:
                row.update(self._reference(entity_type, attribute, value))
            elif attribute.kind is Kind.COLLECTION and attribute.recursive is not None:
                raise ValidationError(
                    f"{entity_type.name}.{name} follows the hierarchy: set {attribute.recursive} instead", "derived"
                )
            elif attribute.kind is Kind.COLLECTION:
                after.append(self._collection(batch, entity_type, attribute, value))
            elif isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
                # Mapped items (metadata, custom attribute values) are entities of their own,
                # created, changed and deleted by their own operations; a client that sends
                # the owner's list of them (ftrack's does) only mirrors those. Nothing to do.
                continue
            elif value not in (None, {}):
                raise ValidationError(
                    f"{entity_type.name}.{name} is set through its {attribute.target} entities", "unsupported"
                )
        return row, after

    def _coerce(self, entity_type: EntityType, attribute: Attribute, value: Any) -> Any:
        try:
            return coerce_value(attribute.type or "string", decode_value(value))
        except (TypeError, ValueError) as error:
            raise ValidationError(
                f"{entity_type.name}.{attribute.name} takes {describe(attribute.type)}: {error}", "wrong_type"
            ) from None

    def _reference(self, entity_type: EntityType, attribute: Attribute, value: Any) -> dict[str, Any]:
        target = self.compiler.target(attribute)
        if value is None:
            return dict.fromkeys(attribute.via)
        if isinstance(value, Mapping):
            named = value.get("__entity_type__", target.name)
            if not self._is_a(named, target.name):
                raise ValidationError(
                    f"{entity_type.name}.{attribute.name} refers to a {target.name}, not a {named}", "wrong_type"
                )
            try:
                values = [value[k] for k in target.primary_key]
            except KeyError as missing:
                raise ValidationError(
                    f"{entity_type.name}.{attribute.name}: the reference has no {missing.args[0]}", "wrong_type"
                ) from None
        else:
            values = [value]
        if len(values) != len(attribute.via):
            raise ValidationError(f"{entity_type.name}.{attribute.name}: the reference has the wrong key", "wrong_type")
        return {
            local: self._coerce(entity_type, entity_type.attributes[local], v) for local, v in zip(attribute.via, values)
        }

    def _is_a(self, named: Any, target: str) -> bool:
        """Whether ``named`` is the type ``target`` or extends it (answers kept per pair)."""
        if not isinstance(named, str):
            return False
        key = (named, target)
        answer = self._kinds.get(key)
        if answer is None:
            answer = self._kinds[key] = named in self.schema and target in {t.name for t in self.schema.ancestry(named)}
        return answer

    def _collection(self, batch: BatchContext, entity_type: EntityType, attribute: Attribute, value: Any) -> Any:
        """Make the collection hold exactly the listed entities, once the owner row exists."""
        if value is None:
            value = []
        if not isinstance(value, list):
            raise ValidationError(f"{entity_type.name}.{attribute.name} takes a list of entities", "wrong_type")
        target = self.compiler.target(attribute)
        keys = [self._item_key(entity_type, attribute, item) for item in value]

        def apply(row: dict[str, Any]) -> None:
            owner = row[entity_type.primary_key[0]]
            connection = batch.connection
            if attribute.through is not None:
                link_type = self.schema[attribute.through.type]
                link = self.storage.table(link_type)
                local, remote = link.c[attribute.through.local], link.c[attribute.through.remote]
                connection.execute(link.delete().where(local == owner, remote.not_in(keys) if keys else sa.true()))
                present = set(connection.execute(sa.select(remote).where(local == owner)).scalars())
                for item in keys:
                    if item not in present:
                        self.create(batch, link_type.name, {attribute.through.local: owner, attribute.through.remote: item})
                return
            table = self.storage.table(target)
            via = table.c[attribute.via[0]]
            pk = table.c[target.primary_key[0]]
            if keys:
                connection.execute(table.update().where(pk.in_(keys)).values({via.name: owner}))
            remaining = connection.execute(sa.select(pk).where(via == owner, pk.not_in(keys) if keys else sa.true()))
            stale = list(remaining.scalars())
            if stale:
                connection.execute(table.update().where(pk.in_(stale)).values({via.name: None}))

        return apply

    def _item_key(self, entity_type: EntityType, attribute: Attribute, item: Any) -> Any:
        target = self.compiler.target(attribute)
        key = target.primary_key[0]
        value = item.get(key) if isinstance(item, Mapping) else item
        if value is None:
            raise ValidationError(f"{entity_type.name}.{attribute.name}: an item has no {key}", "wrong_type")
        return self._coerce(target, target.attributes[key], value)
