"""Throughput and latency of ``ftrack-like serve`` with 1 and 4 workers, side by side, at several client counts.

    python benchmarks/server_load.py [--databases sqlite,postgresql] [--workers 1,4] [--clients 1,8,32]
                                     [--seconds 4] [--compare /path/to/other/checkout] [--quick]

For each database (a new SQLite file, or a PostgreSQL schema of its own: FTRACK_LIKE_TEST_POSTGRES,
default postgresql://postgres@127.0.0.1:5432/test) one studio is built (a project, 20 shots,
2,000 tasks) and then, on that same data, ``ftrack-like serve --workers N`` runs as a process
of its own on 127.0.0.1 for each N in turn. Each client keeps one connection alive (an
HttpTransport, as a Session does) and sends, for ``--seconds``, one of two requests:

- ``small``: ``select name from Status limit 1`` (the cost of a request itself);
- ``page``: ``select name, status.name from Task where parent.name is "sh007"`` (100 tasks).

The clients run in up to four processes of their own, so that the load is not held back by
one process's GIL. Requests per second, median and 95th-percentile latency, to the terminal
and to benchmarks/results/server_load.json.

``--compare DIR`` serves each setting from the source tree in DIR too (its ``ftrack_like_api``
first on PYTHONPATH, e.g. ``git archive main | tar -x -C DIR``), right before this checkout's:
before and after, in one run on the same data.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import statistics
import sys
import threading
import time
from typing import Any

from ftrack_like_api import Session
from ftrack_like_api.server import Backend
from ftrack_like_api.transport.http import HttpTransport
from scratch import ftrack_like, scratch_database, served_process

REQUESTS = {
    "small": [{"action": "query", "expression": "select name from Status limit 1"}],
    "page": [{"action": "query", "expression": 'select name, status.name from Task where parent.name is "sh007"'}],
}


def build(url: str) -> None:
    """One project of 20 shots of 100 tasks each."""
    with Session(server_url=url, api_user="admin", schema_cache_path=False) as session:
        project = session.create("Project", {"name": "load", "project_schema": session.query("ProjectSchema").first()})
        for s in range(20):
            shot = session.create("Shot", {"name": f"sh{s:03d}", "parent": project})
            for t in range(100):
                session.create("Task", {"name": f"t{t:03d}", "parent": shot})
        session.commit()


def clients_in_process(url: str, key: str, threads: int, request: str, until: float) -> list[float]:
    """``threads`` clients, each on its own kept-alive connection, until ``until`` (time.time()); latencies."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        transport = HttpTransport(url, "admin", key)
        transport.handle(REQUESTS[request])  # the connection made before the clock runs
        mine = []
        while time.time() < until:
            start = time.perf_counter()
            transport.handle(REQUESTS[request])
            mine.append(time.perf_counter() - start)
        transport.close()
        with lock:
            latencies.extend(mine)

    running = [threading.Thread(target=client) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return latencies


def load(pool: concurrent.futures.ProcessPoolExecutor, url: str, key: str, clients: int, request: str,
         seconds: float) -> dict[str, Any]:  # fmt: skip
    """``clients`` clients for ``seconds``, spread over the pool's processes: throughput and latency."""
    processes = min(clients, pool._max_workers)  # type: ignore[attr-defined]
    shares = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
    until = time.time() + 1.0 + seconds  # a second for the processes to connect
    futures = [pool.submit(clients_in_process, url, key, share, request, until) for share in shares]
    latencies = sorted(latency for future in futures for latency in future.result())
    return {
        "clients": clients,
        "requests": len(latencies),
        "requests_per_second": len(latencies) / seconds,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,4", help="worker counts, each served in turn (default 1,4)")
    parser.add_argument("--clients", default="1,8,32", help="client counts (default 1,8,32)")
    parser.add_argument("--requests", default="small,page", help=f"which requests: {', '.join(REQUESTS)}")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds each measurement runs (default 4)")
    parser.add_argument("--compare", type=pathlib.Path, help="a source tree served before this one, setting by setting")
    parser.add_argument("--quick", action="store_true", help="sqlite, small request, 1 and 8 clients, 2 s each")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "server_load.json")
    options = parser.parse_args()
    if options.quick:
        options.databases, options.clients, options.requests, options.seconds = "sqlite", "1,8", "small", 2.0
    executable = ftrack_like()
    builds: dict[str, dict[str, str] | None] = {"this": None}
    if options.compare is not None:
        source = options.compare.resolve()
        if not (source / "ftrack_like_api").is_dir():
            print(f"{source} holds no ftrack_like_api package", file=sys.stderr)
            return 1
        builds = {str(source): {**os.environ, "PYTHONPATH": str(source)}, "this": None}
    workers = [int(n) for n in options.workers.split(",")]
    clients = [int(n) for n in options.clients.split(",")]
    rows: list[dict[str, Any]] = []
    with concurrent.futures.ProcessPoolExecutor(4) as pool:
        for kind in options.databases.split(","):
            with scratch_database(kind) as database:
                build(database)
                with Backend.from_url(database) as backend:
                    key = backend.auth.create_key("admin", "load")
                for request in options.requests.split(","):
                    print(f"\n{kind}, {request}: {REQUESTS[request][0]['expression']}")
                    for count in workers:
                        for name, environment in builds.items():
                            with served_process(executable, database, count, environment) as url:
                                load(pool, url, key, 1, request, 0.5)  # warm up: every worker's first requests
                                for n in clients:
                                    row = {"database": kind, "request": request, "workers": count, "build": name,
                                           **load(pool, url, key, n, request, options.seconds)}  # fmt: skip
                                    rows.append(row)
                                    print(f"  {name[-24:]:>24} {count} worker(s) {n:3d} clients "
                                          f"{row['requests_per_second']:7.0f} req/s  median {row['median_ms']:6.1f} ms"
                                          f"  p95 {row['p95_ms']:6.1f} ms", flush=True)  # fmt: skip
    print("\nthroughput of the most workers against one, this checkout:")
    for kind in options.databases.split(","):
        for request in options.requests.split(","):
            for n in clients:
                by_workers = {r["workers"]: r["requests_per_second"] for r in rows
                              if (r["database"], r["request"], r["clients"], r["build"]) == (kind, request, n, "this")}  # fmt: skip
                if len(by_workers) > 1:
                    most = max(by_workers)
                    print(f"  {kind:10} {request:5} {n:3d} clients: {most} workers / {min(by_workers)} = "
                          f"{by_workers[most] / by_workers[min(by_workers)]:.2f}x")  # fmt: skip
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "server_load", "cores": os.cpu_count(), "seconds": options.seconds,
                                          "rows": rows}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
