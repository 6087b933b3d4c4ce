"""The cost of one request: filtered pages per second per worker, and a 75,000-row listing
against the database's own time for the same SQL.

    python benchmarks/request.py [--databases sqlite,postgresql] [--seconds 3] [--repeat 5] [--json PATH]

On each database (PostgreSQL is ``FTRACK_LIKE_TEST_POSTGRES``, in a schema of its own),
150,000 tasks are written with a bulk insert: two projects of 75 shots of 1,000 tasks.

1. Filtered pages of 100, each request on another shot (so no two texts are the same):
   ``select name, status.name from Task where parent_id is S limit 100``, and the same
   through a relation, ``… and status.name is "N" limit 100``. Pages per second of one
   caller for ``--seconds``: in-process (``Backend.execute`` and the JSON a transport
   writes) and over HTTP to ``ftrack-like serve --workers 1`` (one ``HttpTransport``).
2. ``select name, status.name from Task where project_id is X``: 75,000 rows, in-process,
   encoded to JSON as the HTTP answer is; against the database's own time for the SQL
   the reader sent, run straight through the driver (sqlite3 or psycopg) with every row
   fetched. Goal: at most 2x.

Medians; the table goes to the terminal, the figures (JSON) to ``--json`` (default
``benchmarks/results/request.json``). Run it on two checkouts to compare before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import sys
import time
from typing import Any, Callable

import sqlalchemy as sa

from backend import Studio
from ftrack_like_api.server import Backend
from ftrack_like_api.server.protocols.ftrack.answers import encoded
from ftrack_like_api.transport.http import HttpTransport
from scratch import scratch_database, served_process


def rate(call: Callable[[int], Any], seconds: float) -> dict[str, float]:
    """Calls per second of ``call(i)`` made one after another for ``seconds``, and the median call."""
    for i in range(20):  # warm up: the first calls build what later ones reuse
        call(i)
    times = []
    began = time.perf_counter()
    i = 0
    while time.perf_counter() - began < seconds:
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
        i += 1
    elapsed = time.perf_counter() - began
    return {"per_second": len(times) / elapsed, "median_ms": statistics.median(times) * 1000, "requests": len(times)}


def page_queries(studio: Studio, project: str) -> dict[str, Callable[[int], str]]:
    shots = [s["id"] for s in studio.query(f"select id from Shot where project_id is {project}")]
    statuses = [s["name"] for s in studio.query("select name from Status")]
    return {
        "page of 100 of a shot's tasks with status.name": lambda i: (
            f"select name, status.name from Task where parent_id is {shots[i % len(shots)]} limit 100"
        ),
        "the same, filtered through status.name": lambda i: (
            f"select name, status.name from Task where parent_id is {shots[i % len(shots)]} "
            f'and status.name is "{statuses[i % len(statuses)]}" limit 100'
        ),
    }


def in_process(backend: Backend, expression: Callable[[int], str], seconds: float) -> dict[str, float]:
    def call(i: int) -> None:
        answer = backend.execute([{"action": "query", "expression": expression(i)}], "admin")
        b"".join(encoded(answer))  # type: ignore[arg-type]

    return rate(call, seconds)


def over_http(url: str, key: str, expression: Callable[[int], str], seconds: float) -> dict[str, float]:
    transport = HttpTransport(url, "admin", key)
    try:
        return rate(lambda i: transport.handle([{"action": "query", "expression": expression(i)}]), seconds)
    finally:
        transport.close()


def listing(backend: Backend, project: str, repeat: int) -> dict[str, Any]:
    """The 75,000-row listing in-process (JSON included), and the same SQL straight through the driver."""
    expression = f"select name, status.name from Task where project_id is {project}"
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    def run() -> int:
        answer = backend.execute([{"action": "query", "expression": expression}], "admin")
        b"".join(encoded(answer))  # type: ignore[arg-type]
        return len(answer[0]["data"])  # type: ignore[index]

    rows = run()
    assert rows == 75_000, rows
    sa.event.listen(backend.engine, "before_cursor_execute", record)
    run()
    sa.event.remove(backend.engine, "before_cursor_execute", record)
    # The reader's own statements: what the batch sent that reads tasks and statuses.
    reads = [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT") and ("context" in s or "status" in s)]
    reads = [r for r in reads if "resource" not in r[0]]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    database = []
    raw = backend.engine.raw_connection()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            cursor = raw.cursor()
            fetched = 0
            for statement, parameters in reads:
                cursor.execute(statement, parameters)
                fetched += len(cursor.fetchall())
            cursor.close()
            database.append(time.perf_counter() - start)
        raw.rollback()
    finally:
        raw.close()
    ours, theirs = statistics.median(times), statistics.median(database)
    return {"what": "select name, status.name from Task where project_id is X (75,000 rows)",
            "seconds": ours, "database_seconds": theirs, "ratio": ours / theirs, "statements": len(reads),
            "database_rows": fetched}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each rate is measured")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the listing")
    parser.add_argument("--no-http", action="store_true", help="skip the served process")
    parser.add_argument("--json", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "request.json")
    options = parser.parse_args()
    executable = shutil.which("ftrack-like", path=os.path.dirname(sys.executable)) or shutil.which("ftrack-like")
    report: dict[str, Any] = {"benchmark": "request", "python": sys.version.split()[0], "results": {}}
    for kind in options.databases.split(","):
        result: dict[str, Any] = {"pages": []}
        with scratch_database(kind, prefix="request") as url:
            studio = Studio(kind, url)
            try:
                project = studio.bulk_tasks(150_000, projects=2, per_shot=1000)["project"]
                key = studio.backend.auth.create_key("admin", "bench")  # type: ignore[union-attr]
                queries = page_queries(studio, project)
                for label, expression in queries.items():
                    result["pages"].append(
                        {"what": label, "in_process": in_process(studio.backend, expression, options.seconds)}
                    )
                result["listing"] = listing(studio.backend, project, options.repeat)
            finally:
                studio.close()
            if not options.no_http and executable is not None:
                with served_process(executable, url, 1) as served:
                    for row, expression in zip(result["pages"], queries.values()):
                        row["http_one_worker"] = over_http(served, key, expression, options.seconds)
        report["results"][kind] = result
        print(f"\n{kind}")
        for row in result["pages"]:
            line = f"  {row['what']:50} in-process {row['in_process']['per_second']:6.0f}/s ({row['in_process']['median_ms']:.2f} ms)"
            if "http_one_worker" in row:
                line += f"   HTTP, 1 worker {row['http_one_worker']['per_second']:6.0f}/s ({row['http_one_worker']['median_ms']:.2f} ms)"
            print(line)
        listed = result["listing"]
        print(f"  {listed['what']:50} {listed['seconds'] * 1000:.0f} ms; the database's own "
              f"{listed['database_seconds'] * 1000:.0f} ms ({listed['statements']} statements): {listed['ratio']:.2f}x")  # fmt: skip
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
