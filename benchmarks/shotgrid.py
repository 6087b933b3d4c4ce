"""ShotGrid's endpoint against our own protocol, on the same server: what the translation costs.

    python benchmarks/shotgrid.py --shotgun-python PATH [--databases sqlite,postgresql] [--shots 10000] [--repeat 3]

``PATH`` is a python with ``shotgun_api3`` 3.10 installed (its own virtual environment).
Against one ``ftrack-like serve`` process, side by side, alternating, medians of ``--repeat``:

1. ``find`` of every Shot of a project (``--shots``, made beforehand) with three deep-linked
   fields (``sg_sequence.Sequence.code``, ``sg_sequence.Sequence.description``,
   ``project.Project.name``) through ``shotgun_api3`` — its own paging, 500 a page — against
   ``select name, parent.name, parent.description, project.full_name from Shot where …`` through
   our Session, paged by 500 as well.
2. A 1,000-request ``batch`` of Shot creates through ``shotgun_api3`` against 1,000 creates in
   one commit of our Session.

The issue's target: the ShotGrid endpoint costs at most 1.5x our own protocol; each line says
whether its ratio meets it, and the load average when it was measured. Timings are noisy on a
shared machine: compare the ratio, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time
from typing import Any

from ftrack_like_api import Session
from ftrack_like_api.server import Backend
from scratch import ftrack_like, scratch_database, served_process

SHOTGUN = """
import json, sys, time
import shotgun_api3
url, key, project, what = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sg = shotgun_api3.Shotgun(url, script_name="benchmark", api_key=key)
sg.info()
started = time.perf_counter()
if what == "find":
    rows = sg.find("Shot", [["project", "is", {"type": "Project", "id": project}]],
                   ["code", "sg_sequence.Sequence.code", "sg_sequence.Sequence.description", "project.Project.name"])
    assert all(r["sg_sequence.Sequence.code"] for r in rows)
    count = len(rows)
else:
    made = sg.batch([{"request_type": "create", "entity_type": "Shot",
                      "data": {"code": "b%04d" % i, "project": {"type": "Project", "id": project}}} for i in range(1000)])
    count = len(made)
print(json.dumps({"seconds": time.perf_counter() - started, "count": count}))
"""


#: The issue's target: the ShotGrid endpoint costs at most this many times our own protocol.
TARGET = 1.5


def _load() -> str:
    """The load average over 1, 5 and 15 minutes (Linux; elsewhere empty): beside each figure, as the machine is shared."""
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return ""


def shotgun(python: str, url: str, key: str, project: int, what: str) -> dict[str, Any]:
    run = subprocess.run([python, "-c", SHOTGUN, url, key, str(project), what], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def ours(url: str, key: str, project_id: str, what: str) -> dict[str, Any]:
    with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
        session.query("Project limit 1").all()  # the schemas and a connection, as sg.info() does for the other
        started = time.perf_counter()
        if what == "find":
            rows, offset = [], 0
            while True:
                page = session.query(f"select name, parent.name, parent.description, project.full_name from Shot "
                                     f"where project_id is '{project_id}' offset {offset} limit 500").all()  # fmt: skip
                rows.extend(page)
                if len(page) < 500:
                    break
                offset += 500
            count = len(rows)
        else:
            project = session.get("Project", project_id)
            for i in range(1000):
                session.create("Shot", {"name": f"o{i:04d}", "parent": project})
            session.commit()
            count = 1000
        return {"seconds": time.perf_counter() - started, "count": count}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shotgun-python", required=True)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--shots", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "shotgrid.json")
    options = parser.parse_args()
    report: dict[str, Any] = {}
    for kind in options.databases.split(","):
        with scratch_database(kind) as database:
            with Backend.from_url(database) as backend:
                key = backend.auth.create_key("admin", "benchmark")
            with served_process(ftrack_like(), database) as url:
                setup = subprocess.run([options.shotgun_python, "-c", f"""
import json, shotgun_api3
sg = shotgun_api3.Shotgun({url!r}, script_name="benchmark", api_key={key!r})
p = sg.create("Project", {{"name": "Benchmark"}})
seqs = sg.batch([{{"request_type": "create", "entity_type": "Sequence", "data": {{"code": "sq%03d" % i, "project": p,
                  "description": "sequence %d" % i}}}} for i in range(100)])
for start in range(0, {options.shots}, 1000):
    sg.batch([{{"request_type": "create", "entity_type": "Shot", "data": {{"code": "sh%05d" % i, "project": p,
               "sg_sequence": seqs[i % 100]}}}} for i in range(start, min(start + 1000, {options.shots}))])
print(json.dumps(p["id"]))
"""], capture_output=True, text=True, check=True)  # fmt: skip
                project = json.loads(setup.stdout.strip().splitlines()[-1])
                with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
                    project_id = session.query("select id from Project where full_name is 'Benchmark'").one()["id"]
                row: dict[str, Any] = {}
                for what in ("find", "batch"):
                    sg_times, our_times = [], []
                    for _ in range(options.repeat):
                        sg_times.append(shotgun(options.shotgun_python, url, key, project, what)["seconds"])
                        our_times.append(ours(url, key, project_id, what)["seconds"])
                    sg_median, our_median = statistics.median(sg_times), statistics.median(our_times)
                    ratio, load = sg_median / our_median, _load()
                    row[what] = {"shotgrid_s": sg_median, "ours_s": our_median, "ratio": ratio, "target": TARGET,
                                 "met": ratio <= TARGET, "load": load}  # fmt: skip
                    label = f"find of {options.shots:,} shots, 3 deep fields" if what == "find" else "1,000 creates in one batch"
                    print(f"{kind:10} {label:35}: shotgun_api3 {sg_median:.2f} s, our Session {our_median:.2f} s, "
                          f"ratio {ratio:.2f} (target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'}; "
                          f"load {load})", flush=True)  # fmt: skip
                report[kind] = row
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "shotgrid", "shots": options.shots, **report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
