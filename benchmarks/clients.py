"""Our client against the official ftrack-python-api, on the same server and the same data.

    python benchmarks/clients.py [--tasks 5000] [--repeat 3]

Starts our HTTP server on 127.0.0.1 over a new SQLite database with ``--tasks`` tasks,
installs ftrack-python-api into a virtual environment of its own (benchmarks/.official,
made once; its pins clash with ours), then runs the same script with each client in a
process of its own and reports medians and the ratio:

- query + merge: ``select name, status.name, created_at from Task`` (every task);
- a commit of 1,000 creates;
- populate: reading a never-fetched attribute on 200 entities of one answer (time and
  round trips);
- memory held for the queried entities (tracemalloc).

Figures to the terminal and to benchmarks/results/clients.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import textwrap
import venv

from ftrack_like_api.demo import serving
from ftrack_like_api.server import Backend

HERE = pathlib.Path(__file__).resolve().parent

# The same script for both clients: `api` is ftrack_api or ftrack_like_api, `make` opens a session.
SCRIPT = textwrap.dedent(
    """
    import json, sys, time, tracemalloc, uuid
    which, server, user, key = sys.argv[1:5]
    if which == "official":
        import ftrack_api
        def make():
            return ftrack_api.Session(server_url=server, api_user=user, api_key=key,
                                      auto_connect_event_hub=False, schema_cache_path=False)
    else:
        from ftrack_like_api import Session
        def make():
            return Session(server_url=server, api_user=user, api_key=key, schema_cache_path=False)

    results = {}
    session = make()
    session.types  # schemas loaded before timing
    tracemalloc.start()
    start = time.perf_counter()
    tasks = session.query("select name, status.name, created_at from Task").all()
    results["query_merge_s"] = time.perf_counter() - start
    results["entities"] = len(tasks)
    results["memory_per_task_bytes"] = tracemalloc.get_traced_memory()[0] / max(1, len(tasks))
    tracemalloc.stop()

    shots = session.query("select name from Shot").all()[:200]
    calls = []
    if which == "official":
        original = session.call
        def counting(data):
            calls.append(data)
            return original(data)
        session.call = counting
    else:
        original = session.transport.handle
        session.transport.handle = lambda batch: calls.append(batch) or original(batch)
    start = time.perf_counter()
    [shot["description"] for shot in shots]
    results["populate_200_s"] = time.perf_counter() - start
    results["populate_200_round_trips"] = len(calls)

    parent = shots[0]
    start = time.perf_counter()
    for n in range(1000):
        session.create("Task", {"name": "bench" + str(n), "parent": parent})
    session.commit()
    results["commit_1000_creates_s"] = time.perf_counter() - start
    print(json.dumps(results))
    """
)


def official_python() -> str:
    folder = HERE / ".official"
    python = folder / ("Scripts" if os.name == "nt" else "bin") / "python"
    if not python.exists():
        venv.create(folder, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "ftrack-python-api"], check=True)
    return str(python)


def build(backend: Backend, tasks: int) -> None:
    from ftrack_like_api.session import Session

    with Session(server_url="sqlite:///unused", api_user="admin", transport=_Direct(backend),
                 schema_cache_path=False) as session:  # fmt: skip
        schema = session.query("ProjectSchema").first()
        project = session.create("Project", {"name": "bench", "project_schema": schema})
        shots = [session.create("Shot", {"name": f"sh{i:04d}", "parent": project}) for i in range(max(200, tasks // 20))]
        for n in range(tasks):
            session.create("Task", {"name": f"task{n:05d}", "parent": shots[n % len(shots)]})
        session.commit()


class _Direct:
    """Hands batches to the backend in this process while the data is built (no HTTP needed for that)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def handle(self, batch):  # noqa: ANN001, ANN201
        return json.loads(json.dumps(self.backend.execute(json.loads(json.dumps(batch)), "admin")))

    def close(self) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=pathlib.Path, default=HERE / "results" / "clients.json")
    options = parser.parse_args()
    official = official_python()
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "official": []}
    with tempfile.TemporaryDirectory() as folder:
        with Backend.from_url(f"sqlite:///{folder}/clients.db") as backend:
            build(backend, options.tasks)
            with serving(backend) as url:
                key = backend.auth.create_key("admin", "benchmark")
                for _ in range(options.repeat):
                    for which, python in (("ours", sys.executable), ("official", official)):
                        done = subprocess.run([python, "-c", SCRIPT, which, url, "admin", key],
                                              capture_output=True, text=True, timeout=1800)  # fmt: skip
                        if done.returncode != 0:
                            print(done.stderr[-2000:], file=sys.stderr)
                            return 1
                        runs[which].append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = {which: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for which, rs in runs.items()}
    print(f"{'':38} {'ours':>12} {'official':>12} {'ratio':>7}")
    for key, label in [("query_merge_s", f"query + merge {report['ours']['entities']:.0f} tasks (s)"),
                       ("populate_200_s", "read one attribute on 200 shots (s)"),
                       ("populate_200_round_trips", "  round trips for that"),
                       ("commit_1000_creates_s", "1,000 creates and a commit (s)"),
                       ("memory_per_task_bytes", "memory per queried task (bytes)")]:  # fmt: skip
        ours, theirs = report["ours"][key], report["official"][key]
        print(f"{label:38} {ours:12.3f} {theirs:12.3f} {theirs / ours if ours else float('inf'):6.1f}x")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "clients", "tasks": options.tasks, **report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
