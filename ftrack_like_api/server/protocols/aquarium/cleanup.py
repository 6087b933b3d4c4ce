"""What Aquarium's routes kept beside an entity goes with it, whichever API deleted it.

The data an item keeps beside its entity (``aquarium_item``), the data and type kept
beside its edges (``aquarium_edge``: a Child edge's, a link's), and the edges kept whole
that touch it are removed after each batch that deletes entities of ours — through
ftrack's API, ShotGrid's or the web page as much as Aquarium's (whose own deletes remove
them in their batch already). Until then nothing of it is answered: kept rows are only
read joined to their entity, and an edge only when both its ends can be read.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from ...engine.batch import BatchContext
from .relations import CHILD_PREFIX

__all__ = ["Forget"]

log = logging.getLogger(__name__)
#: How many keys one statement names.
_CHUNK = 500


class Forget:
    """The after-commit hook that removes what was kept beside deleted entities (see the module's text)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.items, self.edges = backend.storage.aquarium["aquarium_item"], backend.storage.aquarium["aquarium_edge"]

    def __call__(self, batch: BatchContext) -> None:
        gone = sorted({str(keys[0]) for action, _, keys, _, _ in batch.changed if action == "remove" and len(keys) == 1})
        if gone:
            self.forget(gone)

    def forget(self, keys: list[str]) -> int:
        """Remove what is kept for the entities ``keys``; how many rows."""
        removed = 0
        with self.backend.engine.connect().execution_options(ftrack_writes=True) as connection, connection.begin():
            for start in range(0, len(keys), _CHUNK):
                part = keys[start:start + _CHUNK]
                i, e = self.items, self.edges
                removed += connection.execute(i.delete().where(i.c.key.in_(part))).rowcount
                touching = sa.or_(e.c.key.in_(part), e.c.key.in_([CHILD_PREFIX + k for k in part]), e.c.from_key.in_(part),
                                  e.c.to_key.in_(part))  # fmt: skip
                removed += connection.execute(e.delete().where(touching)).rowcount
        if removed:
            log.debug("forgot %d rows kept beside %d deleted entities", removed, len(keys))
        return removed
