"""What a listing's client already holds: each referenced entity sent once per listing, not once per page.

A Session listing a whole project (``.all()``) reads it a page at a time, and a shot whose
five tasks fall on four pages would come in full on each of them: 58,000 shots written,
fetched and merged for the 15,000 of a 75,000-task production. A compact query operation
(see :mod:`.compact`) may name its listing, and say how many referenced entities the
client holds from its earlier pages::

    {"action": "query", "expression": "…", "compact": true, "after": "…",
     "listing": "a token of the client's", "known": 7312}

The worker remembers, for that user and token, where in the listing each referenced
entity went (its *place*, counted over the whole listing: the answer's ``included_base``
is where its own ``included`` starts). An entity an earlier page sent is written as that
place: not fetched, nor encoded, nor sent again. Nothing is taken on trust: the memory is
used only when ``known`` is what this worker sent so far (an answer lost on the way, a
page answered by another worker or after a restart: the page is written in full from
``known`` on, as if the listing began there); a token is the user's own; a listing of
another query starts afresh; the memory is bounded (listings, places, age).

An entity comes as it was on the page it was first sent with: within one listing, a shot
renamed while its tasks were still being read keeps the name it came with (the tasks of
the earlier pages, likewise, are as they were when read).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

__all__ = ["Listing", "Listings", "MAX_TOKEN"]

#: The longest listing token accepted.
MAX_TOKEN = 64


class Listing:
    """One listing's memory: how many referenced entities were sent, and the place of each, by path."""

    __slots__ = ("shape", "sent", "places", "count", "limit", "used")

    def __init__(self, shape: Any, sent: int, limit: int = 500_000) -> None:
        self.shape = shape
        #: Referenced entities the client holds once it has the answers sent so far.
        self.sent = sent
        #: Per projection path (``("parent",)``), each key's place in the listing.
        self.places: dict[tuple[str, ...], dict[Any, int]] = {}
        #: Places noted, and at most how many.
        self.count, self.limit = 0, limit
        self.used = time.monotonic()


class Listings:
    """The listings a worker remembers: at most ``most`` of them, ``places`` places each, for ``lifetime`` seconds."""

    def __init__(self, most: int = 32, places: int = 500_000, lifetime: float = 600.0) -> None:
        self.most, self.max_places, self.lifetime = most, places, lifetime
        self._kept: collections.OrderedDict[tuple[Any, str], Listing] = collections.OrderedDict()
        self._lock = threading.Lock()

    def take(self, owner: Any, token: str, shape: Any, known: int) -> Listing:
        """The memory of ``owner``'s listing ``token`` for a page of ``shape`` whose client holds
        ``known`` referenced entities; a fresh one (starting at ``known``) when it does not match.

        Taken out while the page is written (a second request with the same token meanwhile
        starts afresh): :meth:`keep` puts it back once the page's answer is made.
        """
        with self._lock:
            found = self._kept.pop((owner, token), None)
        now = time.monotonic()
        if found is None or found.shape != shape or found.sent != known or now - found.used > self.lifetime:
            return Listing(shape, known, self.max_places)
        found.used = now
        return found

    def keep(self, owner: Any, token: str, listing: Listing) -> None:
        """Remember ``listing`` (its ``sent`` brought up to date by the page just written)."""
        with self._lock:
            self._kept[(owner, token)] = listing
            self._kept.move_to_end((owner, token))
            while len(self._kept) > self.most:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)
