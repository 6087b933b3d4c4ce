"""Answers recorded from a real backend, replayed to a Session with no server behind it.

:class:`Recording` is a :class:`~ftrack_like_api.transport.LocalTransport` that keeps the JSON
text of every answer; :class:`Replay` answers the same batches with those texts, so that a
benchmark times the client alone. A batch is known by its JSON with the listing's token left
out (``all()`` names each listing anew; the answers do not depend on the name).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ftrack_like_api.transport import LocalTransport, Transport

__all__ = ["Recording", "Replay", "batch_key"]


def batch_key(batch: Any) -> str:
    """What a batch is recorded under: its JSON, sorted, without a listing's token."""
    return json.dumps([{k: v for k, v in operation.items() if k != "listing"} for operation in batch], sort_keys=True)


class Replay(Transport):
    """Answers each batch with the JSON text recorded for it, decoded by ``decode`` (``json.loads``).

    ``decoded``: answers decoded beforehand, by key, handed out as they are (each once) instead, to
    time the merge without the decoding.
    """

    def __init__(self, recorded: dict[str, str], decode: Callable[[str], Any] = json.loads,
                 decoded: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.recorded = recorded
        self.decode = decode
        self.decoded = decoded
        self.calls = 0

    def handle(self, batch: Any) -> list[Any]:
        self.calls += 1
        key = batch_key(batch)
        if self.decoded is not None and key in self.decoded:
            return self.decoded.pop(key)  # type: ignore[no-any-return]
        return self.decode(self.recorded[key])  # type: ignore[no-any-return]


class Recording(LocalTransport):
    """A LocalTransport that keeps the JSON text of every answer, keyed by :func:`batch_key`."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "admin")
        self.recorded: dict[str, str] = {}

    def handle(self, batch: Any) -> list[Any]:
        answer = super().handle(batch)
        self.recorded[batch_key(list(batch))] = json.dumps(answer)
        return answer  # type: ignore[no-any-return]
