"""Jobs a stopped server left ``queued`` or ``running``: failed when a server starts again.

A job runs in the server process that took it. Its data names that process (``worker``: a
tag of the machine's name and the process id), so a server starting on the same machine
knows the jobs of a process that is gone — whose id no process has now, or has its own
(a container restarted: every server is process 1) — and sets each ``failed``, saying the
server stopped, and removes any file it had stored for an output that never became a
component. Jobs of processes still running, or of other machines, are left to them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ....exceptions import ValidationError
from ..store import KeyRefused, StoreError, check_key

if TYPE_CHECKING:
    from .. import Files

__all__ = ["recover", "worker_tag"]

log = logging.getLogger(__name__)

STOPPED = "Encoding failed: the server stopped before the job ended; encode the media again"


def _machine() -> str:
    """This machine, as a tag that does not show its name to the users who read their jobs."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]


def worker_tag() -> str:
    """This process, as a job's data names it: ``<machine tag>:<process id>``."""
    return f"{_machine()}:{os.getpid()}"


def _gone(pid: int, job_id: str) -> bool:
    if pid == os.getpid():  # a job of this process's id that this process never took: a restarted container's
        from .jobs import TAKEN

        return job_id not in TAKEN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def recover(files: Files) -> int:
    """Fail the jobs of this machine's stopped server processes (call it before this process takes any); how many."""
    backend = files.backend
    job = backend.storage.table(backend.schema["Job"])
    component = backend.storage.table(backend.schema["Component"])
    machine = _machine()
    with backend.engine.connect() as connection:
        rows = connection.execute(sa.select(job.c.id, job.c.user_id, job.c.data).where(
            job.c.status.in_(("queued", "running")), job.c.data.like(f'%"worker": "{machine}:%'))).all()  # fmt: skip
    failed = 0
    try:
        store = files.store
    except ValidationError:  # no storage: nothing can have been stored
        store = None
    for row in rows:
        try:
            data: dict[str, Any] = json.loads(row.data or "{}")
            pid = int(str(data.get("worker", "")).split(":", 1)[1])
        except (ValueError, IndexError, TypeError):
            continue
        if not str(data.get("worker", "")).startswith(f"{machine}:") or not _gone(pid, str(row.id)):
            continue
        planned = [str(o.get("component_id")) for o in data.get("output") or () if isinstance(o, dict)]
        operation = {"action": "update", "entity_type": "Job", "entity_key": [row.id],
                     "entity_data": {"status": "failed", "data": json.dumps({**data, "output": [], "message": STOPPED})}}  # fmt: skip
        answer = backend.execute([operation], "", user_id=row.user_id)
        if isinstance(answer, dict):
            log.warning("could not fail the stopped encoding job %s: %s", row.id, answer.get("content"))
            continue
        failed += 1
        with backend.engine.connect() as connection:
            made = set(connection.execute(sa.select(component.c.id).where(component.c.id.in_(planned))).scalars())
        for component_id in planned:
            if component_id in made or store is None:
                continue
            try:
                store.remove(check_key(component_id))
            except (KeyRefused, StoreError) as error:
                log.warning("could not remove what the stopped job %s stored for %s: %s", row.id, component_id, error)
    if failed:
        log.info("failed %d encoding job(s) of a stopped server", failed)
    return failed
