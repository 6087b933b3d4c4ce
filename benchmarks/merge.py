"""The client's merge of a whole project against decoding the same answers with the standard library.

    python benchmarks/merge.py [--tasks 75000] [--repeat 7]

Issue 23's client ratio: "merging within 2x of decoding the same JSON with the standard
library". A project of ``--tasks`` tasks (shots of 100) is written straight into a new SQLite
database; ``select name, status.name, parent.name from Task where project_id is P`` is listed
once with ``all()`` by a default Session over a recording transport, keeping the JSON text of
each answer (the compact answers our client negotiates). Then, in turns, each in a process
state alike (the previous run's objects dropped, ``gc.collect()`` first):

- ``json.loads`` of those texts, the results held as the merge holds its entities;
- a new default Session listing the project from answers decoded beforehand (the merge alone:
  what the Session does once the transport has decoded an answer);
- the same with ``Session(pause_gc=False)`` (the cyclic collector left running while it merges).

Wall time and CPU, and the time inside the cyclic collector (``gc.callbacks``); medians. The
figures go to ``--json`` (default ``benchmarks/results/merge.json``).
"""

from __future__ import annotations

import argparse
import gc
import json
import pathlib
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

from backend import Studio
from ftrack_like_api import Session
from replay import Recording, Replay

EXPRESSION = "select name, status.name, parent.name from Task where project_id is {project}"


class CollectorClock:
    """Seconds spent in the cyclic collector and collections by generation, while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began
            self.collections[info["generation"]] += 1

    def __enter__(self) -> CollectorClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: Any) -> None:
        gc.callbacks.remove(self)


def record(tasks: int) -> tuple[dict[str, str], str]:
    """The answers a default Session's ``all()`` of the project got, and the expression."""
    with tempfile.TemporaryDirectory(prefix="merge-") as folder:
        url = f"sqlite:///{folder}/merge.db"
        studio = Studio("sqlite", url)
        project = studio.bulk_tasks(tasks, projects=1)["project"]
        studio.close()
        expression = EXPRESSION.format(project=project)
        recording = Recording(url)
        with Session(server_url=url, api_user="admin", transport=recording, schema_cache_path=False) as session:
            found = session.query(expression).all()
            assert len(found) == tasks, len(found)
        recording.close()
        return recording.recorded, expression


def timed(run: Callable[[], Any]) -> dict[str, float]:
    """One run of ``run`` from a collected heap: wall, CPU and collector seconds (its result held till then)."""
    gc.collect()
    with CollectorClock() as clock:
        wall, cpu = time.perf_counter(), time.process_time()
        kept = run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    del kept
    return {"wall_s": wall, "cpu_s": cpu, "gc_s": clock.seconds, "full_collections": clock.collections[2]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=75_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "merge.json")
    options = parser.parse_args()

    recorded, expression = record(options.tasks)
    listing = {key: text for key, text in recorded.items() if '"query"' in key and "project_id" in key}
    print(f"{options.tasks:,} tasks: {len(listing)} pages, {sum(map(len, listing.values())) / 1e6:.1f} MB of JSON")

    def session(pause_gc: bool) -> Callable[[], Any]:
        def run() -> Any:
            return made.query(expression).all()

        # Made, with its schemas and the answers decoded, before the clock starts.
        made = Session(server_url="sqlite:///unused", api_user="admin", schema_cache_path=False, pause_gc=pause_gc,
                       transport=Replay(recorded, decoded={key: json.loads(text) for key, text in listing.items()}))  # fmt: skip
        _ = made.types
        return run

    measures: dict[str, Callable[[], Callable[[], Any]]] = {
        "json.loads": lambda: lambda: [json.loads(text) for text in listing.values()],
        "merge": lambda: session(True),
        "merge, no pause": lambda: session(False),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in measures}
    for _ in range(options.repeat):
        for name, prepare in measures.items():
            runs[name].append(timed(prepare()))
    results = {name: {key: statistics.median(run[key] for run in done) for key in done[0]} for name, done in runs.items()}
    base = results["json.loads"]["wall_s"]
    print(f"  {'measure':18} {'wall':>9} {'CPU':>9} {'collector':>10} {'full':>5}  over json.loads")
    for name, figures in results.items():
        print(f"  {name:18} {figures['wall_s'] * 1000:7.0f} ms {figures['cpu_s'] * 1000:6.0f} ms "
              f"{figures['gc_s'] * 1000:7.0f} ms {figures['full_collections']:5.0f}  {figures['wall_s'] / base:.2f}x")  # fmt: skip
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps({"benchmark": "merge", "tasks": options.tasks, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
