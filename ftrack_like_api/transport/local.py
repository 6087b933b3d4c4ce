"""In-process transport: the embedded mode, ``Session(server_url="sqlite:///studio.db")``.

The batch goes straight to :class:`~ftrack_like_api.server.Backend`. By default it
goes through JSON both ways, so the session sees exactly what it would see over HTTP
(and a value that could not travel fails here too). The backend — and with it the
server package and SQLAlchemy — is loaded when the first batch is sent, not before.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..exceptions import DatabaseError
from .base import Transport, answer_of

if TYPE_CHECKING:
    from ..server import Backend

__all__ = ["LocalTransport"]

SCHEMES = ("sqlite:", "postgresql:", "postgres:")


class LocalTransport(Transport):
    """Hands batches to a backend in this process, acting as ``user``.

    ``url`` is a database URL (``sqlite:///studio.db``, ``postgresql://…``); a new
    database is created and seeded on the first batch. ``json_round_trip=False`` skips
    the JSON encoding both ways: faster, but the session then shares the answer's
    objects with nobody and must not rely on JSON's conversions.
    """

    def __init__(self, url: str, user: str, json_round_trip: bool = True) -> None:
        if not isinstance(url, str) or not url.startswith(SCHEMES):
            raise ValueError(f"LocalTransport needs a database URL (sqlite:///path or postgresql://…), not {url!r}")
        if not user:
            raise ValueError("LocalTransport needs the user to act as (api_user)")
        self.url = url
        self.user = user
        self.json_round_trip = json_round_trip
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> Backend:
        """The backend, opened (created and seeded, if new) on first use; DatabaseError when it cannot be."""
        with self._lock:
            if self._backend is None:
                from ..server import Backend  # the server package loads only here

                try:
                    self._backend = Backend.from_url(self.url)
                except DatabaseError:  # says what and where already
                    raise
                except Exception as error:  # a driver's or SQLAlchemy's error, translated here
                    raise DatabaseError(f"Cannot open {self.url}: {error}") from error
            return self._backend

    def handle(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        if self.json_round_trip:
            try:
                sent = json.loads(json.dumps(list(batch)))
            except (TypeError, ValueError) as error:
                raise TypeError(f"A batch must be JSON: {error}") from error
        else:
            sent = list(batch)
        answer = self.backend.execute(sent, self.user)
        if self.json_round_trip:
            answer = json.loads(json.dumps(answer))
        return answer_of(sent, answer)

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None

    def __repr__(self) -> str:
        return f"LocalTransport({self.url!r}, user={self.user!r})"
