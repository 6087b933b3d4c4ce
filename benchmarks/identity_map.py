"""Memory a Session keeps after walking a large project and dropping what it read.

    python benchmarks/identity_map.py [--tasks 100000]

Builds an embedded SQLite studio with ``--tasks`` tasks, then through a Session on it
(in-process transport):

- walks every task (``select name from Task``, pages of 500), reading each name and
  keeping none: the memory still held afterwards (tracemalloc, after ``gc.collect()``)
  and how many entities the identity map still has;
- walks again keeping every task in a list: the memory that holds them, for contrast;
- changes one task and drops it: it must still be there (held until commit).

Dead keys leave the map on its next add once they are many, or on ``len()``: the
figure after dropping the list is before that, and once more after.

Figures to the terminal and to benchmarks/results/identity_map.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import pathlib
import sys
import tempfile
import time
import tracemalloc
from typing import Any

from ftrack_like_api import Session
from scratch import tasks_through_a_session


def held() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "identity_map.json")
    options = parser.parse_args()
    results: dict[str, Any] = {"tasks": options.tasks}
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        start = time.perf_counter()
        tasks_through_a_session(url, options.tasks)
        results["build_s"] = time.perf_counter() - start
        with Session(server_url=url, api_user="admin", schema_cache_path=False) as session:
            session.query("select name from Task").first()  # schemas, classes, the backend's caches
            tracemalloc.start()
            before = held()
            start = time.perf_counter()
            walked = 0
            for task in session.query("select name from Task"):
                walked += len(task["name"])  # read, keep nothing
            results["walk_s"] = time.perf_counter() - start
            results["walked_and_dropped_bytes"] = held() - before
            results["entities_left_in_map"] = len(session.identity_map)

            kept = session.query("select name from Task").all()
            results["kept_bytes"] = held() - before
            results["kept_bytes_per_task"] = results["kept_bytes"] / len(kept)
            results["entities_in_map_while_kept"] = len(session.identity_map)

            changed = kept[0]
            changed["name"] = "changed"
            identity = changed.identity
            del kept, changed, task
            results["after_dropping_kept_bytes"] = held() - before
            results["entities_left_after_dropping"] = len(session.identity_map)  # sweeps the dead keys out
            results["after_sweep_bytes"] = held() - before
            results["changed_task_still_held"] = session.identity_map.get(identity) is not None
            tracemalloc.stop()

    rows = [
        (f"walk {options.tasks:,} tasks, keep none", results["walk_s"] * 1000, "ms"),
        ("  memory still held after it", results["walked_and_dropped_bytes"] / 1e6, "MB"),
        ("  entities left in the identity map", results["entities_left_in_map"], ""),
        (f"keep all {options.tasks:,} in a list", results["kept_bytes"] / 1e6, "MB"),
        ("  per task", results["kept_bytes_per_task"], "bytes"),
        ("drop the list (one task changed)", results["after_dropping_kept_bytes"] / 1e6, "MB"),
        ("  entities left in the identity map", results["entities_left_after_dropping"], ""),
        ("  memory once the map swept its dead keys", results["after_sweep_bytes"] / 1e6, "MB"),
    ]
    for label, value, unit in rows:
        print(f"  {label:45} {value:12.1f} {unit}")
    print(f"  the changed task is still held: {results['changed_task_still_held']}")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "identity_map", **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
