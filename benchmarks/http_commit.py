"""One commit of 10,000 creates through a Session over HTTP, end to end (PERFORMANCE.md: <= 1.5 s).

    python benchmarks/http_commit.py [--databases sqlite,postgresql] [--repeat 3] [--creates 10000]

``ftrack-like serve`` runs as a process of its own on 127.0.0.1 (an ephemeral port); the
Session records ``--creates`` Task creates under a new shot and the commit is timed, as a
whole and in two parts: the HTTP calls (sending, the server's transaction, the answer
coming back, decoding it) and the rest, the client's (planning the batch, splitting it,
settling and merging the answers), and the CPU time the client and the server process
spent on it (which a busy machine disturbs far less than the wall clock). Each run is timed with Python's cyclic garbage
collector left running (``Session(pause_gc=False)``) and paused while the commit plans and
settles (``pause_gc=True``, the default). ``--creates 60000``
commits more than the server takes in one batch (50,000): the commit goes as two.
Medians to the terminal and to benchmarks/results/http_commit.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time
from typing import Any

from ftrack_like_api import Session
from ftrack_like_api.server import Backend
from scratch import ServedUrl, cpu_seconds, ftrack_like, scratch_database, served_process


class Timed:
    """The session's transport, timed: seconds spent in each batch's HTTP call, and how many."""

    def __init__(self, transport: Any) -> None:
        self.transport, self.seconds, self.calls = transport, 0.0, 0

    def handle(self, batch: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.transport.handle(batch)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def close(self) -> None:
        self.transport.close()


def commit_runs(url: ServedUrl, key: str, creates: int, repeat: int, pause_gc: bool) -> dict[str, Any]:
    """``repeat`` commits of ``creates`` Task creates each: medians of the whole and of its parts, in seconds,
    and the CPU time the client and the server (one worker: one process) spent on each."""
    totals, calls, client_cpu, server_cpu, batches = [], [], [], [], 0
    with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False, pause_gc=pause_gc) as session:
        project = session.query('Project where name is "bench"').first() or session.create(
            "Project", {"name": "bench", "project_schema": session.query("ProjectSchema").first()}
        )
        session.commit()
        timed = Timed(session.transport)
        for run in range(repeat):
            shot = session.create("Shot", {"name": f"sh{run}-{time.time_ns()}", "parent": project})
            session.commit()
            for n in range(creates):
                session.create("Task", {"name": f"t{n}", "parent": shot})
            session.transport = timed  # type: ignore[assignment]
            timed.seconds, timed.calls = 0.0, 0
            started, cpu, served = time.perf_counter(), time.process_time(), cpu_seconds(url.pid)
            session.commit()
            totals.append(time.perf_counter() - started)
            client_cpu.append(time.process_time() - cpu)
            server_cpu.append(cpu_seconds(url.pid) - served)
            calls.append(timed.seconds)
            batches = timed.calls
            session.transport = timed.transport
            session.reset()  # the next run's session holds what a fresh script's would
    total, http = statistics.median(totals), statistics.median(calls)
    return {"commit_s": total, "http_s": http, "client_s": total - http, "batches": batches, "runs": totals,
            "client_cpu_s": statistics.median(client_cpu), "server_cpu_s": statistics.median(server_cpu)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--creates", type=int, default=10_000)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "http_commit.json")
    options = parser.parse_args()
    executable = ftrack_like()
    report: dict[str, Any] = {}
    for kind in options.databases.split(","):
        with scratch_database(kind) as database:
            with Backend.from_url(database) as backend:
                key = backend.auth.create_key("admin", "benchmark")
            with served_process(executable, database) as url:
                commit_runs(url, key, 100, 1, False)  # warm up: the server's first batches
                for pause_gc in (False, True):
                    row = report.setdefault(kind, {})["pause_gc" if pause_gc else "gc"] = commit_runs(
                        url, key, options.creates, options.repeat, pause_gc
                    )
                    print(f"{kind:10} {options.creates:,} creates, one commit over HTTP{' (pause_gc)' if pause_gc else '':11}: "
                          f"{row['commit_s']:.2f} s = HTTP {row['http_s']:.2f} s in {row['batches']} batch(es) "
                          f"+ client {row['client_s']:.2f} s (target 1.5 s for 10,000); CPU: client "
                          f"{row['client_cpu_s']:.2f} s, server {row['server_cpu_s']:.2f} s", flush=True)  # fmt: skip
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "http_commit", "creates": options.creates, **report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
