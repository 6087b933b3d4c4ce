"""The scale curve: what a studio of 10k, 100k and 1M tasks costs, over HTTP, on SQLite and PostgreSQL.

    python benchmarks/scale.py [--quick] [--sizes 10000,100000,1000000] [--databases sqlite,postgresql]
                               [--database URL] [--repeat 5] [--budget 30] [--plans] [--json PATH]

For each database and size, a new database is filled with that many tasks (written straight
into the table, 100 to a shot, at most 100,000 to a project), analysed, and served by
``ftrack-like serve`` as its own process (one worker, on 127.0.0.1). Then, over HTTP:

- **page**: a filtered page of 100 (``select name, status.name from Task where project_id is P
  and status_id is S limit 100``), one request;
- **list**: one project's tasks (``select name, status.name from Task where project_id is P``)
  through a Session, every page (500 rows each) merged — the project holds
  min(size, 100,000) tasks;
- **count**: ``select count(id) from Task``, one request;
- **deep offset**: ``select name from Task order by name offset K limit 100`` with K = 50,000
  (half the studio below 100,000 tasks), one request;
- **commit**: one changed name committed through a Session.

Each figure is the median of up to ``--repeat`` runs, fewer when one measure has used up
``--budget`` seconds (the slow listings of the offset-paged code). The table goes to the
terminal and to ``--json`` (default ``benchmarks/results/scale.json``). ``--quick`` is 10k
and 100k. ``--plans`` adds how the database runs the deep offset and an ordered page
(EXPLAIN of the main statement, in-process on the same database).

The code measured is the one Python imports: run the script with another checkout's
interpreter (``/path/to/checkout/.venv/bin/python benchmarks/scale.py``) to measure that
checkout; its ``ftrack-like`` beside that interpreter serves.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import pathlib
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any, Callable

import requests

import ftrack_like_api
from ftrack_like_api.server import Backend
from ftrack_like_api.server.engine.seed import OBJECT_TYPES
from ftrack_like_api.server.engine.storage import insert_rows
from ftrack_like_api.session import Session
from scratch import POSTGRES, scratch_database, served_process

log = logging.getLogger("scale")

TASK_TYPE_ID = OBJECT_TYPES["Task"][0]
SHOT_TYPE_ID = OBJECT_TYPES["Shot"][0]
PRIORITY_ID = "9661b320-3a0c-11e2-81c1-0800200c9a66"
#: Tasks to a shot, and at most to a project.
PER_SHOT, PER_PROJECT = 100, 100_000
DEEP_OFFSET = 50_000


def measure(function: Callable[[], Any], repeat: int, budget: float) -> tuple[float, int, Any]:
    """The median seconds of ``function`` over up to ``repeat`` runs (fewer past ``budget`` seconds), runs, last result."""
    times: list[float] = []
    result = None
    while len(times) < repeat and sum(times) < budget:
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(times), result


def fill(url: str, size: int) -> dict[str, Any]:
    """Write ``size`` tasks (and their shots and projects) into the new database at ``url``; what a run needs of it."""
    rng = random.Random(7)
    with Backend.from_url(url) as backend:
        def query(expression: str) -> list[dict[str, Any]]:
            answer = backend.execute([{"action": "query", "expression": expression}], "admin")
            if not isinstance(answer, list):
                raise RuntimeError(answer)
            return answer[0]["data"]

        schema_id = query("ProjectSchema")[0]["id"]
        statuses = [s["id"] for s in query("Status")]
        types = [t["id"] for t in query("Type")]
        admin = query('User where username is "admin"')[0]["id"]
        key = backend.auth.create_key("admin", "scale benchmark")
        context = backend.storage.tables["context"]
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        projects: list[str] = []
        rows: list[dict[str, Any]] = []
        written = 0
        with backend.engine.begin() as connection:
            def flush() -> None:
                insert_rows(connection, context, rows, 1000)
                rows.clear()

            while written < size:
                project = str(uuid.uuid4())
                projects.append(project)
                rows.append({"id": project, "name": f"p{len(projects):03d}", "full_name": f"Project {len(projects)}",
                             "context_type": "show", "project_id": project, "project_schema_id": schema_id,
                             "status": "active", "is_global": False, "is_private": False, "root": "",
                             "created_at": now, "created_by_id": admin})  # fmt: skip
                flush()
                in_project = min(PER_PROJECT, size - written)
                for s in range((in_project + PER_SHOT - 1) // PER_SHOT):
                    shot = str(uuid.uuid4())
                    rows.append({"id": shot, "name": f"sh{s:05d}", "context_type": "task", "object_type_id": SHOT_TYPE_ID,
                                 "parent_id": project, "project_id": project, "status_id": statuses[0], "type_id": types[0],
                                 "priority_id": PRIORITY_ID, "bid": 0, "sort": s, "created_at": now,
                                 "created_by_id": admin})  # fmt: skip
                    for t in range(min(PER_SHOT, in_project - s * PER_SHOT)):
                        rows.append({"id": str(uuid.uuid4()), "name": f"task{rng.randrange(10**6):06d}",
                                     "context_type": "task", "object_type_id": TASK_TYPE_ID, "parent_id": shot,
                                     "project_id": project, "status_id": rng.choice(statuses), "type_id": rng.choice(types),
                                     "priority_id": PRIORITY_ID, "bid": rng.random() * 10, "sort": t, "created_at": now,
                                     "created_by_id": admin})  # fmt: skip
                    if len(rows) >= 10_000:
                        flush()
                flush()
                written += in_project
        with backend.engine.begin() as connection:  # the planner's statistics, as autovacuum / PRAGMA optimize keep them
            connection.exec_driver_sql("ANALYZE")
        listed = min(size, PER_PROJECT)
        status = query(f"select status_id from Task where project_id is {projects[0]} limit 1")[0]["status_id"]
    return {"key": key, "project": projects[0], "listed": listed, "status": status}


def run_size(
    kind: str, url: str, size: int, executable: str, repeat: int, budget: float, explain: bool = False
) -> dict[str, Any]:
    start = time.perf_counter()
    studio = fill(url, size)
    filled = time.perf_counter() - start
    log.info("%s: %s tasks written in %.1f s", kind, f"{size:,}", filled)
    key, project = studio["key"], studio["project"]
    with served_process(executable, url) as server:
        http = requests.Session()
        http.headers.update({"ftrack-user": "admin", "ftrack-api-key": key, "content-type": "application/json"})

        def one(expression: str) -> list[Any]:
            answer = http.post(f"{server}/api", data=json.dumps([{"action": "query", "expression": expression}]))
            answer.raise_for_status()
            body = answer.json()
            if not isinstance(body, list):
                raise RuntimeError(body)
            return body[0]["data"]

        def session() -> Session:
            opened = Session(server_url=server, api_user="admin", api_key=key, schema_cache_path=False, auto_populate=False)
            _ = opened.types  # the schemas, before the clock starts
            return opened

        page = f"select name, status.name from Task where project_id is {project} and status_id is {studio['status']} limit 100"
        offset = min(DEEP_OFFSET, size // 2)
        results: dict[str, Any] = {"database": kind, "tasks": size, "listed": studio["listed"], "fill_seconds": filled,
                                   "deep_offset": offset}  # fmt: skip
        one(page)  # warm
        results["page_s"], results["page_runs"], rows = measure(lambda: one(page), max(repeat, 20), budget)
        assert len(rows) == 100, len(rows)

        def listing() -> int:
            with session() as reader:
                return len(reader.query(f"select name, status.name from Task where project_id is {project}").all())

        results["list_s"], results["list_runs"], listed = measure(listing, repeat, budget)
        assert listed == studio["listed"], (listed, studio["listed"])
        results["count_s"], results["count_runs"], counted = measure(lambda: one("select count(id) from Task"), repeat, budget)
        assert counted[0]["count_id"] == size, counted
        deep = f"select name from Task order by name offset {offset} limit 100"
        results["deep_offset_s"], results["deep_offset_runs"], _ = measure(lambda: one(deep), repeat, budget)
        with session() as writer:
            task = writer.query(f"select name from Task where project_id is {project}").first()
            assert task is not None

            def commit() -> None:
                task["name"] = f"renamed{uuid.uuid4().hex[:6]}"
                writer.commit()

            results["commit_s"], results["commit_runs"], _ = measure(commit, max(repeat, 5), budget)
        http.close()
    if explain:
        results["plans"] = plans(url, [deep, f"select name from Task where project_id is {project} order by name limit 500"])
    return results


def plans(url: str, expressions: list[str]) -> dict[str, str]:
    """How the database runs each query: its main statement's plan (EXPLAIN), by expression."""
    import sqlalchemy as sa

    found = {}
    with Backend.from_url(url) as backend:
        for expression in expressions:
            statements: list[tuple[str, Any]] = []

            def keep(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
                statements.append((statement, parameters))

            sa.event.listen(backend.engine, "before_cursor_execute", keep)
            try:
                backend.execute([{"action": "query", "expression": expression}], "admin")
            finally:
                sa.event.remove(backend.engine, "before_cursor_execute", keep)
            statement, parameters = next((s, p) for s, p in statements if "FROM context" in s and "ORDER BY" in s)
            with backend.engine.connect() as connection:
                raw = connection.connection.driver_connection
                if connection.dialect.name == "sqlite":
                    lines = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
                else:
                    with raw.cursor() as cursor:
                        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement, parameters)
                        lines = [row[0] for row in cursor.fetchall()]
            found[expression] = "\n".join(lines)
    return found


def code_version() -> str:
    folder = pathlib.Path(ftrack_like_api.__file__).resolve().parent.parent
    try:
        described = subprocess.run(["git", "-C", str(folder), "describe", "--always", "--dirty"], capture_output=True,
                                   text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        described = "unknown"
    return f"{folder} at {described}"


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'database':10} {'tasks':>9} {'page of 100':>12} {'list (rows)':>22} {'µs/row':>7} {'count':>9} "
             f"{'deep offset':>17} {'commit':>9}"]  # fmt: skip
    for r in results:
        lines.append(
            f"{r['database']:10} {r['tasks']:>9,} {r['page_s'] * 1000:>9.1f} ms {r['list_s']:>9.2f} s ({r['listed']:>7,}) "
            f"{r['list_s'] / r['listed'] * 1e6:>7.1f} {r['count_s'] * 1000:>6.1f} ms "
            f"{r['deep_offset_s'] * 1000:>7.1f} ms ({r['deep_offset']:>5,}) {r['commit_s'] * 1000:>6.1f} ms"
        )  # fmt: skip
    return "\n".join(lines)


def ratios(results: list[dict[str, Any]]) -> dict[str, float]:
    """Per database: what listing 100,000 costs against listing 10,000 (linear is 10x)."""
    found = {}
    for kind in dict.fromkeys(r["database"] for r in results):
        by_listed = {r["listed"]: r["list_s"] for r in results if r["database"] == kind}
        if 10_000 in by_listed and 100_000 in by_listed:
            found[kind] = by_listed[100_000] / by_listed[10_000]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="tasks in the studio, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 tasks only")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--database", default=POSTGRES, help="the PostgreSQL server (a schema of its own is made there)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure at most; the median is reported")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds one figure may take before its runs stop")
    parser.add_argument("--plans", action="store_true", help="also show how the database runs the deep offset")
    parser.add_argument("--json", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "scale.json",
                        help="write the figures to this file (default: benchmarks/results/scale.json)")  # fmt: skip
    parser.add_argument("--ftrack-like", default=str(pathlib.Path(sys.executable).with_name("ftrack-like")),
                        help="the command that serves (default: the one beside this Python)")  # fmt: skip
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sizes = [10_000, 100_000] if options.quick else [int(s) for s in options.sizes.split(",")]
    code = code_version()
    log.info("measuring %s, sizes %s", code, ", ".join(f"{s:,}" for s in sizes))
    results = []
    for kind in options.databases.split(","):
        for size in sizes:
            with scratch_database(kind, options.database, prefix="scale") as url:
                results.append(run_size(kind, url, size, options.ftrack_like, options.repeat, options.budget, options.plans))
            log.info("%s", table(results[-1:]).splitlines()[-1])
            for expression, plan in results[-1].get("plans", {}).items():
                log.info("%s\n  %s", expression, plan.replace("\n", "\n  "))
    print(table(results))
    found = ratios(results)
    for kind, ratio in found.items():
        print(f"{kind}: listing 100,000 tasks costs {ratio:.1f}x listing 10,000 (linear is 10x; the goal at most 15x)")
    if options.json:  # always, unless given as empty
        options.json.parent.mkdir(parents=True, exist_ok=True)
        conditions = {"code": code, "python": platform.python_version(), "machine": platform.machine(),
                      "repeat": options.repeat, "budget_s": options.budget, "when": datetime.datetime.now().isoformat()}  # fmt: skip
        options.json.write_text(json.dumps({"conditions": conditions, "results": results, "list_100k_over_10k": found},
                                           indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
