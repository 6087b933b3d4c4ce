"""A request's body handed to a worker thread as it arrives: the thread reads a sync iterator of its chunks.

One chunk is in flight at a time (a memory stream of one), so a slow store slows the
reading of the body instead of the body piling up in memory. ftrack's upload route and
Aquarium's both receive files this way.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Iterator, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread

__all__ = ["coalesced", "stream_to_thread"]

T = TypeVar("T")


async def coalesced(source: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """``source``'s bytes in chunks of at least ``size`` (the last one shorter); a big chunk passes as it came."""
    buffered = bytearray()
    async for chunk in source:
        if not buffered and len(chunk) >= size:
            yield chunk
            continue
        buffered += chunk
        if len(buffered) >= size:
            yield bytes(buffered)
            buffered.clear()
    if buffered:
        yield bytes(buffered)


async def stream_to_thread(source: AsyncIterator[bytes], work: Callable[[Iterator[bytes]], T],
                           limiter: anyio.CapacityLimiter | None = None) -> T:  # fmt: skip
    """``work(chunks)`` in a worker thread (of ``limiter``'s), ``chunks`` the chunks of ``source`` as they arrive; its result.

    A failure to read ``source`` (the client went away) is raised inside ``chunks``, so a
    short body is never taken for a whole one.
    """
    send, receive = anyio.create_memory_object_stream[Any](1)

    async def pump() -> None:
        async with send:
            try:
                async for chunk in source:
                    await send.send(chunk)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the worker stopped reading (a refusal, a store error): it answers
            except Exception as failure:
                try:
                    await send.send(failure)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass

    def chunks() -> Iterator[bytes]:
        while True:
            try:
                item = anyio.from_thread.run(receive.receive)
            except anyio.EndOfStream:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def run() -> T:
        with receive:
            return work(chunks())

    result: list[T] = []
    failed: list[BaseException] = []
    async with anyio.create_task_group() as group:
        group.start_soon(pump)
        try:
            result.append(await anyio.to_thread.run_sync(run, limiter=limiter))
        except Exception as failure:  # raised below, not as a group of exceptions
            failed.append(failure)
            group.cancel_scope.cancel()
    if failed:
        raise failed[0]
    return result[0]
