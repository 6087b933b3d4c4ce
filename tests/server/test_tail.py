"""The worker's tail of the event log: one read for every reader that keeps up, the log itself for one far behind.

One tail serves the ``/events`` streams and ftrack's hub sockets alike; each reader still
gets exactly the log (what its principal may read), in order.
"""

import random
import uuid

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

import anyio  # noqa: E402

from ftrack_like_api.server.auth.permissions import Principal  # noqa: E402
from ftrack_like_api.server.events.tail import Tail, visible  # noqa: E402
from ftrack_like_api.server.gate import DatabaseGate  # noqa: E402


def publish(backend, count, **more):
    return [backend.publish({"id": uuid.uuid4().hex, "topic": "test.tail", "data": {"n": n}, **more}).seq
            for n in range(count)]  # fmt: skip


class Counting:
    """The log, counting the reads that reach the database."""

    def __init__(self, log):
        self.log, self.reads = log, 0

    def read(self, after, limit=1000, principal=None, topics=None):
        self.reads += 1
        return self.log.read(after, limit, principal, topics)


def test_readers_that_keep_up_share_one_read(backend):
    admin = Principal("a", "admin", admin=True)
    start = backend.events.last()

    async def main():
        tail = Tail(backend.events, DatabaseGate(2), keep=50, limit=20)
        seqs = publish(backend, 10)
        latest = seqs[-1]
        results = []

        async def reader():
            results.append(await tail.read(start, admin, latest))

        async with anyio.create_task_group() as tasks:
            for _ in range(8):
                tasks.start_soon(reader)
        assert tail.reads == 1  # eight readers, one read of the log
        assert all([e.seq for e in found] == seqs and through == latest for found, through, _ in results)
        # Past the limit a page at a time; past what is kept, the log itself.
        more = publish(backend, 60)
        found, through, full = await tail.read(latest, admin, more[-1])
        assert [e.seq for e in found] == more[:20] and through == more[19] and full
        while through < more[-1]:
            found, through, _ = await tail.read(through, admin, more[-1])
        assert tail.start > start and len(tail._kept) == 50
        reads = tail.reads
        found, through, _ = await tail.read(start, admin, more[-1], ["test.tail"])  # far behind
        assert [e.seq for e in found] == seqs + more[:10] and through == more[9] and tail.reads == reads + 1

    anyio.run(main)


def test_streams_woken_by_one_commit_without_a_latest_make_one_read(backend):
    async def main():
        log = Counting(backend.events)
        tail = Tail(log, DatabaseGate(2))
        position = backend.events.last()
        await tail.read(position, None)
        (seq,) = publish(backend, 1)
        before = log.reads
        answers = [await tail.read(position, None) for _ in range(20)]
        assert log.reads - before == 1
        assert all([e.seq for e in found] == [seq] and up_to == seq for found, up_to, _ in answers)

    anyio.run(main)


def test_readers_anywhere_in_the_log_get_every_event_once_in_order(backend):
    async def main():
        tail = Tail(backend.events, DatabaseGate(2), keep=50)  # small: readers fall behind what is kept
        start = backend.events.last()
        publish(backend, 30)
        rng = random.Random(13)
        readers = [start + rng.randrange(0, 30) for _ in range(6)]
        got = {n: [] for n in range(len(readers))}
        initial = list(readers)
        for _ in range(400):
            if rng.random() < 0.2:
                publish(backend, rng.randrange(1, 40))
            n = rng.randrange(len(readers))
            latest = rng.choice([None, backend.events.last()])
            found, readers[n], _ = await tail.read(readers[n], None, latest, limit=rng.choice([7, 1000]))
            got[n] += [entry.seq for entry in found]
        last = backend.events.last()
        for n in range(len(readers)):
            while readers[n] < last:
                found, readers[n], _ = await tail.read(readers[n], None)
                got[n] += [entry.seq for entry in found]
            assert got[n] == [event.seq for event in backend.events.read(initial[n], 100_000)]

    anyio.run(main)


def test_each_encoding_is_made_once_for_every_reader(backend):
    made = []

    def encode(event):
        made.append(event.seq)
        return event.to_wire()

    async def main():
        tail = Tail(backend.events, DatabaseGate(2))
        start = backend.events.last()
        seqs = publish(backend, 3)
        for _ in range(5):
            found, _, _ = await tail.read(start, None, seqs[-1])
            assert [entry.form(encode)["seq"] for entry in found] == seqs

    anyio.run(main)
    assert made == made[:3] and len(made) == 3


def test_readers_get_only_what_the_log_would_give_their_principal(backend):
    start = backend.events.last()
    publish(backend, 2, project_id="p1")
    publish(backend, 2, project_id="p2")
    publish(backend, 2)
    everything = backend.events.read(start, 10_000)
    principals = [Principal("u", "u", readable=frozenset({"p1"})), Principal("u", "u", readable=frozenset()),
                  Principal("u", "u"), Principal("a", "a", admin=True, readable=frozenset()), None]  # fmt: skip

    async def main():
        tail = Tail(backend.events, DatabaseGate(2))
        for principal in principals:
            expected = [e.seq for e in backend.events.read(start, 10_000, principal)]
            assert [e.seq for e in everything if visible(e, principal)] == expected
            found, _, _ = await tail.read(start, principal, everything[-1].seq)  # from memory
            assert [e.seq for e in found] == expected
            behind = Tail(backend.events, DatabaseGate(2))
            await behind.read(everything[-1].seq, principal)  # it keeps from the end on
            found, _, _ = await behind.read(start, principal)  # the log's own, filtered in the database
            assert [e.seq for e in found] == expected

    anyio.run(main)
