"""One commit of 10,000 creates through a Session over HTTP, end to end (PERFORMANCE.md: <= 1.5 s).

    python benchmarks/http_commit.py [--databases sqlite,postgresql] [--repeat 3]

Our server runs in this process (uvicorn in a thread, 127.0.0.1, an ephemeral port); the
Session records 10,000 Task creates and the commit is timed: planning, JSON, HTTP, the
server's transaction, and merging the answers back. Medians to the terminal and to
benchmarks/results/http_commit.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

from ftrack_like_api import Session
from ftrack_like_api.demo import serving
from ftrack_like_api.server import Backend
from scratch import scratch_database

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "http_commit.json")
    options = parser.parse_args()
    report = {}
    for kind in options.databases.split(","):
        with scratch_database(kind) as url, Backend.from_url(url) as backend, serving(backend) as server:
            key = backend.auth.create_key("admin", "benchmark")
            with Session(server_url=server, api_user="admin", api_key=key, schema_cache_path=False) as session:
                project = session.create("Project", {"name": "bench", "project_schema": session.query("ProjectSchema").first()})
                session.commit()
                times = []
                for run in range(options.repeat):
                    shot = session.create("Shot", {"name": f"sh{run}", "parent": project})
                    session.commit()
                    for n in range(10_000):
                        session.create("Task", {"name": f"t{n}", "parent": shot})
                    start = time.perf_counter()
                    session.commit()
                    times.append(time.perf_counter() - start)
        report[kind] = statistics.median(times)
        print(f"{kind:12} one commit of 10,000 creates over HTTP: {report[kind]:.2f} s (target 1.5 s)")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "http_commit", **report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
