"""Requests per second and latency of a small query, with 1, 8 and 32 concurrent clients.

    python benchmarks/server_load.py [--databases sqlite,postgresql] [--seconds 5] [--workers 1]

Runs ``ftrack-like serve`` as a process of its own on 127.0.0.1 (an ephemeral port),
then for each concurrency sends ``select name from Status limit 1`` from that many
threads, each with its own HttpTransport, for ``--seconds`` (at most 20,000 requests a
thread). Reports requests per second and the median and 95th-percentile latency;
figures to benchmarks/results/server_load.json. PostgreSQL is FTRACK_LIKE_TEST_POSTGRES
(default postgresql://postgres@127.0.0.1:5432/test), in a schema of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import sys
import threading
import time


from ftrack_like_api.server import Backend
from ftrack_like_api.transport.http import HttpTransport
from scratch import scratch_database, served_process

QUERY = [{"action": "query", "expression": "select name from Status limit 1"}]


def load(url: str, key: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        transport = HttpTransport(url, "admin", key)
        mine = []
        for _ in range(20_000):
            if time.monotonic() > stop:
                break
            start = time.perf_counter()
            transport.handle(QUERY)
            mine.append(time.perf_counter() - start)
        transport.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "clients": clients,
        "requests_per_second": len(latencies) / elapsed,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "server_load.json")
    options = parser.parse_args()
    executable = shutil.which("ftrack-like", path=os.path.dirname(sys.executable)) or shutil.which("ftrack-like")
    if executable is None:
        print("ftrack-like is not installed: pip install -e '.[server]'", file=sys.stderr)
        return 1
    report: dict[str, list[dict[str, float]]] = {}
    for kind in options.databases.split(","):
        with scratch_database(kind) as url_of_database:
            with Backend.from_url(url_of_database) as backend:
                key = backend.auth.create_key("admin", "load")
            with served_process(executable, url_of_database, options.workers) as url:
                load(url, key, 1, 1.0)  # warm up
                report[kind] = [load(url, key, clients, options.seconds) for clients in (1, 8, 32)]
        print(f"\n{kind}, {options.workers} worker(s): select name from Status limit 1")
        for row in report[kind]:
            print(f"  {row['clients']:3d} clients  {row['requests_per_second']:8.0f} req/s  "
                  f"median {row['median_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms")  # fmt: skip
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "server_load", "workers": options.workers, **report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
