"""The event log's part in a server's life: the broker's thread, and pruning what is past retention.

``create_app`` enters :func:`events_running` in its lifespan: the broker hears other
workers while the server runs, and old events are pruned every
:func:`~.retention.prune_interval` (by each worker: a prune is a single idempotent DELETE).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from typing import TYPE_CHECKING, AsyncIterator

import anyio
import anyio.to_thread

from .retention import prune_interval

if TYPE_CHECKING:
    from ..engine.backend import Backend

__all__ = ["events_running"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def events_running(backend: Backend, retention: datetime.timedelta | None) -> AsyncIterator[None]:
    """Run the broker's thread and, with a ``retention``, the pruning, for as long as the block runs."""
    await anyio.to_thread.run_sync(backend.broker.start)
    try:
        async with anyio.create_task_group() as tasks:
            if retention is not None:
                tasks.start_soon(_prune, backend, retention)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
    finally:
        await anyio.to_thread.run_sync(backend.broker.stop)


async def _prune(backend: Backend, retention: datetime.timedelta) -> None:
    while True:
        try:
            pruned = await anyio.to_thread.run_sync(backend.events.prune, retention)
            if pruned:
                log.info("pruned %d event(s) older than %s", pruned, retention)
        except Exception:  # the database may be away for a while: try again next time
            log.warning("pruning the event log failed", exc_info=True)
        await anyio.sleep(prune_interval(retention))
