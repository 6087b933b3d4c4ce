"""The rules a project's tree keeps, checked once every operation of a batch is carried out.

ftrack's server refuses these, and so do we: a context with an empty name; a
TypedContext (folder, sequence, shot, task …) without a parent, or under a parent whose
object type has no children (a task under a task: ``ObjectType.is_leaf``); a second
project with a name another project has. The checks run when the whole batch is
applied, not per operation, so a create followed by an update that names it, in one
batch, is fine — as ftrack allows. A refusal names the last operation that touched the
row, and the batch stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ...exceptions import ValidationError
from .batch import BatchContext
from .storage import Storage

__all__ = ["Integrity"]


class Integrity:
    """Checks the contexts a batch created or changed (``BatchContext.contexts``)."""

    def __init__(self, storage: Storage) -> None:
        tables = storage.tables
        self.contexts, self.object_types = tables["context"], tables["object_type"]
        self.dialect = storage.dialect

    def check(self, batch: BatchContext) -> None:
        touched = batch.contexts
        if not touched:
            return
        context, connection = self.contexts, batch.connection
        # What the batch made it knows already (its rows follow its updates); the rest is read.
        rows: dict[Any, Mapping[str, Any]] = {}
        stored = []
        for key in touched:
            made = batch.created.get(key)
            if made is not None and "context_type" in made:
                rows[key] = made
            else:
                stored.append(key)
        columns = (context.c.id, context.c.name, context.c.context_type, context.c.parent_id, context.c.object_type_id)
        if stored:
            for read in connection.execute(sa.select(*columns).where(self.dialect.in_values(context.c.id, stored))).mappings():
                rows[read["id"]] = dict(read)
        parents: dict[Any, Any] = {}  # parent id -> its object type (None for a project)
        outside = []
        for parent in {row.get("parent_id") for row in rows.values()} - {None}:
            made = batch.created.get(parent)
            if made is not None and "context_type" in made:
                parents[parent] = made.get("object_type_id")
            else:
                outside.append(parent)
        if outside:
            found = connection.execute(
                sa.select(context.c.id, context.c.object_type_id).where(self.dialect.in_values(context.c.id, outside))
            )  # fmt: skip
            parents.update((row.id, row.object_type_id) for row in found)
        kinds = {row.id: row for row in connection.execute(sa.select(self.object_types.c.id, self.object_types.c.name,
                                                                         self.object_types.c.is_leaf))}  # fmt: skip
        projects = []
        for key, row in rows.items():
            own = kinds.get(row.get("object_type_id"))
            what = own.name if own is not None else ("Project" if row.get("context_type") == "show" else "context")
            place = touched[key]
            if not (row.get("name") or "").strip():
                raise _refused(f"A {what} needs a name that is not empty", "empty_name", place)
            if row.get("context_type") == "show":
                projects.append(row)
                if row.get("parent_id") is not None:
                    raise _refused("A Project sits at the top: it has no parent", "bad_parent", place)
                continue
            parent = row.get("parent_id")
            if parent is None:
                raise _refused(f"A {what} needs a parent (a project, or a context under one)", "missing_parent", place)
            if parent not in parents:
                continue  # the database's own constraint says which parent is missing
            above = kinds.get(parents[parent])
            if above is not None and above.is_leaf:
                raise _refused(f"A {what} cannot be under a {above.name}: a {above.name} has no children",
                               "bad_parent", place)  # fmt: skip
        if projects:
            names = [row.get("name") for row in projects]
            taken = connection.execute(
                sa.select(context.c.name, sa.func.count()).where(context.c.context_type == "show", context.c.name.in_(names))
                .group_by(context.c.name).having(sa.func.count() > 1)
            ).all()  # fmt: skip
            if taken:
                name = taken[0][0]
                place = next(touched[row["id"]] for row in projects if row.get("name") == name)
                raise _refused(f"Another project is called {name!r} already: a project's name is its own", "duplicate_name", place)


def _refused(reason: str, code: str, place: tuple[int, str, str, object]) -> ValidationError:
    return ValidationError(reason, code).at(*place)
