"""Ours against Kitsu's server (Zou 1.0.97, driven by gazu 1.3.1): the same production, side by side, one command.

    python benchmarks/peers.py [--sizes 5000,75000] [--repeat 5] [--small 30] [--no-zou] [--keep]
                               [--database postgresql://postgres@127.0.0.1:5432] [--json PATH]

Zou and gazu are installed from PyPI into a virtual environment of their own
(``~/.cache/ftrack-like-bench/zou``, made on first use), and Zou runs as its docs say:
``gunicorn -k gevent`` with one worker, on PostgreSQL (a database of its own, ``zou_bench``,
made afresh) and Redis (a ``redis-server`` of its own, or ``--redis``: Zou keeps ids there). Ours is ``ftrack-like serve``
with one worker on another PostgreSQL database (``ftrack_bench``), over HTTP. With ``--keep``,
both databases are kept from the last run that used ``--keep`` and a production already
built there is used again (75,000 tasks take a minute to build on each side).

Both get the same production for each size: one project, one sequence, a shot for each 5
tasks, a task of each of 5 types on every shot, each at a status picked at random. The
measures, each the median of several runs, ours and Zou's taking turns run after run (a
busy machine slows both alike):

- **list**: the whole project. Ours: ``select name, status.name, parent.name from Task
  where project_id is P`` and ``.all()`` through a Session with default settings (its
  schemas loaded before the clock starts). Zou: its board route as a client uses it —
  ``task-status``, ``task-types`` and ``shots/with-tasks?project_id=P`` (and the same with
  ``compact=true``, Zou's positional rows, reported beside);
- **shot's tasks**: ours ``Task where parent_id is S``; Zou ``shots/S/tasks``;
- **one status**: ours ``Status where id is X`` (``first()``); Zou ``task-status/X``;
- **page of 100 of one status**: ours ``Task where project_id is P and status_id is X
  limit 100``; Zou ``tasks?project_id=P&task_status_id=X&page=1&limit=100``;
- **status update**: one task's status changed, committed (ours: events included); Zou
  ``PUT tasks/T``.

The ratio is Zou's time over ours: above 1, ours is faster (the targets: 2x for the
listing, 1.5x for each small call). The table goes to the terminal and to ``--json``
(default ``benchmarks/results/peers.json``). With ``--no-zou``, or when Zou cannot be
installed or run, only ours is measured and the reason is said. The code measured is the
one this Python imports (run with another checkout's interpreter to measure that one).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import logging
import os
import pathlib
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterator

import psycopg
import requests

from ftrack_like_api.session import Session
from scratch import free_port, ftrack_like, served_process

log = logging.getLogger("peers")

ZOU, GAZU = "zou==1.0.97", "gazu==1.3.1"
VENV = pathlib.Path.home() / ".cache" / "ftrack-like-bench" / "zou"
EMAIL, PASSWORD = "admin@example.com", "bench-password-1"
PER_SHOT = 5
MEASURES = (("list", "whole project listed"), ("shot_tasks", "one shot's tasks"), ("status", "one status"),
            ("status_page", "page of 100 of one status"), ("update", "one status update"))  # fmt: skip
TARGETS = {"list": 2.0, "shot_tasks": 1.5, "status": 1.5, "status_page": 1.5, "update": 1.5}


def timed(function: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Seconds of each of ``runs`` calls of ``function``, and what the last returned."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def fresh_database(server: str, name: str, keep: bool = False) -> str:
    """The URL of database ``name`` on ``server``, dropped and made again (``keep``: kept if it exists)."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        if keep and connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return f"{server}/{name}"
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def built_before(url: str, tasks: int) -> dict[str, Any] | None:
    """The ids :func:`build_ours` gave for ``tasks`` tasks on ``url``, when a run with ``--keep`` built it there."""
    with Session(server_url=url, api_user="admin", schema_cache_path=False) as session:
        project = session.query(f"select id from Project where name is bench{tasks}").first()
        if project is None:
            return None
        shots = max(1, tasks // PER_SHOT)
        counted = session.query(f"select count(id) from Task where project_id is {project['id']}").first()
        if counted is None or counted["count_id"] != tasks:
            return None
        statuses = session.query("Status").all()
        shot = session.query(f"select id from Shot where project_id is {project['id']} and name is SH{shots // 2:05d}").one()
        task = session.query(f"select id from Task where parent_id is {shot['id']}").first()
        return {"project": project["id"], "shot": shot["id"], "status": statuses[0]["id"],
                "statuses": [s["id"] for s in statuses[:2]], "task": task["id"], "shots": shots}  # type: ignore[index]  # fmt: skip


# --- ours -------------------------------------------------------------------------------------


def build_ours(url: str, tasks: int) -> dict[str, Any]:
    """The production through a Session on ``url`` (see the module's docstring); the ids the measures need."""
    rng = random.Random(7)
    with Session(server_url=url, api_user="admin", schema_cache_path=False) as session:
        schema = session.query("ProjectSchema").first()
        project = session.create("Project", {"name": f"bench{tasks}", "project_schema": schema})
        sequence = session.create("Sequence", {"name": "SQ001", "parent": project})
        statuses = session.query("Status").all()
        types = session.query("Type").all()[:PER_SHOT]
        session.commit()
        shots = max(1, tasks // PER_SHOT)
        for start in range(0, shots, 2_000):  # 2,000 shots and their 10,000 tasks a commit
            for number in range(start, min(shots, start + 2_000)):
                shot = session.create("Shot", {"name": f"SH{number:05d}", "parent": sequence})
                for kind in types:
                    session.create("Task", {"name": kind["name"].lower(), "parent": shot, "type": kind,
                                            "status": rng.choice(statuses)})  # fmt: skip
            session.commit()
        key = project["id"]
        # The planner's statistics, as autovacuum keeps them (peers_zou.py does the same for Zou's
        # tables; without them PostgreSQL sorts the whole project for each page).
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("ANALYZE")
        shot = session.query(f"select id from Shot where project_id is {key} and name is SH{shots // 2:05d}").one()
        task = session.query(f"select id from Task where parent_id is {shot['id']}").first()
        return {"project": key, "shot": shot["id"], "status": statuses[0]["id"],
                "statuses": [s["id"] for s in statuses[:2]], "task": task["id"], "shots": shots}  # type: ignore[index]  # fmt: skip


def api_key(url: str) -> str:
    """A new API key for ``admin`` on the database at ``url``."""
    from ftrack_like_api.server import Backend

    with Backend.from_url(url) as backend:
        return str(backend.auth.create_key("admin", "peers benchmark"))


class Ours:
    """One round of each measure through Sessions with default settings, on the production ``built`` made."""

    def __init__(self, server: str, key: str, built: dict[str, Any]) -> None:
        self.server, self.key, self.built = server, key, built
        self.session = self.opened()
        self.statuses = [self.session.get("Status", s) for s in built["statuses"]]
        self.task = self.session.get("Task", built["task"])
        self.flip = 0

    def opened(self) -> Session:
        session = Session(server_url=self.server, api_user="admin", api_key=self.key, schema_cache_path=False)
        _ = session.types  # the schemas, before the clock starts (Zou's client has none to load)
        return session

    def rounds(self, name: str, count: int, page_size: int | None = None) -> tuple[list[float], int]:
        """Seconds of each of ``count`` calls of measure ``name``, and what the last found (``page_size``: the listing's)."""
        if name != "list":
            return timed(getattr(self, name), count)
        times, found = [], 0
        listing = f"select name, status.name, parent.name from Task where project_id is {self.built['project']}"
        for _ in range(count):
            with self.opened() as session:  # a new Session each time: nothing of the last listing in it
                start = time.perf_counter()
                tasks = session.query(listing, page_size=page_size).all()
                times.append(time.perf_counter() - start)
                found = len(tasks)
                assert tasks[0]["status"]["name"] and tasks[0]["parent"]["name"]
            # A session dropped is freed by the cyclic collector (it and its entities refer to each
            # other): collect it now, off the clock, not in the middle of the next measure.
            del tasks
            gc.collect()
        return times, found

    def shot_tasks(self) -> int:
        return len(self.session.query(f"Task where parent_id is {self.built['shot']}").all())

    def status(self) -> int:
        return 1 if self.session.query(f"Status where id is {self.built['status']}").first() is not None else 0

    def status_page(self) -> int:
        page = f"Task where project_id is {self.built['project']} and status_id is {self.built['status']} limit 100"
        return len(self.session.query(page).all())

    def update(self) -> int:
        self.flip += 1
        self.task["status"] = self.statuses[self.flip % 2]  # type: ignore[index]
        self.session.commit()
        return 1

    def close(self) -> None:
        self.session.close()


# --- Zou ----------------------------------------------------------------------------------------


def zou_venv() -> pathlib.Path:
    """The Python of Zou's virtual environment, made and filled on first use."""
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "gunicorn").exists():
        log.info("installing %s and %s into %s", ZOU, GAZU, VENV)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", ZOU, GAZU, "gevent"], check=True)
    return python


@contextlib.contextmanager
def zou_served(database: str, redis: str | None, keep: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """Zou on ``database`` (initialised: tables, data, an admin — ``keep``: unless it was already), served by
    gunicorn with one gevent worker."""
    keeper = None
    if redis is None:
        # Redis of its own: Zou keeps ids (its entity types') there, which another database's would contradict.
        redis = f"127.0.0.1:{free_port()}"
        keeper = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", redis.split(":")[1], "--save", "",
                                   "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(0.5)
    host, port = redis.split(":")
    name = database.rsplit("/", 1)[1]
    previews = tempfile.TemporaryDirectory(prefix="zou-previews-")
    environment = {**os.environ, "SECRET_KEY": secrets.token_hex(16), "DB_HOST": "127.0.0.1", "DB_PORT": "5432",
                   "DB_USERNAME": "postgres", "DB_PASSWORD": "", "DB_DATABASE": name, "KV_HOST": host,
                   "KV_PORT": port, "PREVIEW_FOLDER": previews.name, "TMP_DIR": previews.name}  # fmt: skip
    bin_ = VENV / "bin"
    with psycopg.connect(database) as connection:
        initialised = connection.execute("SELECT to_regclass('public.person') IS NOT NULL").fetchone()[0]  # type: ignore[index]
    for step in () if keep and initialised else (["init-db"], ["init-data"], ["create-admin", EMAIL, "--password", PASSWORD]):
        subprocess.run([str(bin_ / "zou"), *step], env=environment, check=True, capture_output=True, cwd=previews.name)
    port_ = free_port()
    errors = tempfile.TemporaryFile("w+")
    server = subprocess.Popen([str(bin_ / "gunicorn"), "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port_}",
                               "--log-level", "warning", "zou.app:app"],
                              env=environment, stdout=subprocess.DEVNULL, stderr=errors, cwd=previews.name)  # fmt: skip
    url = f"http://127.0.0.1:{port_}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/auth/authenticated", timeout=1).status_code in (200, 401):
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                errors.seek(0)
                raise RuntimeError(f"Zou did not come up:\n{errors.read()[-3000:]}")
            time.sleep(0.2)
        yield url, environment
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        errors.close()
        previews.cleanup()
        if keeper is not None:
            keeper.terminate()
            keeper.wait()


class Zou:
    """Zou's side: ``peers_zou.py`` in Zou's Python, which builds the production then answers rounds."""

    def __init__(self, python: pathlib.Path, url: str, database: str, tasks: int, keep: bool = False) -> None:
        script = pathlib.Path(__file__).with_name("peers_zou.py")
        self.errors = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen([str(python), str(script), url, EMAIL, PASSWORD, database, str(tasks),
                                         *(["--reuse"] if keep else [])],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, text=True)  # fmt: skip
        self.built = self._line()

    def _line(self) -> dict[str, Any]:
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            self.errors.seek(0)
            raise RuntimeError(f"peers_zou.py failed:\n{self.errors.read()[-3000:]}")
        return json.loads(line)  # type: ignore[no-any-return]

    def rounds(self, name: str, count: int) -> tuple[list[float], Any]:
        self.process.stdin.write(f"{name} {count}\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        answer = self._line()
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["seconds"], answer["found"]

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=60)
        self.errors.close()


def take_turns(ours: Ours, zou: Zou | None, repeat: int, small: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every run of each measure, ours and Zou's taking turns (a busy machine slows both alike)."""
    mine: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    plan = [("list", 1, repeat)] + [(name, max(1, small // 5), 5) for name, _ in MEASURES[1:]]
    for name, count, turns in plan:
        ours.rounds(name, 1)  # warm
        if zou is not None:
            zou.rounds(name, 1)
        for _ in range(turns):
            times, found = ours.rounds(name, count)
            mine.setdefault(name, []).extend(times)
            mine[f"{name}_found"] = found
            if zou is not None:
                times, found = zou.rounds(name, count)
                theirs.setdefault(name, []).extend(times)
                theirs[f"{name}_found"] = found
                if name == "list":
                    try:
                        times, _ = zou.rounds("list_compact", 1)
                        theirs.setdefault("list_compact", []).extend(times)
                    except RuntimeError as error:  # an option of this Zou only
                        theirs["list_compact_error"] = str(error)
    return mine, theirs


# --- the table ------------------------------------------------------------------------------------


def medians(runs: dict[str, Any]) -> dict[str, float]:
    return {name: statistics.median(runs[name]) for name, _ in MEASURES if name in runs} | (
        {"list_compact": statistics.median(runs["list_compact"])} if "list_compact" in runs else {}
    )


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'tasks':>7}  {'what':28} {'ours':>10} {'Zou':>10} {'Zou/ours':>9} {'target':>7}"]
    for result in results:
        ours, zou = result["ours"], result.get("zou") or {}
        for name, label in MEASURES:
            unit, scale = ("s", 1.0) if name == "list" else ("ms", 1000.0)
            theirs = zou.get(name)
            ratio = f"{theirs / ours[name]:.2f}x" if theirs else "-"
            zou_text = f"{theirs * scale:.{2 if unit == 's' else 1}f} {unit}" if theirs else "-"
            lines.append(f"{result['tasks']:>7,}  {label:28} {ours[name] * scale:>7.{2 if unit == 's' else 1}f} {unit:2} "
                         f"{zou_text:>10} {ratio:>9} {TARGETS[name]:>6.1f}x")  # fmt: skip
        if "list_compact" in zou:
            lines.append(f"{result['tasks']:>7,}  {'  (Zou with compact=true)':28} {'':>10} {zou['list_compact']:>8.2f} s "
                         f"{zou['list_compact'] / ours['list']:>8.2f}x")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,75000", help="tasks in the project, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the listing each; the median is reported")
    parser.add_argument("--small", type=int, default=30, help="runs of each small call each; the median is reported")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432", help="the PostgreSQL server")
    parser.add_argument("--redis", help="Redis for Zou, host:port (default: a redis-server of its own, on a free port)")
    parser.add_argument("--no-zou", action="store_true", help="measure ours only")
    parser.add_argument("--keep", action="store_true",
                        help="keep both databases, and use a production a run with --keep built there before")
    parser.add_argument("--json", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "peers.json")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sizes = [int(s) for s in options.sizes.split(",")]
    zou_error = "not asked for (--no-zou)" if options.no_zou else None
    stack = contextlib.ExitStack()
    zou_url = zou_database = python = None
    zou: Zou | None
    if zou_error is None:
        try:
            python = zou_venv()
            zou_database = fresh_database(options.database, "zou_bench", options.keep)
            zou_url, _ = stack.enter_context(zou_served(zou_database, options.redis, options.keep))
        except (OSError, RuntimeError, subprocess.CalledProcessError, psycopg.Error) as error:
            detail = getattr(error, "stderr", None)
            zou_error = f"{error}{': ' + detail.decode(errors='replace')[-2000:] if isinstance(detail, bytes) else ''}"
            log.warning("Zou is not measured: %s", zou_error)
    ours_url = fresh_database(options.database, "ftrack_bench", options.keep)
    results = []
    with stack:
        for size in sizes:
            start = time.perf_counter()
            built = (options.keep and built_before(ours_url, size)) or build_ours(ours_url, size)
            log.info("ours: %s tasks built (or found) in %.1f s", f"{size:,}", time.perf_counter() - start)
            zou = None
            if zou_url is not None:
                try:
                    zou = Zou(python, zou_url, zou_database, size, options.keep)  # type: ignore[arg-type]
                    log.info("Zou: %s tasks built in %.1f s", f"{size:,}", zou.built["build_s"])
                except RuntimeError as error:
                    zou_error = str(error)
                    log.warning("Zou is not measured: %s", zou_error)
            with served_process(ftrack_like(), ours_url) as server:
                ours = Ours(server, api_key(ours_url), built)
                try:
                    mine, theirs = take_turns(ours, zou, options.repeat, options.small)
                finally:
                    ours.close()
                    if zou is not None:
                        zou.close()
            assert mine["list_found"] == size, mine["list_found"]
            result: dict[str, Any] = {"tasks": size, "ours": medians(mine), "ours_runs": mine}
            if theirs:
                assert theirs["list_found"] == size, theirs["list_found"]
                result.update(zou=medians(theirs), zou_runs=theirs, zou_built=zou.built)  # type: ignore[union-attr]
            results.append(result)
            log.info("%s", table(results[-1:]))
    print(table(results))
    if zou_error:
        print(f"Zou: {zou_error}")
    options.json.parent.mkdir(parents=True, exist_ok=True)
    conditions = {"python": platform.python_version(), "machine": platform.machine(), "repeat": options.repeat,
                  "small": options.small, "zou": ZOU, "gazu": GAZU, "zou_error": zou_error,
                  "when": datetime.datetime.now().isoformat()}  # fmt: skip
    options.json.write_text(json.dumps({"conditions": conditions, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
