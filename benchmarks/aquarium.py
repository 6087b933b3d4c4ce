"""Aquarium's routes against our own protocol, on the same server: what meshQL and the translation cost.

    python benchmarks/aquarium.py [--aquarium-python PATH] [--databases sqlite,postgresql] [--shots 10000] [--repeat 3]

Against one ``ftrack-like serve`` process holding a project of ``--shots`` shots (100
sequences, a comp task per shot), side by side, alternating, medians of ``--repeat``:

1. ``project.get_all()``'s meshQL (``# $Project AND … NOT (<($Trash)- *) SORT item.data.name``)
   on ``POST /v1/query``, against ``select name, full_name from Project`` through our Session.
2. ``get_shots()``: the depth-5 traversal with a VIEW holding a nested query per row
   (``# -($Child, 5)> 0, 0 $Shot VIEW {item, edge, tasks: '# -($Child)> $Task VIEW item'}``) on
   ``POST /v1/items/<project>/traverse``, against the shots and their tasks through our Session
   (two queries, paged by 500).

Timed over HTTP with ``requests`` (what the server costs); with ``--aquarium-python`` (a python
with ``aquarium-python-api`` 2.2.4) also through the official client (its own decoding and
casting included). The issue's target: at most 2x our own protocol. Compare the ratio,
measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import requests

from ftrack_like_api import Session
from ftrack_like_api.server import Backend
from scratch import ftrack_like, scratch_database, served_process

PASSWORD = "benchmark password"
GET_ALL = "# $Project AND item.data.completion != 1 AND item.data.completion != -1 AND NOT (<($Trash)- *) SORT item.data.name ASC"
GET_SHOTS = "# -($Child, 5)> 0, 0 $Shot VIEW $view"
VIEW = {"view": {"item": "item", "edge": "edge", "tasks": "# -($Child)> $Task VIEW item"}}
CLIENT = """
import json, sys, time
from aquarium import Aquarium
url, token, project, what = sys.argv[1:5]
aq = Aquarium(api_url=url + "/", token=token)
aq.ping()
started = time.perf_counter()
count = len(aq.project.get_all()) if what == "get_all" else len(aq.project(project).get_shots())
print(json.dumps({"seconds": time.perf_counter() - started, "count": count}))
"""


def studio(url: str, key: str, shots: int) -> str:
    """A project of ``shots`` shots under 100 sequences, a task each, made through our Session; its id."""
    with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
        schema = session.query("ProjectSchema").first()
        project = session.create("Project", {"name": "benchmark", "full_name": "Benchmark", "project_schema": schema})
        sequences = [session.create("Sequence", {"name": f"sq{i:03d}", "parent": project}) for i in range(100)]
        session.commit()
        for start in range(0, shots, 1000):
            for i in range(start, min(start + 1000, shots)):
                shot = session.create("Shot", {"name": f"sh{i:05d}", "parent": sequences[i % 100]})
                session.create("Task", {"name": "comp", "parent": shot})
            session.commit()
        return str(project["id"])


def http(url: str, token: str, project: str, what: str) -> dict[str, Any]:
    with requests.Session() as client:
        client.headers["authorization"] = token
        client.get(f"{url}/v1/ping")
        started = time.perf_counter()
        if what == "get_all":
            answer = client.post(f"{url}/v1/query", json={"query": GET_ALL, "aliases": {}})
        else:
            answer = client.post(f"{url}/v1/items/{project}/traverse", json={"query": GET_SHOTS, "aliases": VIEW})
        answer.raise_for_status()
        rows = answer.json()
        return {"seconds": time.perf_counter() - started, "count": len(rows)}


def ours(url: str, key: str, project: str, what: str) -> dict[str, Any]:
    with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
        session.query("Project limit 1").all()  # the schemas and a connection, as the others' ping
        started = time.perf_counter()
        if what == "get_all":
            count = len(session.query("select name, full_name from Project order by full_name").all())
        else:
            shots, tasks, offset = [], [], 0
            for rows, text in ((shots, "select name, parent.name from Shot"), (tasks, "select name, parent_id from Task")):
                offset = 0
                while True:
                    page = session.query(f"{text} where project_id is '{project}' order by name offset {offset} limit 500").all()
                    rows.extend(page)
                    if len(page) < 500:
                        break
                    offset += 500
            count = len(shots)
            assert len(tasks) == count
        return {"seconds": time.perf_counter() - started, "count": count}


def client(python: str, url: str, token: str, project: str, what: str) -> dict[str, Any]:
    # Run from elsewhere: from here, "import aquarium" would find this file.
    run = subprocess.run([python, "-c", CLIENT, url, token, project, what], capture_output=True, text=True, cwd=tempfile.gettempdir())
    if run.returncode:
        raise SystemExit(f"the official client failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aquarium-python")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--shots", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "aquarium.json")
    options = parser.parse_args()
    report: dict[str, Any] = {}
    for kind in options.databases.split(","):
        with scratch_database(kind) as database:
            with Backend.from_url(database) as backend:
                key = backend.auth.create_key("admin", "benchmark")
                backend.auth.set_password("admin", PASSWORD)
            with served_process(ftrack_like(), database) as url:
                project = studio(url, key, options.shots)
                token = requests.post(f"{url}/v1/signin", json={"email": "admin", "password": PASSWORD}, timeout=30).json()["token"]
                row: dict[str, Any] = {}
                for what in ("get_all", "get_shots"):
                    times: dict[str, list[float]] = {"aquarium_http_s": [], "ours_s": [], "aquarium_client_s": []}
                    for _ in range(options.repeat):
                        answered = http(url, token, project, what)
                        times["aquarium_http_s"].append(answered["seconds"])
                        times["ours_s"].append(ours(url, key, project, what)["seconds"])
                        if options.aquarium_python:
                            times["aquarium_client_s"].append(client(options.aquarium_python, url, token, project, what)["seconds"])
                    row[what] = {name: statistics.median(values) for name, values in times.items() if values}
                    row[what]["ratio"] = row[what]["aquarium_http_s"] / row[what]["ours_s"]
                    row[what]["rows"] = answered["count"]
                    shown = ", ".join(f"{name} {value:.3f}" for name, value in row[what].items() if name != "rows")
                    print(f"{kind:10} {what:9} ({options.shots:,} shots, {answered['count']:,} rows): {shown} (target ratio <= 2)",
                          flush=True)  # fmt: skip
                report[kind] = row
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "aquarium", "shots": options.shots, **report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
