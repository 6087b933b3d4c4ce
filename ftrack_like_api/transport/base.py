"""The transport contract."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..exceptions import ServerError, TransportError

if TYPE_CHECKING:
    from .files import FileChannel

__all__ = ["Transport", "answer_of"]


class Transport(abc.ABC):
    """Carries a batch of wire-format operations to a backend and brings back the results.

    :meth:`handle` returns one result per operation, in order. It raises
    :class:`~ftrack_like_api.exceptions.ServerError` when the server answered with an
    error (then nothing of the batch was stored), and
    :class:`~ftrack_like_api.exceptions.TransportError` when there was no usable answer.
    Errors of the libraries underneath never escape.
    """

    #: Whether a batch may be sent from another thread while this one works on the last answer
    #: (one batch at a time still): a query's ``all()`` then asks for its next page before
    #: merging the one it has, and the server works meanwhile. Not for an in-process backend,
    #: which would only share this process's interpreter.
    overlaps = False

    @abc.abstractmethod
    def handle(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Send ``batch``; the list of results."""

    def events(self) -> Any:
        """The channel to the backend's event log, for the event hub (a transport without one raises)."""
        from ..exceptions import EventHubConnectionError

        raise EventHubConnectionError(f"{type(self).__name__} carries no events")

    def files(self) -> FileChannel:
        """The channel that moves components' bytes to and from the server location (a transport without one raises)."""
        from ..exceptions import FileTransferError

        raise FileTransferError(f"{type(self).__name__} carries no files")

    def close(self) -> None:  # noqa: B027 - a transport that holds nothing has nothing to close
        """Let go of connections and files. A closed transport may be used again: it reopens."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def answer_of(batch: Sequence[Mapping[str, Any]], answer: Any) -> list[Any]:
    """Check a backend's answer to ``batch``: the results, or the error it stands for."""
    if isinstance(answer, dict) and "exception" in answer:
        raise ServerError.from_answer(answer)
    if not isinstance(answer, list) or len(answer) != len(batch):
        raise TransportError(
            f"The server answered {len(batch)} operation(s) with {type(answer).__name__}"
            f"{f' of {len(answer)}' if isinstance(answer, list) else ''}, not one result each"
        )
    return answer
