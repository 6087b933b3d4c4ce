"""Pausing Python's cyclic garbage collector around allocation-heavy work.

Encoding or merging thousands of entities allocates a container per entity and no
garbage cycles; with the collector on, its full collections walk every live object
again and again (40% of a 75,000-row answer on the server, and the slow outliers of a
client merge). Reference counting still frees everything meanwhile. Threads share one
pause: the collector comes back when the last one ends, as it was before the first.

The client pauses only stretches of its own Python work of some size (:data:`PAUSE_FROM`
rows or operations: a few milliseconds and more), never while it waits on the network.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from typing import Iterator

__all__ = ["PAUSE_FROM", "paused", "paused_for"]

#: The rows of an answer, or operations of a commit, from which the client pauses the collector.
PAUSE_FROM = 1_000

_lock = threading.Lock()
_users = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting goes on)."""
    global _users, _was_enabled
    with _lock:
        if _users == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _was_enabled:
                gc.enable()


def paused_for(size: int, wanted: bool = True) -> contextlib.AbstractContextManager[None]:
    """:func:`paused` for work on ``size`` rows or operations when ``wanted`` and ``size`` is
    :data:`PAUSE_FROM` or more; nothing otherwise (a small merge is over before the collector would run)."""
    return paused() if wanted and size >= PAUSE_FROM else contextlib.nullcontext()
