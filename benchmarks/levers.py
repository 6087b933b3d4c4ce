"""What each lever of the reads gives: the same listing and small calls, with and without it, in turns.

    python benchmarks/levers.py [--tasks 20000] [--repeat 5] [--small 20] [--database postgresql://…/postgres]
                                [--against CHECKOUT] [--last N] [--json PATH]

One production (``peers.py``'s: a shot per 5 tasks) in a PostgreSQL database of its own,
served at once by three ``ftrack-like serve`` processes (one worker each) that differ only
in what they may import: **plain** (orjson, httptools and uvloop hidden: the standard
library's JSON, uvicorn on h11 and asyncio), **orjson** (answers written by orjson) and
**fast** (orjson, and uvicorn on httptools and uvloop). The client's own levers are
switched in this process: the page size (500 each, as before, or the adaptive default),
reading answers with orjson or the standard library, asking a server on this machine
for answers not gzipped, and asking for the next page of ``all()`` before merging the one
it has (the server works on it meanwhile). ``--last N`` runs only the last N
configurations (the newest levers, against the line before them).

With ``--against CHECKOUT``, a fourth server runs that checkout's code (its
``.venv/bin/ftrack-like``) for a first configuration: the server before every lever, with
pages of 500 and the standard library's JSON in this client.

Each configuration adds one lever to the one above it; their runs take turns, so a busy
machine slows them alike. The table (median seconds; the listing is ``select name,
status.name, parent.name from Task where project_id is P`` and ``.all()``; the small calls
are ``peers.py``'s) goes to the terminal and to ``--json`` (default
``benchmarks/results/levers.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time
from typing import Iterator

import ftrack_like_api.transport.http as http_transport
from peers import Ours, api_key, build_ours, fresh_database
from scratch import cpu_seconds, ftrack_like, served_process

log = logging.getLogger("levers")

HIDDEN = {"plain": ("orjson", "httptools", "uvloop"), "orjson": ("httptools", "uvloop"), "fast": ()}
#: (label, server, fixed page size or None, the client reads with orjson, asks a server on this machine not to
#: gzip, asks for the next page of all() before merging the one it has)
CONFIGURATIONS = (
    ("before: pages of 500, stdlib JSON, h11", "plain", 500, False, False, False),
    ("+ adaptive pages (500, x4, up to 10,000)", "plain", None, False, False, False),
    ("+ the client reads with orjson", "plain", None, True, False, False),
    ("+ the server writes with orjson", "orjson", None, True, False, False),
    ("+ uvicorn on httptools and uvloop", "fast", None, True, False, False),
    ("+ no gzip from a server on this machine", "fast", None, True, True, False),
    ("+ next page asked for while merging", "fast", None, True, True, True),
)
SMALL = ("shot_tasks", "status", "status_page", "update")


@contextlib.contextmanager
def without(modules: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """An environment in which ``modules`` cannot be imported (stand-ins that raise ModuleNotFoundError, as a module not installed does)."""
    with tempfile.TemporaryDirectory(prefix="levers-") as folder:
        for name in modules:
            pathlib.Path(folder, f"{name}.py").write_text(
                f"raise ModuleNotFoundError('{name} hidden by levers.py', name='{name}')\n"
            )
        path = os.pathsep.join(p for p in (folder, os.environ.get("PYTHONPATH")) if p)
        yield {**os.environ, "PYTHONPATH": path}


@contextlib.contextmanager
def client_levers(orjson: bool, identity: bool, overlaps: bool = True) -> Iterator[None]:
    """The HTTP transport reads answers with orjson (when installed) or the standard library, asks a
    server on this machine for answers not gzipped (``identity``) or gzipped (as any server), and
    lets ``all()`` ask for a page while it merges the one before (``overlaps``) or not."""
    transport = http_transport.HttpTransport
    kept = http_transport.orjson, http_transport._loopback, transport.overlaps
    http_transport.orjson = kept[0] if orjson else None
    if not identity:
        http_transport._loopback = lambda url: False
    transport.overlaps = overlaps
    try:
        yield
    finally:
        http_transport.orjson, http_transport._loopback, transport.overlaps = kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5, help="listings per configuration")
    parser.add_argument("--small", type=int, default=20, help="calls of each small measure per configuration")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--against", type=pathlib.Path, help="a checkout whose .venv serves the first configuration")
    parser.add_argument("--last", type=int, help="only the last N configurations")
    parser.add_argument("--json", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "levers.json")
    options = parser.parse_args()
    configurations = CONFIGURATIONS if options.last is None else CONFIGURATIONS[-options.last :]
    if options.against is not None:
        configurations = ((f"{options.against.name}'s server, pages of 500, stdlib", "against", 500, False, False, False),
                          *CONFIGURATIONS)  # fmt: skip
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    url = fresh_database(options.database, "ftrack_levers")
    start = time.perf_counter()
    built = build_ours(url, options.tasks)
    log.info("%s tasks built in %.1f s", f"{options.tasks:,}", time.perf_counter() - start)
    key = api_key(url)
    runs: dict[str, dict[str, list[float]]] = {label: {} for label, *_ in configurations}
    cpu: dict[str, list[float]] = {label: [] for label, *_ in configurations}
    with contextlib.ExitStack() as stack:
        servers = {}
        for name, hidden in HIDDEN.items():
            if not any(server == name for _, server, *_ in configurations):
                continue
            environment = stack.enter_context(without(hidden))
            servers[name] = stack.enter_context(served_process(ftrack_like(), url, environment=environment))
        if options.against is not None:
            executable = str(options.against / ".venv" / "bin" / "ftrack-like")
            servers["against"] = stack.enter_context(served_process(executable, url))
        clients = {}
        for label, server, _, reads_orjson, identity, overlaps in configurations:
            with client_levers(reads_orjson, identity, overlaps):
                clients[label] = Ours(servers[server], key, built)
        for turn in range(options.repeat + 1):  # the first warms each server
            for label, server, page_size, reads_orjson, identity, overlaps in configurations:
                ours = clients[label]
                with client_levers(reads_orjson, identity, overlaps):
                    before = cpu_seconds(servers[server].pid)
                    times, found = ours.rounds("list", 1, page_size)
                    assert found == options.tasks, found
                    if turn:
                        runs[label].setdefault("list", []).extend(times)
                        cpu[label].append(cpu_seconds(servers[server].pid) - before)
                    for name in SMALL:
                        times, _ = ours.rounds(name, max(1, options.small // options.repeat))
                        if turn:
                            runs[label].setdefault(name, []).extend(times)
        for ours in clients.values():
            ours.close()
    lines = [f"{'':44} {'list':>8} {'server CPU':>10} " + " ".join(f"{n:>12}" for n in SMALL)]
    table: dict[str, dict[str, float]] = {}
    for label, *_ in configurations:
        found = {name: statistics.median(values) for name, values in runs[label].items()}
        found["list_server_cpu"] = statistics.median(cpu[label])
        table[label] = found
        lines.append(f"{label:44} {found['list']:>6.3f} s {found['list_server_cpu']:>8.3f} s "
                     + " ".join(f"{found[n] * 1000:>9.1f} ms" for n in SMALL))  # fmt: skip
    print("\n".join(lines))
    options.json.parent.mkdir(parents=True, exist_ok=True)
    conditions = {"tasks": options.tasks, "repeat": options.repeat, "small": options.small,
                  "python": platform.python_version(), "when": datetime.datetime.now().isoformat()}  # fmt: skip
    options.json.write_text(
        json.dumps({"conditions": conditions, "medians": table, "runs": runs, "cpu": cpu}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
