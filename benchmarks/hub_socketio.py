"""ftrack's hub (socket.io): events per second from publish to subscriber, and latency, with 1 and 20 subscribers.

    python benchmarks/hub_socketio.py [--databases sqlite,postgresql] [--events 2000] [--publishers 4] [--workers 1]

Runs ``ftrack-like serve`` as a process of its own on 127.0.0.1, opens ``N`` subscriber
sockets (``topic=bench.event``), each in a process of its own, and ``--publishers``
publishing sockets (threads), speaking socket.io 0.9 as ftrack's client does. The publishers send ``--events`` events
between them, each waiting for its acknowledgement (the event is in the log then). Reports
events per second delivered to each subscriber (from the first publish to its last event)
and the latency from publish to arrival, median and 99th percentile; figures to
benchmarks/results/hub_socketio.json. PostgreSQL is FTRACK_LIKE_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/test), in a schema of its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import pathlib
import statistics
import sys
import threading
import time
import uuid
from typing import Any

import requests
from websockets.sync.client import connect

from ftrack_like_api.server import Backend
from scratch import ftrack_like, scratch_database, served_process


def open_hub(url: str, key: str) -> object:
    session_id = requests.get(f"{url}/socket.io/1/", headers={"ftrack-user": "admin", "ftrack-api-key": key},
                              timeout=10).text.split(":")[0]  # fmt: skip
    socket = connect(f"ws{url[4:]}/socket.io/1/websocket/{session_id}", proxy=None, max_queue=None,
                     compression=None).__enter__()  # as ftrack's client (websocket-client): no permessage-deflate
    assert socket.recv(timeout=10) == "1::"
    return socket


def emit(socket: object, number: int, event: dict) -> dict:
    socket.send(f"5:{number}+::" + json.dumps({"name": "ftrack.event", "args": [event]}))  # type: ignore[attr-defined]
    while True:
        packet = socket.recv(timeout=30)  # type: ignore[attr-defined]
        if packet == "2::":
            socket.send("2:::")  # type: ignore[attr-defined]
        elif packet.startswith(f"6:::{number}+"):
            return json.loads(packet.split("+", 1)[1])[0]


def subscriber(url: str, key: str, events: int, ready: Any, results: Any) -> None:
    """One subscriber socket, in a process of its own: the arrival and publish times of ``events`` events."""
    socket = open_hub(url, key)
    answer = emit(socket, 1, {"topic": "ftrack.meta.subscribe", "id": uuid.uuid4().hex, "source": {"id": "b"},
                              "data": {"subscriber": {"id": uuid.uuid4().hex}, "subscription": "topic=bench.event"}})
    assert answer == {"success": True}, answer
    ready.put(True)
    mine: list[tuple[float, float]] = []
    while len(mine) < events:
        packet = socket.recv(timeout=120)  # type: ignore[attr-defined]
        if packet == "2::":
            socket.send("2:::")  # type: ignore[attr-defined]
        elif packet.startswith("5:::"):
            mine.append((time.time(), json.loads(packet[4:])["args"][0]["data"]["t"]))
    socket.close()  # type: ignore[attr-defined]
    results.put(mine)


def run(url: str, key: str, subscribers: int, events: int, publishers: int) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    readers = [context.Process(target=subscriber, args=(url, key, events, ready, results)) for _ in range(subscribers)]
    for process in readers:
        process.start()
    for _ in readers:
        ready.get(timeout=120)

    def publisher(index: int) -> None:
        socket = open_hub(url, key)
        for number in range(index, events, publishers):
            answer = emit(socket, number + 1, {"topic": "bench.event", "id": uuid.uuid4().hex, "source": {"id": "p"},
                                               "data": {"t": time.time(), "n": number}})  # fmt: skip
            assert answer == {"success": True}, answer
        socket.close()  # type: ignore[attr-defined]

    writers = [threading.Thread(target=publisher, args=(i,)) for i in range(publishers)]
    began = time.time()
    for thread in writers:
        thread.start()
    arrivals = [results.get(timeout=600) for _ in readers]
    for thread in writers:
        thread.join()
    for process in readers:
        process.join()
    latencies = sorted(arrived - sent for mine in arrivals for arrived, sent in mine)
    rates = [len(mine) / (mine[-1][0] - began) for mine in arrivals]
    return {
        "subscribers": subscribers,
        "events": events,
        "events_per_second_each": statistics.median(rates),
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "hub_socketio.json")
    options = parser.parse_args()
    executable = ftrack_like()
    report: dict[str, list[dict[str, float]]] = {}
    for kind in options.databases.split(","):
        with scratch_database(kind) as url_of_database:
            with Backend.from_url(url_of_database) as backend:
                key = backend.auth.create_key("admin", "hub bench")
            with served_process(executable, url_of_database, options.workers) as url:
                run(url, key, 1, 100, options.publishers)  # warm up
                report[kind] = [run(url, key, n, options.events, options.publishers) for n in (1, 20)]
        print(f"\n{kind}, {options.workers} worker(s), {options.publishers} publishers, {options.events} events")
        for row in report[kind]:
            print(f"  {row['subscribers']:3d} subscribers  {row['events_per_second_each']:7.0f} events/s each  "
                  f"median {row['median_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms")  # fmt: skip
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "hub_socketio", "workers": options.workers,
                                          "publishers": options.publishers, **report}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
