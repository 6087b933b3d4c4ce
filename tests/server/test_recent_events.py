"""RecentEvents: streams of one worker share their reads of the log, and each still gets exactly the log, in order."""

import random
import uuid

from ftrack_like_api.server.protocols.ftrack.recent import RecentEvents


class Counting:
    """The log, counting the reads that reach the database."""

    def __init__(self, log):
        self.log, self.reads = log, 0

    def read(self, after, limit=1000, principal=None):
        self.reads += 1
        return self.log.read(after, limit, principal)


def append(backend, count):
    return [backend.publish({"id": uuid.uuid4().hex, "topic": "studio.recent", "data": {}, "source": {}, "target": ""}).seq
            for _ in range(count)]  # fmt: skip


def test_readers_anywhere_in_the_log_get_every_event_once_in_order(backend):
    log = Counting(backend.events)
    recent = RecentEvents(log, size=50)  # small: readers fall behind what is kept
    start = backend.events.last()
    append(backend, 30)
    rng = random.Random(13)
    readers = [start + rng.randrange(0, 30) for _ in range(6)]
    got = {n: [] for n in range(len(readers))}
    initial = list(readers)
    for _ in range(400):
        if rng.random() < 0.2:
            append(backend, rng.randrange(1, 40))
        n = rng.randrange(len(readers))
        found, readers[n], _ = recent.read(readers[n], rng.choice([7, 1000]), None)
        got[n] += [event.seq for event in found]
    last = backend.events.last()
    for n in range(len(readers)):
        while readers[n] < last:
            found, readers[n], _ = recent.read(readers[n], 1000, None)
            got[n] += [event.seq for event in found]
        assert got[n] == [event.seq for event in backend.events.read(initial[n], 100_000)]


def test_twenty_streams_woken_by_one_commit_make_one_read(backend):
    log = Counting(backend.events)
    recent = RecentEvents(log)
    position = backend.events.last()
    recent.read(position, 1000, None)
    (seq,) = append(backend, 1)
    before = log.reads
    answers = [recent.read(position, 1000, None) for _ in range(20)]
    assert log.reads - before == 1
    assert all([e.seq for e in found] == [seq] and up_to == seq for found, up_to, _ in answers)
