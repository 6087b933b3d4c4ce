"""Events from commit to callback: throughput, latency with 1 and 20 subscribers, and a listener's catch-up.

    python benchmarks/events.py [--databases sqlite,postgresql] [--events 5000] [--catch-up 10000] [--quick]

Runs ``ftrack-like serve`` as a process of its own on 127.0.0.1 (an ephemeral port) and,
over HTTP, measures:

- **throughput**: ``--events`` events published in batches of 500 (each batch one commit
  to the log, ``POST /events``) to one subscriber hub; events per second from the first
  commit to the last callback.
- **latency**: 300 events published one at a time, 20 ms apart; each of 1 (then 20)
  subscriber hubs notes when its callback runs. Median and p99 of commit-to-callback
  (from just before the request), over every (event, subscriber). Then the same with the
  ``ftrack.update`` of 300 Session commits (one task created each). The subscribers are hubs in one
  other process (each its own stream), so they share its interpreter, as 20 scripts on a
  2-core machine share its cores.
- **catch-up**: a durable listener (its cursor on the server) is stopped, ``--catch-up``
  events are committed, and it is started again: the time until its callback has run for
  the last of them.

Targets (issue 13): ≥ 2,000 events/s to one subscriber; p99 ≤ 50 ms with 20 subscribers;
catch-up of 10,000 ≤ 2 s. Figures to benchmarks/results/events.json. PostgreSQL is
FTRACK_LIKE_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test), in a schema
of its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pathlib
import statistics
import sys
import threading
import time
import uuid

import requests

from ftrack_like_api import Session
from ftrack_like_api.event.base import Event
from ftrack_like_api.event.listener import Listener
from ftrack_like_api.server import Backend
from scratch import ftrack_like, scratch_database, served_process

BATCH = 500


def session(url: str, key: str) -> Session:
    return Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False)


def post(url: str, key: str, events: list[dict]) -> None:
    answer = requests.post(
        f"{url}/events", json=events, headers={"ftrack-user": "admin", "ftrack-api-key": key}, timeout=60
    )
    answer.raise_for_status()


def event(topic: str, **data: object) -> dict:
    return {"id": uuid.uuid4().hex, "topic": topic, "data": data, "source": {}, "target": ""}


def throughput(url: str, key: str, count: int) -> dict[str, float]:
    done = threading.Event()
    seen = [0]

    def count_it(_: Event) -> None:
        seen[0] += 1
        if seen[0] == count:
            done.set()

    with session(url, key) as subscriber:
        subscriber.event_hub.subscribe("topic=bench.throughput", count_it)
        subscriber.event_hub.connect()
        started = time.perf_counter()
        for first in range(0, count, BATCH):
            post(url, key, [event("bench.throughput", n=n) for n in range(first, min(first + BATCH, count))])
        done.wait(120)
        elapsed = time.perf_counter() - started
    return {
        "events": count,
        "received": seen[0],
        "seconds": round(elapsed, 3),
        "events_per_second": round(seen[0] / elapsed),
    }


def _subscribers(url: str, key: str, count: int, topic: str, expected: int, ready: object, results: object) -> None:
    """In a process of its own: ``count`` hubs noting when each event reached each; sent back when done.

    An event is known by ``data.n`` (published) or its first entity's id (``ftrack.update``).
    """
    arrivals: list[tuple[str, float]] = []
    lock = threading.Lock()
    sessions = []
    finished = threading.Event()

    def note(event: Event) -> None:
        now = time.time()
        entities = event["data"].get("entities")
        marker = str(entities[0]["entityId"]) if entities else str(event["data"].get("n"))
        with lock:
            arrivals.append((marker, now))
            if len(arrivals) == count * expected:
                finished.set()

    for _ in range(count):
        made = session(url, key)
        made.event_hub.subscribe(f"topic={topic}", note)
        made.event_hub.connect()
        sessions.append(made)
    ready.set()  # type: ignore[attr-defined]
    finished.wait(120)
    results.put(arrivals)  # type: ignore[attr-defined]
    for made in sessions:
        made.close()


def latency(url: str, key: str, subscribers: int, updates: bool = False, count: int = 300) -> dict[str, object]:
    """Commit-to-callback: published events (``POST /events``), or ``ftrack.update`` of Session commits (``updates``)."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Event(), context.Queue()
    topic = "ftrack.update" if updates else "bench.latency"
    artist = session(url, key)
    if updates:  # made before the subscribers listen: that commit's event is not measured
        project = artist.create("Project", {"name": f"bench{uuid.uuid4().hex[:6]}",
                                            "project_schema": artist.query("ProjectSchema").first()})  # fmt: skip
        shot = artist.create("Shot", {"name": "sh010", "parent": project})
        artist.commit()
    process = context.Process(target=_subscribers, args=(url, key, subscribers, topic, count, ready, results))
    process.start()
    ready.wait(120)
    time.sleep(0.5)
    sent: dict[str, float] = {}
    commits: list[float] = []  # how long commit() itself took: the floor of commit-to-callback
    if updates:
        with artist:
            for n in range(count):
                task = artist.create("Task", {"name": f"t{n}", "parent": shot})
                sent[str(task["id"])] = time.time()
                artist.commit()
                commits.append(time.time() - sent[str(task["id"])])
                time.sleep(0.02)
    else:
        artist.close()
        http = requests.Session()
        headers = {"ftrack-user": "admin", "ftrack-api-key": key}
        for n in range(count):
            sent[str(n)] = time.time()
            http.post(f"{url}/events", json=[event(topic, n=n)], headers=headers, timeout=30)
            time.sleep(0.02)
    arrivals = results.get(timeout=180)
    process.join(60)
    found = sorted(at - sent[marker] for marker, at in arrivals if marker in sent)
    return {"subscribers": subscribers, "events": "ftrack.update of Session commits" if updates else "published",
            "deliveries": len(found), "expected": subscribers * count,
            "median_ms": round(statistics.median(found) * 1000, 2),
            "p99_ms": round(found[min(len(found) - 1, int(len(found) * 0.99))] * 1000, 2),
            **({"commit_median_ms": round(statistics.median(commits) * 1000, 2),
                "commit_p99_ms": round(sorted(commits)[int(len(commits) * 0.99)] * 1000, 2)} if commits else {})}  # fmt: skip


def catch_up(url: str, key: str, count: int) -> dict[str, float]:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    seen = [0]
    done = threading.Event()

    def handle(_: Event) -> None:
        seen[0] += 1
        if seen[0] == count:
            done.set()

    with session(url, key) as listening:
        listening.event_hub.subscribe("topic=bench.catch-up", handle)
        listener = Listener(listening.event_hub, name)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        listener.started.wait(30)
        listener.stop()  # down: its cursor is kept on the server
        thread.join(30)
        for first in range(0, count, BATCH):
            post(url, key, [event("bench.catch-up", n=n) for n in range(first, min(first + BATCH, count))])
        listener = Listener(listening.event_hub, name)
        started = time.perf_counter()
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        done.wait(120)
        elapsed = time.perf_counter() - started
        listener.stop()
        thread.join(30)
    return {"events": count, "handled": seen[0], "seconds": round(elapsed, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--catch-up", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="fewer events, for everyday use")
    parser.add_argument(
        "--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "events.json"
    )
    options = parser.parse_args()
    if options.quick:
        options.events, options.catch_up = 1000, 2000
    executable = ftrack_like()
    report: dict[str, dict[str, object]] = {}
    for kind in options.databases.split(","):
        with scratch_database(kind) as database:
            with Backend.from_url(database) as backend:
                key = backend.auth.create_key("admin", "bench")
            with served_process(executable, database) as url:
                throughput(url, key, 200)  # warm up
                report[kind] = {
                    "throughput": throughput(url, key, options.events),
                    "latency": [
                        latency(url, key, 1),
                        latency(url, key, 20),
                        latency(url, key, 1, updates=True),
                        latency(url, key, 20, updates=True),
                    ],
                    "catch_up": catch_up(url, key, options.catch_up),
                }
        row = report[kind]
        print(f"\n{kind}, over HTTP, 1 worker")
        print(f"  throughput  {row['throughput']['events_per_second']:7,} events/s to 1 subscriber")  # type: ignore[index]
        for measured in row["latency"]:  # type: ignore[attr-defined]
            alone = (f", commit() alone: median {measured['commit_median_ms']:.1f} ms, p99 {measured['commit_p99_ms']:.1f} ms"
                     if "commit_median_ms" in measured else "")  # fmt: skip
            print(f"  latency     {measured['events']}, {measured['subscribers']:3d} subscriber(s): "
                  f"median {measured['median_ms']:6.1f} ms, p99 {measured['p99_ms']:6.1f} ms "
                  f"({measured['deliveries']}/{measured['expected']} delivered{alone})")  # fmt: skip
        print(f"  catch-up    {row['catch_up']['events']:,} events in {row['catch_up']['seconds']:.2f} s")  # type: ignore[index]
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "events", "cpus": os.cpu_count(), **report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
