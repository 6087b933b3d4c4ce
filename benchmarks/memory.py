"""Memory a Session holds per entity: tasks queried with ``name, status.name, created_at``.

    python benchmarks/memory.py [--tasks 10000 100000] [--quick] [--against DIR]

Builds an embedded SQLite studio per size, then measures in a process of its own (so
nothing of one measurement counts in the next): a ``Session(server_url="sqlite:///…")``
loads its schemas and the statuses, then holds every task of
``select name, status.name, created_at from Task`` in a list. The figure is tracemalloc's
traced memory after the query minus before it (each after ``gc.collect()``), divided by
the tasks held: the entities, their values, the identity map's entries, the answer's
group — everything the session keeps for them. The Status entities are shared by all
the tasks and were loaded before. The largest allocation sites are listed per task.

``--against DIR`` measures the package of another checkout too, side by side (``git
archive main | tar -x -C DIR`` makes one). ``--quick``: 10,000 tasks only.

Figures to the terminal and to benchmarks/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

from scratch import tasks_through_a_session

HERE = pathlib.Path(__file__).resolve().parent
EXPRESSION = "select name, status.name, created_at from Task"

# Runs in a process of its own: argv is the database URL; prints one line of JSON.
MEASURE = """
import gc, json, os, sys, tracemalloc
from ftrack_like_api import Session

with Session(server_url=sys.argv[1], api_user="admin", schema_cache_path=False) as session:
    session.query(%(expression)r).first()  # schemas, classes, the backend's caches
    statuses = session.query("Status").all()
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.get_traced_memory()[0]
    first = tracemalloc.take_snapshot()
    held = session.query(%(expression)r).all()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    sites = tracemalloc.take_snapshot().compare_to(first, "lineno")
    tracemalloc.stop()
    root = os.path.dirname(os.path.dirname(__import__("ftrack_like_api").__file__))
    top = [[os.path.relpath(str(s.traceback[0].filename), root) + ":" + str(s.traceback[0].lineno),
            s.size_diff / len(held), s.count_diff] for s in sites[:8]]
    print(json.dumps({"tasks": len(held), "bytes_per_task": (after - before) / len(held),
                      "package": __import__("ftrack_like_api").__file__, "sites": top}))
"""


def measure(url: str, package_root: pathlib.Path | None) -> dict[str, Any]:
    environment = dict(os.environ)
    if package_root is not None:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package_root), environment.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", MEASURE % {"expression": EXPRESSION}, url],
                          capture_output=True, text=True, env=environment, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--quick", action="store_true", help="10,000 tasks only")
    parser.add_argument("--against", type=pathlib.Path, help="another checkout's root, measured side by side")
    parser.add_argument("--output", type=pathlib.Path, default=HERE / "results" / "memory.json")
    options = parser.parse_args()
    sizes = [10_000] if options.quick else options.tasks
    versions: dict[str, pathlib.Path | None] = {"this": None}
    if options.against is not None:
        versions["against"] = options.against.resolve()
    results: dict[str, Any] = {"expression": EXPRESSION, "sizes": {}}
    for tasks in sizes:
        with tempfile.TemporaryDirectory(prefix="memory-") as folder:
            url = f"sqlite:///{folder}/memory.db"
            start = time.perf_counter()
            tasks_through_a_session(url, tasks)
            print(f"{tasks:,} tasks built in {time.perf_counter() - start:.1f} s")
            figures = results["sizes"][str(tasks)] = {which: measure(url, root) for which, root in versions.items()}
        for which, figure in figures.items():
            print(f"  {which:8} {figure['bytes_per_task']:7.1f} bytes per task held ({figure['package']})")
            for site, size, count in figure["sites"]:
                print(f"             {size:7.1f}  {count:8,}  {site}")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "memory", **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
