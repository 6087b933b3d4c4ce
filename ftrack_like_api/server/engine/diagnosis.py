"""Which constraint an operation broke, once the database refused a batch: what the backend tells the client.

The database names a constraint (or not even that); the client wants to hear which
operation and why. :func:`diagnose` replays the batch up to the failing operation and asks
:func:`broken_constraint` about it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import sqlalchemy as sa

from ...exceptions import ValidationError
from ...wire import decode_value
from .batch import BatchContext
from .refusals import DuplicateEntry, refused
from .values import coerce_value

if TYPE_CHECKING:
    from ...schema import Schema
    from .backend import Backend
    from .storage import Storage
    from .writer import Writer

__all__ = ["broken_constraint", "diagnose"]


def broken_constraint(
    batch: BatchContext, operation: Mapping[str, Any], schema: Schema, storage: Storage, writer: Writer
) -> tuple[str, str] | None:
    """The constraint one operation broke: (error code, explanation), or None when none is found.

    A duplicate is a :class:`DuplicateEntry` (``DuplicateEntryError``) whose content says
    ``IntegrityError``: the official client's ``start_timer`` tells a running timer by
    the one (3.x) or the other (older versions).
    """
    entity_type = schema[operation["entity_type"]]
    data = operation.get("entity_data") or {}
    table = storage.table(entity_type)
    connection = batch.connection
    action = operation.get("action")
    if action == "delete":
        return "still_referenced", "other entities still refer to it; delete or change them first"
    if action == "create":
        key = {k: data.get(k) for k in entity_type.primary_key}
        if all(v is not None for v in key.values()):
            where = [table.c[k] == writer.key(entity_type, list(key.values()))[k] for k in key]
            if connection.execute(sa.select(sa.literal(1)).select_from(table).where(*where)).first():
                shown = ", ".join(f"{k} {v}" for k, v in key.items())
                return "duplicate_key", f"IntegrityError: a {entity_type.name} with {shown} exists already"
    given = operation.get("entity_key")
    keys = given if isinstance(given, (list, tuple)) else [given]
    values = {**dict(zip(entity_type.primary_key, keys)), **data}
    for reference in entity_type.attributes.values():
        if reference.name in data and reference.kind.value == "reference" and isinstance(data[reference.name], Mapping):
            target = schema[reference.target]  # type: ignore[index]
            values[reference.via[0]] = data[reference.name].get(target.primary_key[0])
    for name, value in values.items():
        attribute = entity_type.attributes.get(name)
        if attribute is None or value is None or attribute.kind.value != "scalar":
            continue
        try:  # as the column holds it: on PostgreSQL text is never compared with a number
            value = coerce_value(attribute.type or "string", decode_value(value))
        except (TypeError, ValueError):
            continue
        if attribute.references:
            target = schema[attribute.references]
            other = storage.table(target)
            hit = connection.execute(
                sa.select(sa.literal(1)).select_from(other).where(other.c[target.primary_key[0]] == value)
            ).first()
            if hit is None:
                return "missing_reference", f"{entity_type.name}.{name} is {value}, but there is no {target.name} with that id"
        if attribute.unique:
            hit = connection.execute(sa.select(sa.literal(1)).select_from(table).where(table.c[name] == value)).first()
            if hit is not None:
                return "duplicate_value", f"IntegrityError: a {entity_type.name} with {name} {value!r} exists already"
    return None


def diagnose(
    backend: Backend, operations: Sequence[Mapping[str, Any]], user: tuple[str, str | None], index: int | None,
    error: sa.exc.IntegrityError,
) -> ValidationError:
    """Why operation ``index`` broke a constraint: replay what came before it, then look."""
    if index is None:
        return refused(error, "The database refused the batch")
    operation = operations[index]
    place = (index, operation.get("action"), operation.get("entity_type"), operation.get("entity_key"))
    with backend.engine.connect().execution_options(ftrack_writes=True) as connection:
        transaction = connection.begin()
        try:
            principal = backend.permissions.principal(connection, *user)
            batch = BatchContext(connection, principal)
            with backend.compiler.scoped(principal.readable):
                for earlier in range(index):
                    backend._operation(batch, earlier, operations[earlier])
                problem = broken_constraint(batch, operation, backend.schema, backend.storage, backend.writer)
        finally:
            transaction.rollback()
    if problem is None:
        return refused(error, "the database refused it").at(*place)
    code, reason = problem
    refusal = DuplicateEntry if code in ("duplicate_key", "duplicate_value") else ValidationError
    return refusal(reason, code).at(*place)
