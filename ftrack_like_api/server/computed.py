"""Attributes the server works out instead of storing (``"compute": name`` in the schema).

Two kinds: those SQL can say (``time_logged`` is the sum of a context's timelog
durations) become a column of the select, so they cost nothing extra per row; those
it cannot say in one column (``link``, the path from the project down to an entity)
are filled once the rows are in, with one query for all of them.
"""

from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa

from ..exceptions import SchemaError
from ..schema import Attribute, EntityType
from .compiler import Compiler

__all__ = ["Computed"]

#: (an encoded entity, its primary key value): the rows a computed attribute is filled into.
Targets = list[tuple[dict[str, Any], Any]]


class Computed:
    """The computed attributes of one compiler's schema and storage."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.storage = compiler.storage
        self._columns: dict[str, Callable[[EntityType, sa.FromClause], sa.ColumnElement[Any]]] = {
            "time_logged": self._time_logged,
            "bid_time_logged_difference": self._bid_time_logged_difference,
        }
        self._fills: dict[str, Callable[[sa.Connection, EntityType, Targets], None]] = {"link": self._link}

    def check(self, entity_type: EntityType, attribute: Attribute) -> None:
        """Fail unless the server knows how to compute ``attribute``."""
        if attribute.compute not in self._columns and attribute.compute not in self._fills:
            raise SchemaError(f"{entity_type.name}.{attribute.name}: no way to compute {attribute.compute!r}")

    def is_column(self, attribute: Attribute) -> bool:
        return attribute.compute in self._columns

    def column(self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute) -> sa.ColumnElement[Any]:
        """The attribute as a column of a select over ``table``, labelled with its name."""
        return self._columns[attribute.compute](entity_type, table).label(attribute.name)  # type: ignore[index]

    def fill(self, connection: sa.Connection, entity_type: EntityType, attribute: Attribute, targets: Targets) -> None:
        """Write the attribute into each encoded entity of ``targets``."""
        if targets:
            self._fills[attribute.compute](connection, entity_type, targets)  # type: ignore[index]
            for encoded, _ in targets:
                encoded.setdefault(attribute.name, None)

    # --- the computations -------------------------------------------------------------------

    def _time_logged(self, entity_type: EntityType, table: sa.FromClause) -> sa.ColumnElement[Any]:
        timelog = self.storage.tables["timelog"]
        total = sa.select(sa.func.coalesce(sa.func.sum(timelog.c.duration), 0.0))
        return total.where(timelog.c.context_id == table.c[entity_type.primary_key[0]]).scalar_subquery()

    def _bid_time_logged_difference(self, entity_type: EntityType, table: sa.FromClause) -> sa.ColumnElement[Any]:
        return table.c.bid - self._time_logged(entity_type, table)

    def _link(self, connection: sa.Connection, entity_type: EntityType, targets: Targets) -> None:
        """``[{"id", "name", "type"}, …]`` from the project down to each entity, in one recursive query."""
        context = self.storage.tables["context"]
        start, step = context.alias(), context.alias()
        keys = sorted({key for _, key in targets}, key=str)
        anchor = sa.select(
            start.c.id.label("root"), start.c.id, start.c.parent_id, start.c.name, start.c.context_type,
            sa.literal(0).label("depth"),
        ).where(self.storage.dialect.in_values(start.c.id, keys))  # fmt: skip
        chain = anchor.cte(recursive=True)
        chain = chain.union_all(
            sa.select(chain.c.root, step.c.id, step.c.parent_id, step.c.name, step.c.context_type, chain.c.depth + 1)
            .join(chain, step.c.id == chain.c.parent_id)
        )  # fmt: skip
        rows = connection.execute(
            sa.select(chain.c.root, chain.c.id, chain.c.name, chain.c.context_type).order_by(chain.c.root, chain.c.depth.desc())
        ).all()
        links: dict[Any, list[dict[str, Any]]] = {}
        for root, key, name, context_type in rows:
            kind = "Project" if context_type == "show" else "TypedContext"
            links.setdefault(root, []).append({"id": key, "name": name, "type": kind})
        for encoded, key in targets:
            encoded["link"] = links.get(key, [])
