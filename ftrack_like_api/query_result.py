"""Lazy, paged query results."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from .exceptions import MultipleResultsFoundError, NoResultFoundError
from .query import ast, render

if TYPE_CHECKING:
    from .entity import Entity
    from .merge import Listing
    from .session import Session

__all__ = ["FIRST_PAGE", "GROWTH", "LARGEST_PAGE", "QueryResult"]

#: Without a ``page_size``: a loop's first page's rows (a loop that stops early reads no more than this),
FIRST_PAGE = 500
#: how much larger each next page is,
GROWTH = 4
#: and the largest page asked for (what ``ftrack-like serve`` allows by default, ``--max-rows``;
#: a server allowing fewer answers fewer and says where to go on): every page of ``all()``.
LARGEST_PAGE = 10_000


def _asking(started: threading.Event, ask: Callable[..., Mapping[str, Any]], *arguments: Any) -> Mapping[str, Any]:
    """``ask(*arguments)`` in the reading thread, ``started`` set first (see :meth:`QueryResult._pages`)."""
    started.set()
    return ask(*arguments)


class QueryResult:
    """The entities a query finds, fetched a page at a time when first needed.

    Iterate it, or call :meth:`all`, :meth:`first` or :meth:`one`. Paging changes only
    the parsed query's ``offset`` and ``limit``; a ``limit`` in the query is respected.
    Where the server gives a cursor (``metadata.next.after``), each page after the first
    is read from just after the last row seen, so every page costs the same and rows
    inserted meanwhile neither repeat nor push others out; otherwise by offset.

    With a ``page_size``, every page asks for that many rows. Without one (None), a loop's
    first page asks for :data:`FIRST_PAGE` and each next one :data:`GROWTH` times more, up
    to :data:`LARGEST_PAGE`: a loop that stops after a few rows costs one small page, and a
    whole project costs few round trips. :meth:`all`, which reads every page, asks for
    :data:`LARGEST_PAGE` from the first (5,000 rows: one round trip; 75,000: 8 instead of 150).
    """

    def __init__(self, session: Session, query: ast.Query, page_size: int | None = None) -> None:
        if page_size is not None and page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self.session = session
        self.query = query
        self.page_size = page_size
        self._all: list[Entity] | None = None

    @property
    def expression(self) -> str:
        return render(self.query)

    def _pages(self, ahead: bool = False) -> Iterator[list[Entity]]:
        """The entities, a page's list at a time. ``ahead`` (``all()``: every page will be read and kept):
        the pages share the references written in full (merged once, see
        :meth:`.Merger.merge_all`), and over a transport that can (``overlaps``) the next page
        is asked for before this one is merged, so that the server works on it meanwhile."""
        loader = self.session.loader
        remaining = self.query.limit
        # all() reads every page whatever their size: its first is as large as the others may be (5,000 rows: one
        # round trip, not three); a loop, which may stop after a few rows, starts small.
        wanted = self.page_size or (LARGEST_PAGE if ahead else FIRST_PAGE)
        query = self.query.page(self.query.offset or 0, wanted if remaining is None else min(wanted, remaining))
        listing: Listing | None = {} if ahead else None  # all() keeps every entity: its pages share references
        # Named for the server, which then sends each referenced entity once in the whole listing.
        named: tuple[str, int] | None = (uuid.uuid4().hex, 0) if ahead else None
        ahead = ahead and getattr(self.session.transport, "overlaps", False)
        background: ThreadPoolExecutor | None = None  # made when a second page is wanted
        try:
            pending: Future[Mapping[str, Any]] | None = None
            after: str | None = None
            while True:
                answer = loader.ask(query, after, named) if pending is None else pending.result()
                pending = None
                if named is not None:
                    named = loader.listed(named, answer)
                following, after = loader.following(answer)
                rows = len(answer["data"])
                if self.page_size is None:
                    wanted = min(wanted * GROWTH, LARGEST_PAGE)
                if remaining is not None:
                    remaining -= rows
                done = following is None or not rows or (remaining is not None and remaining <= 0)
                asked = query
                if not done:
                    query = self.query.page(following, wanted if remaining is None else min(wanted, remaining))
                    if ahead:
                        background = background or ThreadPoolExecutor(1)
                        started = threading.Event()
                        pending = background.submit(_asking, started, loader.ask, query, after, named)
                        # The request leaves before this page is merged: merging holds the GIL, and a
                        # full collection in it (tens of ms, nothing else runs) would hold the request too.
                        started.wait()
                yield loader.read(asked, answer, listing).entities
                if done:
                    return
        finally:
            if background is not None:  # no request of ours left running once the pages end or fail
                background.shutdown(wait=True)

    def __iter__(self) -> Iterator[Entity]:
        if self._all is not None:
            return iter(list(self._all))
        return self._each()

    def _each(self) -> Iterator[Entity]:
        for page in self._pages():  # a generator of its own: close() ends the pages' too
            yield from page

    def all(self) -> list[Entity]:
        """Every entity found (fetched once, then remembered)."""
        if self._all is None:
            found: list[Entity] = []
            for page in self._pages(ahead=True):
                found += page
            self._all = found
        return list(self._all)

    def first(self) -> Entity | None:
        """The first entity found, or None; fetches one row."""
        entities, _ = self.session.fetch(self.query.page(self.query.offset, self._at_most(1)))
        return entities[0] if entities else None

    def one(self) -> Entity:
        """The one entity found; NoResultFoundError or MultipleResultsFoundError otherwise (within the query's own limit)."""
        entities, _ = self.session.fetch(self.query.page(self.query.offset, self._at_most(2)))
        if not entities:
            raise NoResultFoundError(f"No entity found by {self.expression!r}")
        if len(entities) > 1:
            raise MultipleResultsFoundError(f"More than one entity found by {self.expression!r}")
        return entities[0]

    def _at_most(self, rows: int) -> int:
        """``rows``, or fewer when the query's own ``limit`` says so (``limit 1`` then ``one()`` is one row)."""
        return rows if self.query.limit is None else min(self.query.limit, rows)

    def __len__(self) -> int:
        return len(self.all())

    def __getitem__(self, index: int) -> Entity:
        return self.all()[index]

    def __repr__(self) -> str:
        return f"<QueryResult {self.expression!r}>"
