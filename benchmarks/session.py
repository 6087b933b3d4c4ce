"""Client-side Session benchmarks against PERFORMANCE.md.

    python benchmarks/session.py [--repeat 5]

Client CPU only, as PERFORMANCE.md measured ftrack-python-api: the answers are
recorded once from a real backend, then replayed as JSON text through a transport that
decodes them (``json.loads``) — the server's time is not in the figures.

- import time of the package, and of ``Session``;
- query + merge of 5,000 Tasks (``name``, ``status.name``, ``created_at``), pages of
  500, against ``json.loads`` of the same answers (target: within 4x); and the same
  with ``Session(pause_gc=False)`` (the cyclic garbage collector never paused; pages of 500
  rows are under what the default pauses it for);
- memory per entity held by a session (target: <= 0.5 KB);
- ``commit()`` of one change with 20,000 entities in the session (target: <= 5 ms);
- round trips to read a never-fetched attribute on 200 entities of one answer (target: 1);
- 4,000 appends to a collection (target: <= 20 ms).
"""

from __future__ import annotations

import argparse
import gc
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any

from ftrack_like_api import Session
from ftrack_like_api.transport import Transport
from replay import Recording, Replay


def median_time(function: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_time(statement: str, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(repeat)]  # fmt: skip
    return statistics.median(runs)


def build(url: str, tasks: int) -> None:
    with Session(server_url=url, api_user="admin", schema_cache_path=False) as session:  # nothing left in ~/.cache
        schema = session.query("ProjectSchema").first()
        project = session.create("Project", {"name": "bench", "project_schema": schema})
        shots = [session.create("Shot", {"name": f"sh{i:03d}", "parent": project}) for i in range(tasks // 100)]
        for n in range(tasks):
            session.create("Task", {"name": f"task{n:05d}", "parent": shots[n % len(shots)]})
        session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "session.json")
    options = parser.parse_args()
    results: dict[str, Any] = {}

    results["import_package_s"] = import_time("import ftrack_like_api", options.repeat)
    results["import_session_s"] = import_time("from ftrack_like_api import Session", options.repeat)

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        build(url, 20_000)
        recording = Recording(url)
        expression = "select name, status.name, created_at from Task"
        with Session(server_url=url, api_user="admin", transport=recording, schema_cache_path=False) as session:
            tasks = session.query(expression, page_size=500)
            [task for _, task in zip(range(5_000), tasks)]
            session.query("select name from Task").all()
            shots = session.query("select name from Shot").all()
            [shot["parent"] for shot in shots]
        recorded = recording.recorded
        recording.close()

    pages = [text for key, text in recorded.items() if "created_at" in key][:10]

    def merge_5000(pause_gc: bool = True) -> None:
        session = Session(server_url="sqlite:///unused", api_user="admin", transport=Replay(recorded), pause_gc=pause_gc,
                          schema_cache_path=False)
        _ = session.types
        result = session.query(expression, page_size=500)
        for _, _task in zip(range(5_000), result):
            pass

    results["query_merge_5000_s"] = median_time(merge_5000, options.repeat)
    results["query_merge_5000_no_pause_s"] = median_time(lambda: merge_5000(pause_gc=False), options.repeat)
    results["json_loads_5000_s"] = median_time(lambda: [json.loads(text) for text in pages], options.repeat)

    replay = Replay(recorded)
    session = Session(server_url="sqlite:///unused", api_user="admin", transport=replay, schema_cache_path=False)
    _ = session.types
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    everything = session.query("select name from Task").all()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    results["entities_held"] = len(session.identity_map)
    results["bytes_per_entity"] = (after - before) / len(everything)

    task = everything[0]
    task["name"] = "changed"

    class Accept(Transport):
        def handle(self, batch: Any) -> list[Any]:
            return [{"action": op["action"], "data": {"__entity_type__": op["entity_type"], "id": op["entity_key"][0]}}
                    for op in batch]  # fmt: skip

    session.transport = Accept()
    start = time.perf_counter()
    session.commit()
    results["commit_one_of_20000_s"] = time.perf_counter() - start

    session.transport = replay
    shots = session.query("select name from Shot").all()
    calls = replay.calls
    [shot["parent"] for shot in shots]
    results["round_trips_for_200_reads"] = replay.calls - calls
    results["entities_in_that_answer"] = len(shots)

    listing = session.create("TypedContextList", {"name": "bench"})
    items = listing["items"]
    start = time.perf_counter()
    for entity in everything[:4000]:
        items.append(entity)
    results["append_4000_s"] = time.perf_counter() - start
    assert len(listing["items"]) == 4000

    rows = [
        ("import ftrack_like_api", results["import_package_s"] * 1000, "ms", "<= 60 ms"),
        ("from ftrack_like_api import Session", results["import_session_s"] * 1000, "ms", ""),
        ("query + merge 5,000 Tasks, pages of 500", results["query_merge_5000_s"] * 1000, "ms", ">= 10x ftrack's 2,100 ms"),
        ("  the same, Session(pause_gc=False)", results["query_merge_5000_no_pause_s"] * 1000, "ms", ""),
        ("  json.loads of the same answers", results["json_loads_5000_s"] * 1000, "ms", "within 4x of this"),
        ("memory per entity held", results["bytes_per_entity"], "bytes", "<= 512 bytes"),
        ("commit one change, 20,000 entities held", results["commit_one_of_20000_s"] * 1000, "ms", "<= 5 ms"),
        (f"round trips for a read on {results['entities_in_that_answer']} entities", results["round_trips_for_200_reads"], "", "1"),
        ("4,000 appends to a collection", results["append_4000_s"] * 1000, "ms", "<= 20 ms"),
    ]
    for label, value, unit, target in rows:
        print(f"  {label:45} {value:10.1f} {unit:6} {target}")
    ratio = results["query_merge_5000_s"] / results["json_loads_5000_s"]
    print(f"  query + merge / json.loads: {ratio:.1f}x")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "session", **results, "merge_over_json": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
