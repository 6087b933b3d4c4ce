"""The worker's tail of the event log: one read for every socket that keeps up, the log itself for one far behind."""

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

import anyio  # noqa: E402

from ftrack_like_api.server.auth.permissions import Principal  # noqa: E402
from ftrack_like_api.server.gate import DatabaseGate  # noqa: E402
from ftrack_like_api.server.protocols.ftrack.hub.tail import Tail, visible  # noqa: E402


def publish(backend, count, **more):
    return [backend.publish({"topic": "test.tail", "data": {"n": n}, **more}).seq for n in range(count)]


def test_sockets_that_keep_up_share_one_read(backend):
    admin = Principal("a", "admin", admin=True)
    start = backend.events.last()

    async def main():
        tail = Tail(backend.events, DatabaseGate(2), keep=50, limit=20)
        seqs = publish(backend, 10)
        latest = seqs[-1]
        results = []

        async def reader():
            results.append(await tail.read(start, latest, admin, None))

        async with anyio.create_task_group() as tasks:
            for _ in range(8):
                tasks.start_soon(reader)
        assert tail.reads == 1  # eight sockets, one read of the log
        assert all([e.stored.seq for e in found] == seqs and through == latest for found, through in results)
        # Past the limit a page at a time; past what is kept, the log itself.
        more = publish(backend, 60)
        found, through = await tail.read(latest, more[-1], admin, None)
        assert [e.stored.seq for e in found] == more[:20] and through == more[19]
        while through < more[-1]:
            found, through = await tail.read(through, more[-1], admin, None)
        assert tail.start > start and len(tail._kept) == 50
        reads = tail.reads
        found, through = await tail.read(start, more[-1], admin, ["test.tail"])  # far behind
        assert [e.stored.seq for e in found] == seqs + more[:10] and through == more[9] and tail.reads == reads + 1

    anyio.run(main)


def test_visible_lets_through_what_the_log_would(backend):
    publish(backend, 2, project_id="p1")
    publish(backend, 2, project_id="p2")
    publish(backend, 2)
    everything = backend.events.read(0, 10_000)
    for principal in [Principal("u", "u", readable=frozenset({"p1"})), Principal("u", "u", readable=frozenset()),
                      Principal("u", "u"), Principal("a", "a", admin=True, readable=frozenset())]:  # fmt: skip
        assert [e.seq for e in everything if visible(e, principal)] == [
            e.seq for e in backend.events.read(0, 10_000, principal)
        ]
