"""A query's answer in the compact form this package's own client asks for.

ftrack's answer nests each referenced entity in the row that refers to it: in full the
first time the answer meets it, as ``{"__entity_type__": …, "id": …}`` after. A client
reading that JSON makes a dict per row holding a dict per reference, and a dict holding a
dict is one more object for Python's cyclic garbage collector to walk, for as long as the
page is being merged: 10,000 of them per page of tasks.

The compact form, given when a query operation says ``"compact": true`` (which servers
announce with ``compact_answers`` in ``query_server_information``, and which the official
client never sends), writes each referenced entity once in the answer's ``included``
list, and every reference to it as its place there (an integer; a collection, a list of
them). The rows and the entities keep their fields and values otherwise. A row then
holds only values: no dict the collector tracks, and fewer bytes (16 % fewer for a page
of tasks with their status and shot).

The reader's loader writes the places as it fills the references (see
:meth:`.Loader.load`): an entity's one full encoding in an answer (its *canonical* dict)
is what gets a place, so the compact form costs a dict look-up per reference written.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Included"]


class Included:
    """The referenced entities of one compact answer, each once, in the order first met."""

    __slots__ = ("entities", "_places")

    def __init__(self) -> None:
        self.entities: list[dict[str, Any]] = []
        self._places: dict[int, int] = {}  # id of an entity's canonical dict -> its place

    def place(self, canonical: dict[str, Any]) -> int:
        """The place of the entity whose one full encoding in this answer is ``canonical``."""
        found = self._places.get(id(canonical))
        if found is None:
            found = self._places[id(canonical)] = len(self.entities)
            self.entities.append(canonical)
        return found
