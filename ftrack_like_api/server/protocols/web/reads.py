"""The engine, as the pages use it: batches run as the visitor, and answers with their references joined up.

Every read is a ``query`` operation and every change a batch of ``create``/``update``/
``delete`` operations, carried out by :meth:`Backend.execute` as the signed-in user: the
query compiler, permissions, integrity and the event log are the engine's, and this
protocol has no SQL of its own. Values in query texts are bound with the query
language's own :func:`~ftrack_like_api.query.bind`, never pasted in.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from ....query import bind, parse, render
from ...engine.backend import Backend
from ...gate import DatabaseGate
from .visitors import Visitor

__all__ = ["Entities", "Reads", "Refused", "expression"]

#: Where a change made in the browser came from, as its events' ``source`` says.
SOURCE = {"web": True}


class Refused(Exception):
    """The engine refused a batch: its error object's words, and its code."""

    def __init__(self, answer: Mapping[str, Any]) -> None:
        content = str(answer.get("content", "The server refused the change"))
        if content.startswith("Operation ") and ": " in content:  # the batch's own words: one change, one operation
            content = content.split(": ", 1)[1]
        super().__init__(content)
        self.code = str(answer.get("error_code") or "")
        self.exception = str(answer.get("exception") or "")


def expression(text: str, **values: Any) -> str:
    """``text`` with its ``:name`` parameters bound to ``values`` (quoted as the language quotes)."""
    return render(bind(parse(text), values))


class Entities:
    """The rows of one answer, with references resolved: an entity sent in full once is found wherever it is named."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows = list(rows)
        self.known: dict[str, dict[str, Any]] = {}
        for found in _entities(self.rows):
            self.known.setdefault(str(found["id"]), {}).update(found)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self.get(row) for row in self.rows)  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, reference: Any) -> dict[str, Any] | None:
        """Everything the answer holds of the entity ``reference`` names (None for None)."""
        if type(reference) is not dict or "id" not in reference:
            return None
        return self.known.get(str(reference["id"]), dict(reference))

    def path(self, row: Mapping[str, Any], *names: str) -> Any:
        """``row``'s value at ``names`` (``"parent", "name"``), through references; None where one is missing."""
        value: Any = row
        for name in names:
            value = self.get(value) if type(value) is dict and "__entity_type__" in value else value
            if type(value) is not dict:
                return None
            value = value.get(name)
        return self.get(value) if type(value) is dict and "__entity_type__" in value else value


def _entities(value: Any) -> Iterator[dict[str, Any]]:
    # Answers are plain dicts and lists (an isinstance of typing's Mapping costs ten times more, per value).
    if type(value) is dict:
        if "__entity_type__" in value and "id" in value:
            yield value
        for item in value.values():
            if type(item) is dict or type(item) is list:
                yield from _entities(item)
    elif type(value) is list:
        for item in value:
            yield from _entities(item)


class Reads:
    """Queries and changes as a visitor, each in a turn at the worker's database gate."""

    def __init__(self, backend: Backend, database: DatabaseGate) -> None:
        self.backend, self.database = backend, database

    async def query(self, visitor: Visitor, text: str, after: str | None = None) -> tuple[Entities, str | None]:
        """The rows ``text`` finds for ``visitor`` (a page, from ``after``), and the cursor to the next page.

        :class:`Refused` when the engine refuses the query (a bad filter).
        """
        operation: dict[str, Any] = {"action": "query", "expression": text}
        if after:
            operation["after"] = after
        (answer,) = await self.run(visitor, [operation])
        following = answer.get("metadata", {}).get("next", {})
        more = following.get("offset") is not None
        return Entities(answer["data"]), (following.get("after") if more else None)

    async def one(self, visitor: Visitor, text: str) -> dict[str, Any] | None:
        """The first row ``text`` finds for ``visitor``, resolved, or None (there is none, or it is not theirs to see)."""
        rows, _ = await self.query(visitor, text)
        return next(iter(rows), None)

    async def run(self, visitor: Visitor, operations: list[dict[str, Any]]) -> list[Any]:
        """One batch (one transaction, one commit) as ``visitor``: its results; :class:`Refused` with the engine's words."""
        answer = await self.database(self._execute, operations, visitor)
        if isinstance(answer, dict):
            raise Refused(answer)
        return answer  # type: ignore[no-any-return]

    def _execute(self, operations: list[dict[str, Any]], visitor: Visitor) -> Any:
        return self.backend.execute(operations, visitor.username, user_id=visitor.user_id, source=SOURCE)
