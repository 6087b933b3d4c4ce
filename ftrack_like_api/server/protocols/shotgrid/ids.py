"""ShotGrid's integer ids for our uuid-keyed entities (the ``shotgrid_id`` table, :mod:`.tables`).

Why a table and not a number derived from the uuid: ShotGrid scripts compare ids as
integers, keep them, and expect a later entity to have a larger one. A counter kept by the
database gives exactly that, the same in every worker. An entity gets its number when the
endpoint creates it, or the first time the endpoint answers it (made through ftrack's API);
a number is never reused nor changed.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["IntegerIds"]

#: Ids looked up in one statement (under every database's bound-parameter limit).
CHUNK = 500


class IntegerIds:
    """Numbers for uuids and uuids for numbers, on a batch's connection."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    def numbers(self, connection: sa.Connection, entities: Mapping[str, str]) -> dict[str, int]:
        """The number of each uuid in ``entities`` (uuid: our type), giving one to those without."""
        found = self._numbers(connection, list(entities))
        missing = {uuid: kind for uuid, kind in entities.items() if uuid not in found}
        if missing:
            found.update(self.give(connection, missing))
        return found

    def give(self, connection: sa.Connection, entities: Mapping[str, str]) -> dict[str, int]:
        """Numbers for ``entities`` (uuid: our type) that had none when read (one another worker gives meanwhile is
        kept), numbered in the order given; the answer is by uuid."""
        rows = [{"entity_id": uuid, "entity_type": kind} for uuid, kind in entities.items()]
        insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(self.table)
        for start in range(0, len(rows), CHUNK):
            connection.execute(insert.on_conflict_do_nothing(index_elements=["entity_id"]), rows[start:start + CHUNK])
        return self._numbers(connection, list(entities))

    def known(self, connection: sa.Connection, uuids: Iterable[str]) -> dict[str, int]:
        """The numbers of those of ``uuids`` that have one (none is given)."""
        return self._numbers(connection, list(uuids))

    def _numbers(self, connection: sa.Connection, uuids: list[str]) -> dict[str, int]:
        table, found = self.table, dict[str, int]()
        for start in range(0, len(uuids), CHUNK):
            chunk = uuids[start:start + CHUNK]
            found.update(connection.execute(sa.select(table.c.entity_id, table.c.number)
                                            .where(table.c.entity_id.in_(chunk))).all())  # fmt: skip
        return found

    def uuids(self, connection: sa.Connection, numbers: Iterable[int]) -> dict[int, str]:
        """The uuid of each number that names an entity (numbers naming none are left out)."""
        table, wanted, found = self.table, sorted(set(numbers)), dict[int, str]()
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            found.update(connection.execute(sa.select(table.c.number, table.c.entity_id)
                                            .where(table.c.number.in_(chunk))).all())  # fmt: skip
        return found

    def compared(self, connection: sa.Connection, ours: str, operator: str, bounds: tuple[Any, ...]) -> list[str]:
        """The uuids of our type ``ours`` whose numbers compare so (``greater_than`` n, ``between`` a b …)."""
        number = self.table.c.number
        condition = {
            "greater_than": lambda: number > bounds[0], "less_than": lambda: number < bounds[0],
            "between": lambda: number.between(bounds[0], bounds[1]),
            "not_between": lambda: ~number.between(bounds[0], bounds[1]),
        }[operator]()  # fmt: skip
        return list(connection.execute(sa.select(self.table.c.entity_id)
                                       .where(self.table.c.entity_type == ours, condition)).scalars())  # fmt: skip
