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

from .listings import Listing

__all__ = ["Included"]


class Included:
    """The referenced entities of one compact answer, each once, in the order first met.

    A page of a named listing (see :mod:`.listings`) counts its places from where the
    listing's earlier pages stopped (``base``), and the entities those pages sent are
    written as the places they were sent at.
    """

    __slots__ = ("entities", "_places", "listing", "base")

    def __init__(self, listing: Listing | None = None) -> None:
        self.entities: list[dict[str, Any]] = []
        self._places: dict[int, int] = {}  # id of an entity's canonical dict -> its place
        self.listing = listing
        #: The place of this answer's first included entity in its listing (0 without one).
        self.base = 0 if listing is None else listing.sent

    def place(self, canonical: dict[str, Any]) -> int:
        """The place of the entity whose one full encoding in this answer is ``canonical``."""
        found = self._places.get(id(canonical))
        if found is None:
            found = self._places[id(canonical)] = self.base + len(self.entities)
            self.entities.append(canonical)
        return found

    def known(self, path: tuple[str, ...]) -> dict[Any, int] | None:
        """The places, by key, of the entities the listing's earlier pages sent at projection ``path``."""
        return None if self.listing is None else self.listing.places.get(path)

    def memory(self, path: tuple[str, ...], adding: int) -> dict[Any, int] | None:
        """Where to note the places of the entities this page sends at ``path`` (``adding`` of them),
        or None: no listing, or its memory is full (those are then sent again, as without one)."""
        listing = self.listing
        if listing is None or listing.count + adding > listing.limit:
            return None
        listing.count += adding
        return listing.places.setdefault(path, {})

    def done(self) -> None:
        """The answer is made: the listing's client will hold this answer's entities too."""
        if self.listing is not None:
            self.listing.sent = self.base + len(self.entities)
