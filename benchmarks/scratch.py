"""Throwaway things for a benchmark: a database (a new SQLite file, or a PostgreSQL schema of its
own), a studio of tasks made through a Session, and a served ``ftrack-like serve`` process on
a free port (:func:`ftrack_like` finds the command).

PostgreSQL is ``FTRACK_LIKE_TEST_POSTGRES`` (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Iterator

import requests
import sqlalchemy as sa

POSTGRES = os.environ.get("FTRACK_LIKE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def scratch_database(kind: str, postgres: str = POSTGRES, prefix: str = "bench") -> Iterator[str]:
    """The URL of a new, empty database of ``kind`` (``sqlite`` or ``postgresql``, a schema of its own
    in the server ``postgres`` names), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as folder:
            yield f"sqlite:///{folder}/{prefix}.db"
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres}{'&' if '?' in postgres else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class ServedUrl(str):
    """A served process's URL, which also knows the process's id (``pid``)."""

    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) process ``pid`` has used so far (Linux: /proc; elsewhere 0)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tasks_through_a_session(url: str, tasks: int) -> None:
    """``tasks`` tasks made through a Session on ``url``: one project, a shot for each 100 tasks,
    committed 10,000 at a time."""
    from ftrack_like_api import Session

    with Session(server_url=url, api_user="admin", schema_cache_path=False) as session:
        schema = session.query("ProjectSchema").first()
        project = session.create("Project", {"name": "bench", "project_schema": schema})
        shots = [session.create("Shot", {"name": f"sh{i:04d}", "parent": project}) for i in range(max(1, tasks // 100))]
        session.commit()
        for start in range(0, tasks, 10_000):
            for n in range(start, min(tasks, start + 10_000)):
                session.create("Task", {"name": f"task{n:06d}", "parent": shots[n % len(shots)]})
            session.commit()
            session.reset()


def ftrack_like() -> str:
    """The ``ftrack-like`` command beside this interpreter (else on PATH); SystemExit when it is not installed."""
    executable = shutil.which("ftrack-like", path=os.path.dirname(sys.executable)) or shutil.which("ftrack-like")
    if executable is None:
        raise SystemExit("ftrack-like is not installed: pip install -e '.[server]'")
    return executable


@contextlib.contextmanager
def served_process(
    executable: str, database: str, workers: int = 1, environment: dict[str, str] | None = None, port: int | None = None
) -> Iterator[ServedUrl]:
    """``ftrack-like serve --workers N`` as its own process (in ``environment``, default this one's), on ``port``
    (default a free one), once ``/ready`` answers; its URL (a :class:`ServedUrl`: ``.pid`` is the process's;
    on port 80 the URL names no port)."""
    port = port or free_port()
    log = tempfile.TemporaryFile("w+")
    server = subprocess.Popen([executable, "serve", "--port", str(port), "--workers", str(workers),
                               "--database", database, "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=log, env=environment)  # fmt: skip
    url = ServedUrl("http://127.0.0.1" if port == 80 else f"http://127.0.0.1:{port}")
    url.pid = server.pid
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"the server did not come up:\n{log.read()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
