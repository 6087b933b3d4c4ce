"""The cost of one request: filtered pages per second per worker, and a 75,000-row listing
against the database's own time for the same SQL.

    python benchmarks/request.py [--databases sqlite,postgresql] [--seconds 3] [--repeat 5] [--json PATH]

On each database (PostgreSQL is ``FTRACK_LIKE_TEST_POSTGRES``, in a schema of its own),
150,000 tasks are written with a bulk insert: two projects of 750 shots of 100 tasks.

1. Filtered pages of 100, each request on another shot (no two texts are the same, as
   when a studio's scripts ask for their own shots: a text seen before is cheaper):
   ``select name, status.name from Task where parent_id is S limit 100``, and the same
   through a relation, ``… and status.name is "N" limit 100``. Pages per second of one
   caller for ``--seconds``: in-process (``Backend.execute`` and the JSON a transport
   writes) and over HTTP to ``ftrack-like serve --workers 1`` (one ``HttpTransport``);
   per second of the clock, and per CPU second of the process that answers (this one, or
   the server's, read from /proc): the rate a worker keeps when it has a core to itself,
   which other work on a shared machine disturbs less than the clock.
2. ``select name, status.name from Task where project_id is X``: 75,000 rows, in-process,
   encoded to JSON as the HTTP answer is; against the database's own time for the SQL
   the reader sent, run straight through the driver (sqlite3 or psycopg) with every row
   fetched. Goal: at most 2x. Both with and without the JSON of the answer; for the compact
   answer this package's client asks for (``"compact": true``), and for ftrack's plain one,
   which the official client gets.

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
import subprocess
import sys
import time
import uuid
from typing import Any, Callable

import sqlalchemy as sa

from backend import Studio
from ftrack_like_api.server import Backend
from ftrack_like_api.server.protocols.ftrack.answers import encoded
from ftrack_like_api.transport.http import HttpTransport
from scratch import scratch_database, served_process


#: Different requests a rate is measured with at most (one shot each).
REQUESTS = 1480


def rate(call: Callable[[int], Any], seconds: float, cpu: Callable[[], float] = time.process_time) -> dict[str, float]:
    """Calls of ``call(i)`` made one after another for ``seconds`` (at most :data:`REQUESTS`): per
    second of the clock, and per second of CPU (``cpu()``: this process's by default), which
    other work on the machine disturbs less; and the median call."""
    for i in range(20):  # warm up: the first calls build what later ones reuse
        call(i)
    times = []
    began, used = time.perf_counter(), cpu()
    i = 0
    while time.perf_counter() - began < seconds and i < REQUESTS:
        start = time.perf_counter()
        call(i + 20)
        times.append(time.perf_counter() - start)
        i += 1
    elapsed, used = time.perf_counter() - began, cpu() - used
    return {"per_second": len(times) / elapsed, "per_cpu_second": len(times) / used if used else 0.0,
            "median_ms": statistics.median(times) * 1000, "requests": len(times)}  # fmt: skip


def page_queries(backend: Backend) -> dict[str, Callable[[int], str]]:
    def query(expression: str) -> list[dict[str, Any]]:
        return backend.execute([{"action": "query", "expression": expression}], "admin")[0]["data"]  # type: ignore[index,no-any-return]

    shots = [s["id"] for s in query("select id from Shot")]
    statuses = [s["name"] for s in query("select name from Status")]
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
    """The rate of one client; per CPU second of the server's process (read from /proc)."""
    transport = HttpTransport(url, "admin", key)
    pid = _server_pid(url)
    try:
        call = lambda i: transport.handle([{"action": "query", "expression": expression(i)}])  # noqa: E731
        return rate(call, seconds, (lambda: _cpu_of(pid)) if pid else lambda: 0.0)
    finally:
        transport.close()


def _server_pid(url: str) -> int | None:
    """The process listening at ``url`` (``ftrack-like serve --port N``), found in /proc; None elsewhere."""
    port = url.rsplit(":", 1)[1]
    for entry in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in words and b"--port" in words and words[words.index(b"--port") + 1] == port.encode():
            return int(entry.name)
    return None


def _cpu_of(pid: int) -> float:
    """Seconds of CPU the process ``pid`` has used (user and system)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listing(backend: Backend, project: str, repeat: int, compact: bool) -> dict[str, Any]:
    """The 75,000-row listing in-process (JSON included), and the same SQL straight through the driver;
    ``compact``: the answer in the compact form (this package's client), else ftrack's (the official client)."""
    expression = f"select name, status.name from Task where project_id is {project}"
    operation: dict[str, Any] = {"action": "query", "expression": expression, **({"compact": True} if compact else {})}
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    def execute() -> Any:
        return backend.execute([operation], "admin")

    def run() -> int:
        answer = execute()
        b"".join(encoded(answer))
        return len(answer[0]["data"])

    rows = run()
    assert rows == 75_000, rows
    sa.event.listen(backend.engine, "before_cursor_execute", record)
    run()
    sa.event.remove(backend.engine, "before_cursor_execute", record)
    # The reader's own statements: what the batch sent that reads tasks and statuses.
    reads = [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT") and ("context" in s or "status" in s)]
    reads = [r for r in reads if "resource" not in r[0]]
    times, executed = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        execute()
        executed.append(time.perf_counter() - start)
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
    ours, answered, theirs = statistics.median(times), statistics.median(executed), statistics.median(database)
    return {"what": f"select name, status.name from Task where project_id is X (75,000 rows, {'compact' if compact else 'plain'})",
            "seconds": ours, "execute_seconds": answered, "database_seconds": theirs, "ratio": ours / theirs,
            "execute_ratio": answered / theirs, "statements": len(reads), "database_rows": fetched}  # fmt: skip


def measure(url: str, seconds: float, repeat: int, http: bool) -> dict[str, Any]:
    """Every figure, on a database :func:`fill` filled, with the code this interpreter imports."""
    result: dict[str, Any] = {"pages": []}
    backend = Backend.from_url(url)
    try:
        project = backend.execute([{"action": "query", "expression": 'select id from Project where name is "bulk1"'}],
                                  "admin")[0]["data"][0]["id"]  # type: ignore[index]  # fmt: skip
        key = backend.auth.create_key("admin", f"bench-{uuid.uuid4().hex[:8]}")  # type: ignore[union-attr]
        queries = page_queries(backend)
        for label, expression in queries.items():
            result["pages"].append({"what": label, "in_process": in_process(backend, expression, seconds)})
        result["listing"] = listing(backend, project, repeat, compact=True)
        result["listing_plain"] = listing(backend, project, repeat, compact=False)
    finally:
        backend.close()
    executable = shutil.which("ftrack-like", path=os.path.dirname(sys.executable)) or shutil.which("ftrack-like")
    if http and executable is not None:
        with served_process(executable, url, 1) as served:
            for row, expression in zip(result["pages"], queries.values()):
                row["http_one_worker"] = over_http(served, key, expression, seconds)
    return result


def fill(kind: str, url: str) -> None:
    """150,000 tasks: two projects (bulk0, bulk1) of 750 shots of 100 tasks."""
    studio = Studio(kind, url)
    try:
        studio.bulk_tasks(150_000, projects=2, per_shot=100)
    finally:
        studio.close()


def medians(runs: list[Any]) -> Any:
    """One result of several of the same shape: the median of each number, the first of anything else."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: medians([r[k] for r in runs]) for k in first}
    if isinstance(first, list):
        return [medians([r[i] for r in runs]) for i in range(len(first))]
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return statistics.median(runs)
    return first


def show(result: dict[str, Any], against: dict[str, Any] | None) -> None:
    def ratio(key: str, ours: dict[str, Any], theirs: dict[str, Any] | None) -> str:
        return f" ({ours[key] / theirs[key]:.2f}x the other's {theirs[key]:.0f})" if theirs else ""

    for position, row in enumerate(result["pages"]):
        print(f"  {row['what']}")
        for way in ("in_process", "http_one_worker"):
            if way in row:
                got, other = row[way], against["pages"][position][way] if against else None
                print(f"    {way:16} {got['per_second']:5.0f}/s{ratio('per_second', got, other)}, "
                      f"{got['per_cpu_second']:5.0f} per CPU second{ratio('per_cpu_second', got, other)}, "
                      f"median {got['median_ms']:.2f} ms")  # fmt: skip
    for form in ("listing", "listing_plain"):
        if form not in result:
            continue
        listed = result[form]
        print(f"  {listed['what']}: {listed['execute_seconds'] * 1000:.0f} ms ({listed['execute_ratio']:.2f}x the "
              f"database's own {listed['database_seconds'] * 1000:.0f} ms, {listed['statements']} statements), "
              f"{listed['seconds'] * 1000:.0f} ms with its JSON ({listed['ratio']:.2f}x)")  # fmt: skip
        if against and form in against:
            theirs = against[form]
            print(f"    the other: {theirs['execute_seconds'] * 1000:.0f} ms ({theirs['execute_ratio']:.2f}x), "
                  f"{theirs['seconds'] * 1000:.0f} ms with its JSON ({theirs['ratio']:.2f}x)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each rate is measured")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the listing")
    parser.add_argument("--no-http", action="store_true", help="skip the served process")
    parser.add_argument("--against", metavar="PYTHON", help="another checkout's interpreter, measured on the same data")
    parser.add_argument("--rounds", type=int, default=3, help="with --against: runs of each, taken in turns")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # one run on a filled database: JSON out
    parser.add_argument("--json", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "request.json")
    options = parser.parse_args()
    if options.measure:
        print(json.dumps(measure(options.measure, options.seconds, options.repeat, not options.no_http)))
        return 0
    report: dict[str, Any] = {"benchmark": "request", "python": sys.version.split()[0], "against": options.against,
                              "results": {}}  # fmt: skip
    for kind in options.databases.split(","):
        with scratch_database(kind, prefix="request") as url:
            fill(kind, url)
            if options.against is None:
                result, against, runs = measure(url, options.seconds, options.repeat, not options.no_http), None, {}
            else:
                runs = {"this": [], "against": []}
                command = [
                    __file__,
                    "--measure",
                    url,
                    "--seconds",
                    str(options.seconds),
                    "--repeat",
                    str(options.repeat),
                ]
                command += ["--no-http"] if options.no_http else []
                for _ in range(options.rounds):  # in turns, so that what else the machine does falls on both
                    for side, python in (("against", options.against), ("this", sys.executable)):
                        done = subprocess.run([python, *command], capture_output=True, text=True, check=True)
                        runs[side].append(json.loads(done.stdout))
                result, against = medians(runs["this"]), medians(runs["against"])
        report["results"][kind] = {"this": result, "against": against, "runs": runs}
        print(
            f"\n{kind}"
            + (f" (medians of {options.rounds} runs each, in turns with {options.against})" if against else "")
        )
        show(result, against)
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
