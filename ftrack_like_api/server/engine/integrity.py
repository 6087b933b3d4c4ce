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
        context, kinds = self.contexts, self.object_types
        parent, parent_kind, own_kind = context.alias("parent"), kinds.alias("parent_kind"), kinds.alias("own_kind")
        rows = batch.connection.execute(
            sa.select(context.c.id, context.c.name, context.c.context_type, context.c.parent_id,
                      own_kind.c.name.label("kind"), parent.c.id.label("found_parent"),
                      parent.c.context_type.label("parent_type"), parent_kind.c.name.label("parent_kind"),
                      parent_kind.c.is_leaf.label("parent_is_leaf"))
            .select_from(context.outerjoin(parent, parent.c.id == context.c.parent_id)
                         .outerjoin(parent_kind, parent_kind.c.id == parent.c.object_type_id)
                         .outerjoin(own_kind, own_kind.c.id == context.c.object_type_id))
            .where(self.dialect.in_values(context.c.id, list(touched)))
        ).all()  # fmt: skip
        projects = []
        for row in rows:
            what = row.kind or ("Project" if row.context_type == "show" else "context")
            place = touched[row.id]
            if not (row.name or "").strip():
                raise _refused(f"A {what} needs a name that is not empty", "empty_name", place)
            if row.context_type == "show":
                projects.append(row)
                if row.parent_id is not None:
                    raise _refused("A Project sits at the top: it has no parent", "bad_parent", place)
                continue
            if row.parent_id is None:
                raise _refused(f"A {what} needs a parent (a project, or a context under one)", "missing_parent", place)
            if row.found_parent is None:
                continue  # the database's own constraint says which parent is missing
            if row.parent_is_leaf:
                raise _refused(f"A {what} cannot be under a {row.parent_kind}: a {row.parent_kind} has no children",
                               "bad_parent", place)  # fmt: skip
        if projects:
            names = [row.name for row in projects]
            taken = batch.connection.execute(
                sa.select(context.c.name, sa.func.count()).where(context.c.context_type == "show", context.c.name.in_(names))
                .group_by(context.c.name).having(sa.func.count() > 1)
            ).all()  # fmt: skip
            if taken:
                name = taken[0][0]
                place = next(touched[row.id] for row in projects if row.name == name)
                raise _refused(f"Another project is called {name!r} already: a project's name is its own", "duplicate_name", place)


def _refused(reason: str, code: str, place: tuple[int, str, str, object]) -> ValidationError:
    return ValidationError(reason, code).at(*place)
