"""A transport whose answers come from a function: for tests of code that uses a session.

::

    def handler(batch):
        return [{"action": "query", "data": [], "metadata": {"next": {"offset": None}}} for _ in batch]

    session = Session(server_url="mock://", api_user="jo", transport=MockTransport(handler))

As httpx's ``MockTransport``: ``handler(batch)`` gets the batch as a server would (a
copy through JSON) and returns the results, or an error object
(``{"exception": …, "content": …}``, which becomes a
:class:`~ftrack_like_api.exceptions.ServerError`), or raises. What it raises that is
not one of this package's errors is translated, as every transport translates the
errors underneath it, into a :class:`~ftrack_like_api.exceptions.TransportError`.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Sequence

from ..exceptions import Error, TransportError
from .base import Transport, answer_of

__all__ = ["MockTransport"]


class MockTransport(Transport):
    """Answers each batch with ``handler(batch)``."""

    def __init__(self, handler: Callable[[list[Any]], Any]) -> None:
        if not callable(handler):
            raise TypeError(f"MockTransport needs a function of the batch, not {type(handler).__name__}")
        self.handler = handler
        #: Whether :meth:`close` was called since the last batch.
        self.closed = False

    def handle(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        try:
            sent = json.loads(json.dumps(list(batch)))
        except (TypeError, ValueError) as error:
            raise TypeError(f"A batch must be JSON: {error}") from error
        self.closed = False
        try:
            answer = self.handler(sent)
        except Error:
            raise
        except Exception as error:
            raise TransportError(f"The mock handler failed: {type(error).__name__}: {error}") from error
        try:
            answer = json.loads(json.dumps(answer))
        except (TypeError, ValueError) as error:
            raise TransportError(f"The mock handler answered with something that is not JSON: {error}") from error
        return answer_of(sent, answer)

    def close(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"MockTransport({self.handler!r})"
