"""The event log and its broker, on real SQLite files and a real PostgreSQL.

The log keeps events in the order of their sequence numbers; a reader that asks for what
came after the last number it saw never skips one, however the writers' commits
interleave; the broker wakes readers in this process and, once started, hears other
processes' commits (PostgreSQL's LISTEN/NOTIFY, SQLite's polling).
"""

import asyncio
import datetime
import os
import random
import subprocess
import sys
import threading
import uuid

import pytest
import sqlalchemy as sa

from ftrack_like_api.exceptions import ValidationError
from ftrack_like_api.server import Backend
from ftrack_like_api.server.auth.permissions import Principal
from ftrack_like_api.server.events import Broker
from ftrack_like_api.server.events.broker import APPLICATION_NAME


def event(topic="test.topic", **fields):
    return {"topic": topic, "data": {"n": 1}, **fields}


def append(backend, *events, user_id=None):
    with backend.engine.connect().execution_options(ftrack_writes=True) as connection, connection.begin():
        return backend.events.append(connection, list(events), user_id)


@pytest.fixture
def fresh(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        yield backend


def test_appended_events_come_back_in_order_in_ftracks_shape(fresh):
    assert fresh.events.last() == 0
    first = append(fresh, event(id="e1", source={"user": {"username": "jo"}}, target="applicationId=x"),
                   event("other.topic", id="e2", inReplyToEvent="e1"), user_id="u1")  # fmt: skip
    second = append(fresh, event(id="e3", project_id="p1"))
    assert first[0] < first[1] < second[0] == fresh.events.last()
    read = fresh.events.read(0)
    assert [e.id for e in read] == ["e1", "e2", "e3"]
    assert [e.seq for e in read] == [*first, *second]
    wire = read[0].to_wire()
    assert set(wire) == {"id", "topic", "data", "source", "target", "sent", "inReplyToEvent", "seq"}
    assert (wire["topic"], wire["data"], wire["source"], wire["target"]) == (
        "test.topic", {"n": 1}, {"user": {"username": "jo"}}, "applicationId=x")
    assert datetime.datetime.fromisoformat(wire["sent"]).utcoffset() == datetime.timedelta(0)
    assert read[1].in_reply_to == "e1" and read[1].to_wire()["inReplyToEvent"] == "e1"
    assert (read[0].user_id, read[2].user_id, read[2].project_id) == ("u1", None, "p1")
    assert [e.id for e in fresh.events.read(first[0])] == ["e2", "e3"]
    assert [e.id for e in fresh.events.read(0, limit=1)] == ["e1"]
    assert [e.id for e in fresh.events.read(0, topics=["other.topic"])] == ["e2"]


def test_a_user_reads_the_events_of_the_projects_they_read(fresh):
    append(fresh, event(id="none"), event(id="mine", project_id="p1"), event(id="theirs", project_id="p2"))
    everything = ["none", "mine", "theirs"]
    assert [e.id for e in fresh.events.read(0, principal=Principal("a", "admin", admin=True))] == everything
    assert [e.id for e in fresh.events.read(0, principal=Principal("u", "studio"))] == everything
    limited = Principal("u", "jo", readable=frozenset({"p1"}))
    assert [e.id for e in fresh.events.read(0, principal=limited)] == ["none", "mine"]
    assert [e.id for e in fresh.events.read(0, principal=Principal("u", "nobody", readable=frozenset()))] == ["none"]


@pytest.mark.parametrize("bad, message", [
    ({"data": {}}, "needs a topic"),
    ({"topic": ""}, "needs a topic"),
    ({"topic": "t", "data": []}, "data is an object"),
    ({"topic": "t", "target": 3}, "target is a string"),
    ({"topic": "t", "inReplyToEvent": 5}, "inReplyToEvent is an event id"),
    ({"topic": "t", "data": {"x": float("nan")}}, "values are JSON"),
    ({"topic": "t", "data": {"x": object()}}, "values are JSON"),
    ("topic", "An event is an object"),
])  # fmt: skip
def test_a_malformed_event_is_refused_and_nothing_is_kept(fresh, bad, message):
    with pytest.raises(ValidationError, match=message):
        fresh.publish(bad)
    assert fresh.events.last() == 0


def test_publish_keeps_the_event_wakes_the_broker_and_refuses_an_id_twice(fresh):
    before = fresh.broker.latest()
    stored = fresh.publish(event(id="p1", source={"id": "client"}), user_id="u1")
    assert stored.seq > before and fresh.broker.latest() == stored.seq == fresh.events.last()
    assert (stored.id, stored.topic, stored.source, stored.user_id) == ("p1", "test.topic", {"id": "client"}, "u1")
    with pytest.raises(ValidationError, match="holds an event with id 'p1' already"):
        fresh.publish(event(id="p1"))
    assert fresh.events.last() == stored.seq
    assert fresh.publish(event()).id  # an event without an id gets one


def test_pruning_removes_old_events_keeps_parked_ones_and_never_reuses_a_number(fresh):
    seqs = append(fresh, event(id="a"), event(id="b"), event(id="c"))
    parked = fresh.storage.events["event_parked"]
    with fresh.engine.begin() as connection:
        connection.execute(parked.insert().values(user_id="u", cursor="c", seq=seqs[1], event_id="b", error="boom",
                                                  attempts=3, parked_at=datetime.datetime(2026, 1, 1)))  # fmt: skip
    assert fresh.events.prune(datetime.timedelta(days=1)) == 0  # nothing that old
    assert fresh.events.prune(datetime.timedelta(0)) == 2
    assert [e.id for e in fresh.events.read(0)] == ["b"]
    with fresh.engine.begin() as connection:
        connection.execute(parked.delete())
    assert fresh.events.prune(datetime.timedelta(0)) == 1 and fresh.events.last() == 0
    (later,) = append(fresh, event(id="d"))
    assert later > seqs[-1], "a number is never given twice, even once the newest events are pruned"


def test_a_reader_never_skips_an_event_that_commits_late(fresh):
    """Two writers: the first appends and holds its transaction open; the second cannot take a number before it commits."""
    if fresh.dialect.name == "sqlite":
        pytest.skip("SQLite's write lock lets one writer at a time in: the second waits at BEGIN")
    done = []
    second = threading.Thread(target=lambda: done.append(append(fresh, event(id="late"))))
    with fresh.engine.connect().execution_options(ftrack_writes=True) as held:
        with held.begin():
            (early,) = fresh.events.append(held, [event(id="early")])
            second.start()
            second.join(0.5)
            read_meanwhile = fresh.events.read(0)
    second.join(30)
    assert read_meanwhile == [], "nothing is committed: the second writer waits for the first"
    assert [e.id for e in fresh.events.read(0)] == ["early", "late"] and done[0][0] > early


def test_concurrent_writers_never_make_a_reader_skip(fresh):
    """Eight threads append and commit at random moments while a reader follows the log by number."""
    writers, rounds = 8, 25
    stop = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def write(number):
        rng = random.Random(number)
        try:
            for n in range(rounds):
                with fresh.engine.connect().execution_options(ftrack_writes=True) as connection:
                    with connection.begin():
                        fresh.events.append(connection, [event(id=f"{number}-{n}")])
                        # Hold the transaction a while: commits land in another order than appends without the lock.
                        stop.wait(rng.random() * 0.004)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)

    def read():
        after = 0
        while True:
            finished = stop.is_set()
            for stored in fresh.events.read(after):
                seen.append(stored.seq)
                after = stored.seq
            if finished:
                return

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    reader.join()
    assert not failures, failures
    everything = [e.seq for e in fresh.events.read(0, limit=10_000)]
    assert len(everything) == writers * rounds
    assert seen == everything, "the reader following the log saw each event once, in order"


# --- the broker -------------------------------------------------------------------------------


def test_the_broker_wakes_threads_and_coroutines_of_its_process(fresh):
    broker = fresh.broker
    assert broker.latest() == 0
    assert broker.wait_blocking(0, timeout=0.05) == 0  # nothing came: back at the timeout
    woken = []
    thread = threading.Thread(target=lambda: woken.append(broker.wait_blocking(0, timeout=30)))
    thread.start()

    async def both():
        waiting = asyncio.ensure_future(broker.wait(0, timeout=30))
        await asyncio.sleep(0.05)
        seq = (await asyncio.to_thread(fresh.publish, event())).seq
        return seq, await waiting

    seq, awaited = asyncio.run(both())
    thread.join(30)
    assert awaited == seq and woken == [seq]
    assert asyncio.run(broker.wait(seq, timeout=0.05)) == seq  # timed out, nothing newer
    broker.notify(seq - 1)  # an older number changes nothing
    assert broker.latest() == seq


PUBLISH = """
import sys
from ftrack_like_api.server import Backend
with Backend.from_url(sys.argv[1]) as backend:
    print(backend.publish({"topic": "from.another.process"}).seq)
"""


def test_a_started_broker_hears_another_process(fresh_database):
    """Another process appends to the same database: PostgreSQL's NOTIFY, or SQLite's polling, wakes this one."""
    with Backend.from_url(fresh_database) as backend:
        backend.broker.start()
        try:
            waited = []
            waiter = threading.Thread(target=lambda: waited.append(backend.broker.wait_blocking(0, timeout=60)))
            waiter.start()
            out = subprocess.run([sys.executable, "-c", PUBLISH, fresh_database], capture_output=True, text=True,
                                 check=True, timeout=120)  # fmt: skip
            waiter.join(60)
            seq = int(out.stdout)
            assert waited == [seq]
            assert [e.topic for e in backend.events.read(0)] == ["from.another.process"]
        finally:
            backend.broker.stop()
        assert not backend.broker.running


def test_the_postgresql_listener_connects_again_and_misses_nothing(fresh_database):
    if not fresh_database.startswith("postgresql"):
        pytest.skip("PostgreSQL's listening connection")
    with Backend.from_url(fresh_database) as backend, Backend.from_url(fresh_database) as other:
        broker = backend.broker
        broker.start()
        try:
            assert broker.wait_blocking(0, 0.05) == 0
            with backend.engine.connect() as connection:
                killed = connection.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": APPLICATION_NAME.format(os.getpid())},
                ).scalars().all()
            assert killed
            seq = other.publish(event()).seq  # said while the listener is away, or as it comes back
            assert broker.wait_blocking(0, timeout=60) == seq
        finally:
            broker.stop()


def test_other_schemas_of_one_postgresql_database_are_not_heard(fresh_database):
    if not fresh_database.startswith("postgresql"):
        pytest.skip("PostgreSQL's notification channel is shared by the schemas of a database")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    url = fresh_database.replace(fresh_database.rsplit("%3D", 1)[1], schema)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        with Backend.from_url(fresh_database) as backend, Backend.from_url(url) as elsewhere:
            backend.broker.start()
            try:
                assert backend.broker.wait_blocking(0, 0.05) == 0
                for _ in range(3):
                    elsewhere.publish(event())
                assert backend.broker.wait_blocking(0, timeout=0.5) == 0
            finally:
                backend.broker.stop()
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


def test_starts_and_stops_are_counted(fresh):
    broker = Broker(fresh.events)
    broker.start()
    broker.start()
    broker.stop()
    assert broker.running
    broker.stop()
    assert not broker.running
    broker.stop()  # one stop too many changes nothing
    assert not broker.running
    assert uuid.UUID(fresh.publish(event()).id)


def test_closing_the_backend_stops_its_broker_whatever_was_started(fresh_database):
    """An in-process event hub starts the broker and nothing stops it but the backend's close."""
    backend = Backend.from_url(fresh_database)
    backend.broker.start()
    backend.broker.start()
    thread = backend.broker._thread
    backend.close()
    assert not backend.broker.running and not thread.is_alive()


def test_the_postgresql_listener_stops_for_good_when_the_log_is_gone(fresh_database, caplog):
    if not fresh_database.startswith("postgresql"):
        pytest.skip("PostgreSQL's listening connection")
    with Backend.from_url(fresh_database) as backend:
        broker = backend.broker
        with backend.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE event_log RENAME TO event_log_gone")
        try:
            thread = threading.Thread(target=broker._listen)
            thread.start()
            thread.join(30)
            assert not thread.is_alive(), "the listener retried a table that is not there"
            assert "the event log is gone" in caplog.text
        finally:
            with backend.engine.begin() as connection:
                connection.exec_driver_sql("ALTER TABLE event_log_gone RENAME TO event_log")
