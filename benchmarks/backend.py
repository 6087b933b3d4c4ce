"""Backend benchmarks on SQLite and PostgreSQL, against the targets of PERFORMANCE.md.

    python benchmarks/backend.py [--databases sqlite,postgresql] [--large 1000000] [--repeat 5]

1. One batch of 10,000 creates (Tasks under one shot), through ``Backend.execute`` with
   the JSON encoding and decoding a transport does. Target: <= 1.5 s end to end. And
   one batch of 10,000 creates of a production tree (sequences, shots, tasks, their
   assignments, assets, versions, interleaved as a script records them), same target.
2. ``select name, status.name from Task where project_id is X`` over 75,000 tasks of one
   project (created through the API in batches). Target: <= 0.5 s server time.
4. ``--only events``: what the ``ftrack.update`` events cost a batch that writes — one
   batch of 10,000 task creates and one of 1,000 task updates (status and name), each run
   with its events appended and without (the append skipped), alternating, medians side by
   side.
3. With ``--large`` tasks stored (default 1,000,000, written with a bulk insert, not
   through the API), a filtered page of 100 on indexed columns. Target: median <= 20 ms.

PostgreSQL is the server at ``FTRACK_LIKE_TEST_POSTGRES`` (default
postgresql://postgres@127.0.0.1:5432/test), in a schema of its own, dropped afterwards.
Figures are medians of ``--repeat`` runs; the table goes to the terminal, the figures to
``benchmarks/results/backend.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import random
import statistics
import sys
import time
import uuid
from typing import Any, Callable

from ftrack_like_api.server import Backend
from ftrack_like_api.server.engine.seed import OBJECT_TYPES
from scratch import scratch_database
TASK_TYPE_ID = OBJECT_TYPES["Task"][0]
SHOT_TYPE_ID = OBJECT_TYPES["Shot"][0]


def timed(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


class Studio:
    """A backend on a fresh database, with helpers to fill it."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self.backend = Backend.from_url(url)
        self.schema_id = self.query("ProjectSchema")[0]["id"]
        self.statuses = [s["id"] for s in self.query("Status")]
        self.types = [t["id"] for t in self.query("Type")]
        self.admin = self.query('User where username is "admin"')[0]["id"]

    def close(self) -> None:
        self.backend.close()

    def execute(self, operations: list[dict[str, Any]]) -> Any:
        # What a transport does: JSON in, JSON out.
        answer = self.backend.execute(json.loads(json.dumps(operations)), "admin")
        json.dumps(answer)
        if not isinstance(answer, list):
            raise RuntimeError(answer)
        return answer

    def query(self, expression: str) -> list[dict[str, Any]]:
        return self.execute([{"action": "query", "expression": expression}])[0]["data"]

    def create(self, entity_type: str, **data: Any) -> dict[str, Any]:
        data.setdefault("id", str(uuid.uuid4()))
        return {"action": "create", "entity_type": entity_type, "entity_key": [data["id"]], "entity_data": data}

    def project(self, name: str) -> str:
        return self.execute([self.create("Project", name=name, project_schema_id=self.schema_id)])[0]["data"]["id"]

    def shot(self, project: str, name: str) -> str:
        return self.execute([self.create("Shot", name=name, parent_id=project)])[0]["data"]["id"]

    def bulk_tasks(self, total: int, projects: int = 10, per_shot: int = 100) -> dict[str, Any]:
        """Write ``total`` tasks straight into the table (the bulk path), under shots of several projects."""
        storage = self.backend.storage
        context = storage.tables["context"]
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        sample: dict[str, Any] = {}
        rng = random.Random(7)
        project_ids = [self.project(f"bulk{p}") for p in range(projects)]
        shots_per_project = max(1, total // (projects * per_shot))
        rows: list[dict[str, Any]] = []
        with self.backend.engine.begin() as connection:

            def flush() -> None:
                if rows:
                    connection.execute(context.insert(), rows)
                    rows.clear()

            for project in project_ids:
                for s in range(shots_per_project):
                    shot = str(uuid.uuid4())
                    rows.append({
                        "id": shot, "name": f"sh{s:05d}", "context_type": "task", "object_type_id": SHOT_TYPE_ID,
                        "parent_id": project, "project_id": project, "status_id": self.statuses[0],
                        "type_id": self.types[0], "priority_id": "9661b320-3a0c-11e2-81c1-0800200c9a66",
                        "bid": 0, "sort": s, "created_at": now, "created_by_id": self.admin,
                    })  # fmt: skip
                    flush()
                    for t in range(per_shot):
                        rows.append({
                            "id": str(uuid.uuid4()), "name": f"task{t:03d}", "context_type": "task",
                            "object_type_id": TASK_TYPE_ID, "parent_id": shot, "project_id": project,
                            "status_id": rng.choice(self.statuses), "type_id": rng.choice(self.types),
                            "priority_id": "9661b320-3a0c-11e2-81c1-0800200c9a66", "bid": rng.random() * 10,
                            "sort": t, "created_at": now, "created_by_id": self.admin,
                        })  # fmt: skip
                    if len(rows) >= 5000:
                        flush()
                    sample = {"project": project, "shot": shot}
            flush()
        with self.backend.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE context")  # not the whole database: other schemas may hold locks
        return sample


def bench_creates(studio: Studio, repeat: int) -> dict[str, Any]:
    project = studio.project("creates")

    def run() -> None:
        shot = studio.shot(project, f"sh{uuid.uuid4().hex[:6]}")
        studio.execute([studio.create("Task", name=f"t{i}", parent_id=shot) for i in range(10_000)])

    seconds, _ = timed(run, repeat)
    return {"what": "one batch of 10,000 creates", "seconds": seconds, "target_seconds": 1.5}


def bench_events_cost(studio: Studio, repeat: int) -> list[dict[str, Any]]:
    """Batches with their ftrack.update events and without (the append skipped), run alternately."""
    project = studio.project("events")
    backend = studio.backend
    with_events = backend._append_updates
    shot = studio.shot(project, "updated")
    tasks = [row["data"]["id"] for row in studio.execute([studio.create("Task", name=f"u{i}", parent_id=shot)
                                                          for i in range(1_000)])]  # fmt: skip
    flip = iter(range(1_000_000))

    def creates() -> None:
        parent = studio.shot(project, f"sh{uuid.uuid4().hex[:6]}")
        studio.execute([studio.create("Task", name=f"t{i}", parent_id=parent) for i in range(10_000)])

    def updates() -> None:
        n = next(flip)
        studio.execute([{"action": "update", "entity_type": "Task", "entity_key": [task],
                         "entity_data": {"status_id": studio.statuses[(n + i) % len(studio.statuses)], "name": f"u{i}-{n}"}}
                        for i, task in enumerate(tasks)])  # fmt: skip

    rows = []
    for what, run in (("one batch of 10,000 task creates", creates), ("one batch of 1,000 task updates", updates)):
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(repeat):
            for events in (True, False):
                backend._append_updates = with_events if events else (lambda batch, source: [])  # type: ignore[method-assign]
                start = time.perf_counter()
                run()
                times[events].append(time.perf_counter() - start)
        backend._append_updates = with_events  # type: ignore[method-assign]
        on, off = statistics.median(times[True]), statistics.median(times[False])
        rows.append({"what": what, "with_events_seconds": on, "without_events_seconds": off, "ratio": on / off})
    return rows


def tree_operations(studio: Studio, project: str, total: int = 10_000) -> list[dict[str, Any]]:
    """A production tree as a pipeline script builds one: per shot, three tasks, their
    assignments, a comp asset and two versions of it; ten shots to a sequence."""
    asset_type = studio.query('AssetType where short is "comp"')[0]["id"]
    operations: list[dict[str, Any]] = []
    s = 0
    while len(operations) < total:
        sequence = studio.create("Sequence", name=f"sq{s:04d}", parent_id=project)
        operations.append(sequence)
        for h in range(10):
            shot = studio.create("Shot", name=f"sq{s:04d}_sh{h:03d}", parent_id=sequence["entity_key"][0])
            shot_id = shot["entity_key"][0]
            operations.append(shot)
            for name in ("comp", "anim", "light"):
                task = studio.create("Task", name=name, parent_id=shot_id)
                operations += [task, studio.create("Appointment", type="assignment", context_id=task["entity_key"][0],
                                                   resource_id=studio.admin)]  # fmt: skip
            asset = studio.create("Asset", name=f"sq{s:04d}_sh{h:03d}_comp", context_id=shot_id, type_id=asset_type)
            operations.append(asset)
            operations += [studio.create("AssetVersion", asset_id=asset["entity_key"][0]) for _ in range(2)]
        s += 1
    return operations[:total]


def bench_tree_creates(studio: Studio, repeat: int) -> dict[str, Any]:
    def run() -> None:
        studio.execute(tree_operations(studio, studio.project(f"tree{uuid.uuid4().hex[:6]}")))

    seconds, _ = timed(run, repeat)
    return {"what": "one batch of 10,000 creates of a tree (shots, tasks, assignments, assets, versions)",
            "seconds": seconds, "target_seconds": 1.5}  # fmt: skip


def bench_project_listing(studio: Studio, repeat: int) -> dict[str, Any]:
    project = studio.project("listing")
    for s in range(75):
        shot = studio.shot(project, f"sh{s:03d}")
        studio.execute([studio.create("Task", name=f"t{t:04d}", parent_id=shot) for t in range(1_000)])
    expression = f"select name, status.name from Task where project_id is {project}"
    seconds, rows = timed(lambda: studio.backend.execute([{"action": "query", "expression": expression}], "admin"), repeat)
    count = len(rows[0]["data"])
    assert count == 75_000, count
    return {"what": "select name, status.name from Task where project_id is X (75,000 rows)", "seconds": seconds,
            "target_seconds": 0.5}  # fmt: skip


def bench_large_pages(studio: Studio, large: int, repeat: int) -> list[dict[str, Any]]:
    start = time.perf_counter()
    sample = studio.bulk_tasks(large)
    loaded = time.perf_counter() - start
    total = studio.backend.execute([{"action": "query", "expression": "select count(id) from Task"}], "admin")
    stored = total[0]["data"][0]["count_id"]
    approved = studio.query('Status where name is "Approved"')[0]["id"]
    queries = {
        "page of a shot's tasks with status.name": f"select name, status.name from Task where parent_id is {sample['shot']} limit 100",
        "page of a project's tasks": f"select name from Task where project_id is {sample['project']} limit 100",
        "page by project and status, ordered by name": f"select name from Task where project_id is {sample['project']} "
        f"and status_id is {approved} order by name limit 100",
        "by name across the studio": 'select name, parent.name from Task where name is "task042" limit 100',
    }  # fmt: skip
    results = []
    for label, expression in queries.items():
        operation = [{"action": "query", "expression": expression}]
        seconds, answer = timed(lambda: studio.backend.execute(operation, "admin"), max(repeat, 20))
        results.append({"what": f"{label} ({stored:,} tasks stored)", "seconds": seconds, "target_seconds": 0.020,
                        "rows": len(answer[0]["data"]), "load_seconds": loaded})  # fmt: skip
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--large", type=int, default=1_000_000, help="tasks stored for the paging benchmark")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["creates", "events"], help="run only the create benchmarks, or the events' cost")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "backend.json")
    options = parser.parse_args()

    report: dict[str, Any] = {"benchmark": "backend", "python": sys.version.split()[0], "results": {}}
    for kind in options.databases.split(","):
        rows = []
        with scratch_database(kind) as url:
            studio = Studio(kind, url)
            try:
                if options.only == "events":
                    rows = bench_events_cost(studio, options.repeat)
                    report["results"][kind] = rows
                    print(f"\n{kind}")
                    for row in rows:
                        print(f"  {row['what']:40} with events {row['with_events_seconds'] * 1000:8.1f} ms, without "
                              f"{row['without_events_seconds'] * 1000:8.1f} ms: x{row['ratio']:.2f}")  # fmt: skip
                    continue
                rows.append(bench_creates(studio, options.repeat))
                rows.append(bench_tree_creates(studio, options.repeat))
                if options.only != "creates":
                    rows.append(bench_project_listing(studio, options.repeat))
                    rows.extend(bench_large_pages(studio, options.large, options.repeat))
            finally:
                studio.close()
        report["results"][kind] = rows
        print(f"\n{kind}")
        for row in rows:
            verdict = "ok" if row["seconds"] <= row["target_seconds"] else "SLOWER than target"
            print(f"  {row['what']:90} {row['seconds'] * 1000:9.1f} ms  (target {row['target_seconds'] * 1000:.0f} ms) {verdict}")
        load = next((r["load_seconds"] for r in rows if "load_seconds" in r), None)
        if load is not None:
            print(f"  (bulk load of the large table: {load:.1f} s)")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
