"""The ``encode_media`` action and the jobs that carry it out, in the background.

The action (inside its batch) checks what it is given and creates a ``Job``, ``queued``, whose
``data`` names the source and the components to come (ftrack's shape)::

    {"description": "Encoding media", "source_component_id": …, "keep_original": true,
     "output": [{"format": "video/mp4", "component_id": …}, …]}

and answers ``{"job_id": …}``. Once the batch commits, the job goes to a bounded pool of
worker threads (:class:`Pool`, ``FTRACK_LIKE_ENCODE_WORKERS``, 1 by default). A worker sets it
``running``, encodes with ffmpeg into a folder of its own, stores each file made in the server
location's store, then in one batch creates the components (with their ``ftr_meta``), their
place in ``ftrack.server``, the job's ``job_components``, the version's thumbnail (with
``version_id``), removes the source (without ``keep_original``) and sets the job ``done``. A
failure anywhere sets it ``failed``, its ``data`` saying why (ffmpeg's last error line) with
no output, and removes every file stored for it: no half components are left.

Every write of a worker is a batch of the job's user, through the engine: its events,
permissions and integrity are those of any batch.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import queue
import tempfile
import threading
import uuid
from typing import TYPE_CHECKING, Any, Callable, Mapping

import sqlalchemy as sa

from ....exceptions import ValidationError
from ..store import KeyRefused, StoreError, check_key
from .encode import THUMBNAIL, Output, Planned, encode, ftr_meta, plan_for
from .recovery import recover, worker_tag
from .tools import MissingTool, ToolFailed, find_tools, probe

if TYPE_CHECKING:
    from ...engine.batch import BatchContext
    from .. import Files

__all__ = ["Media", "Pool", "TAKEN", "TIMEOUT_VARIABLE", "Task", "WORKERS_VARIABLE"]

log = logging.getLogger(__name__)

#: How many jobs encode at once in one server process.
WORKERS_VARIABLE = "FTRACK_LIKE_ENCODE_WORKERS"
#: The longest one ffmpeg run may take, in seconds.
TIMEOUT_VARIABLE = "FTRACK_LIKE_ENCODE_TIMEOUT"
SERVER_LOCATION_ID = "3a372bde-05bc-11e4-8908-20c9d081909b"
#: The jobs this process has taken and not finished (a restarted server fails the others: ``recovery.py``).
TAKEN: set[str] = set()
#: Seconds an idle worker thread waits for another job before it ends.
IDLE = 30.0


@dataclasses.dataclass
class Task:
    """One job to carry out: who asked, the source, where the components go, and the job's data."""

    job_id: str
    username: str
    user_id: str
    source_id: str
    file_type: str
    version_id: str | None
    keep_original: bool
    outputs: list[tuple[Planned, str]]
    data: dict[str, Any]


class Pool:
    """At most ``workers`` threads running ``run(task)`` on queued tasks; idle threads end."""

    def __init__(self, workers: int, run: Callable[[Task], None]) -> None:
        self.workers = max(1, workers)
        self._run = run
        self._queue: queue.Queue[Task] = queue.Queue()
        self._lock = threading.Lock()
        self._threads = 0

    @property
    def threads(self) -> int:
        """How many worker threads are alive (at most :attr:`workers`)."""
        return self._threads

    def submit(self, task: Task) -> None:
        with self._lock:
            self._queue.put(task)
            if self._threads < self.workers:
                self._threads += 1
                threading.Thread(target=self._work, name="ftrack-like-encode", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                task = self._queue.get(timeout=IDLE)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._threads -= 1
                        return
                continue
            try:
                self._run(task)
            except Exception:  # the job's own failure is recorded by run; this is a fault of ours
                log.exception("encoding job %s failed", task.job_id)


def _setting(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


class Media:
    """Media encoding for one backend's files: the action, and the pool that runs its jobs."""

    def __init__(self, files: Files) -> None:
        self.files = files
        self.pool = Pool(int(_setting(WORKERS_VARIABLE, 1)), self.run)
        self.timeout = _setting(TIMEOUT_VARIABLE, 3600)

    # --- the action, inside its batch ----------------------------------------------------------

    def request(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        """Check an ``encode_media`` operation, create its queued Job, and hand it to the pool after the commit."""
        from ...auth.permissions import PermissionDenied

        try:
            component_id = check_key(operation.get("component_id"))
        except KeyRefused as refused:
            raise ValidationError(f"'component_id' must be a component's id: {refused}", "bad_request") from None
        keep = operation.get("keep_original", "auto")
        keep = True if keep == "auto" else keep
        if not isinstance(keep, bool):
            raise ValidationError(f"'keep_original' must be true, false or \"auto\" (not {keep!r})", "bad_request")
        version_id = operation.get("version_id")
        if version_id is not None and not isinstance(version_id, str):
            raise ValidationError(f"'version_id' must be an AssetVersion's id (not {version_id!r})", "bad_request")
        principal = batch.principal
        if not principal.writes or principal.id is None:
            raise PermissionDenied(f"{principal.username} may read, not write: encoding media makes components",
                                   "read_only")  # fmt: skip
        try:
            find_tools()
        except MissingTool as missing:
            raise ValidationError(str(missing), "no_encoder") from None
        files, connection = self.files, batch.connection
        if keep:
            files.access.readable(connection, principal, component_id)
        else:  # the source is removed once encoded
            files.access.writable(connection, principal, component_id)
        if files.store.size(component_id) is None:
            raise ValidationError(f"Component {component_id} has no file in the ftrack.server location: add it there "
                                  "(upload it) before encoding it", "not_stored")  # fmt: skip
        if version_id is not None:
            self._version(batch, version_id)
        table = files.access.table
        file_type = connection.execute(sa.select(table.c.file_type).where(table.c.id == component_id)).scalar() or ""
        outputs = [(planned, str(uuid.uuid4())) for planned in plan_for(file_type)]
        data = {"description": "Encoding media", "source_component_id": component_id, "keep_original": keep,
                "output": [{"format": planned.format, "component_id": made} for planned, made in outputs],
                "worker": worker_tag()}  # fmt: skip
        job_id = str(uuid.uuid4())
        self.files.backend.writer.create(batch, "Job", {"id": job_id, "status": "queued", "user_id": principal.id,
                                                        "data": json.dumps(data)})  # fmt: skip
        task = Task(job_id, principal.username, principal.id, component_id, file_type, version_id, keep, outputs, data)
        TAKEN.add(job_id)
        files.after_commit(batch, lambda: self.pool.submit(task))
        return {"job_id": job_id}

    def _version(self, batch: BatchContext, version_id: str) -> None:
        """The version must be one the user sees (else not found) and may change (else refused)."""
        from ...auth.permissions import PermissionDenied

        backend = self.files.backend
        entity_type = backend.schema["AssetVersion"]
        table = backend.storage.table(entity_type)
        principal = batch.principal
        for projects, denied in ((principal.readable, False), (principal.writable, True)):
            if denied and (projects is None or projects == principal.readable):
                continue
            where = [table.c.id == version_id]
            inside = backend.compiler.visible(entity_type, table, projects)
            if inside is not None:
                where.append(inside)
            if batch.connection.execute(sa.select(table.c.id).where(*where)).first() is None:
                if denied:
                    raise PermissionDenied("this AssetVersion is in a project you may not change", "permission")
                raise ValidationError(f"No AssetVersion with id {version_id} (version_id)", "not_found")

    # --- a job, in a worker thread ----------------------------------------------------------------

    def run(self, task: Task) -> None:
        """Carry out one job: running, encoded, stored, its components made and the job done — or failed."""
        try:
            self._run(task)
        finally:
            TAKEN.discard(task.job_id)

    def recover(self) -> int:
        """Fail the jobs this machine's stopped servers left (a server calls it as it starts): ``recovery.py``."""
        return recover(self.files)

    def _run(self, task: Task) -> None:
        if not self._execute(task, [self._job_update(task, "running")]):
            return
        stored: list[str] = []
        try:
            with tempfile.TemporaryDirectory(prefix="ftrack-like-encode-") as folder:
                made = self._encode(task, folder)
                for output, (_, component_id) in zip(made, task.outputs):
                    self._store(component_id, output.path)
                    stored.append(component_id)
                problem = self._finish(task, made)
        except (ToolFailed, MissingTool, StoreError, OSError) as error:
            problem = str(error) or type(error).__name__
        except Exception as error:
            log.exception("encoding job %s failed", task.job_id)
            problem = f"the server failed while encoding: {type(error).__name__}"
        if problem is None:
            return
        self._remove(stored)
        self._fail(task, problem)

    def _encode(self, task: Task, folder: str) -> list[Output]:
        tools = find_tools()
        store = self.files.store
        source = store.path(task.source_id)
        if source is None or not source.exists():
            copied = os.path.join(folder, f"source{task.file_type if task.file_type.startswith('.') else ''}")
            with open(copied, "wb") as out:
                for chunk in store.open(task.source_id):
                    out.write(chunk)
            source_path = copied
        else:
            source_path = str(source)
        try:
            found = probe(tools, source_path, self.timeout)
            return encode(tools, source_path, found, [planned for planned, _ in task.outputs], folder, self.timeout)
        except ToolFailed as failed:  # ffmpeg names the files: the server's own paths are none of the user's business
            said = str(failed).replace(source_path, "the source file").replace(folder + os.sep, "")
            raise ToolFailed(said) from None

    def _store(self, component_id: str, path: str) -> None:
        limit = self.files.max_upload if self.files.max_upload is not None else 2**62

        def chunks() -> Any:
            with open(path, "rb") as source:
                while chunk := source.read(1 << 20):
                    yield chunk

        self.files.store.write_file(component_id, chunks(), limit)

    def _finish(self, task: Task, made: list[Output]) -> str | None:
        """The components, their place, the job's links and the job done, in one batch; what went wrong, or None."""
        operations: list[dict[str, Any]] = []
        for output, (planned, component_id) in zip(made, task.outputs):
            component = {"id": component_id, "name": planned.name, "file_type": planned.file_type, "size": output.size}
            if task.version_id is not None:
                component["version_id"] = task.version_id
            operations.append(_create("FileComponent", component))
            operations.append(_create("ComponentLocation", {"id": str(uuid.uuid4()), "component_id": component_id,
                                                            "location_id": SERVER_LOCATION_ID,
                                                            "resource_identifier": component_id}))  # fmt: skip
            meta = ftr_meta(output)
            if meta is not None:
                operations.append(_create("Metadata", {"parent_id": component_id, "parent_type": "FileComponent",
                                                       "key": "ftr_meta", "value": meta}))  # fmt: skip
            operations.append(_create("JobComponent", {"component_id": component_id, "job_id": task.job_id}))
        thumbnail = next((made_id for planned, made_id in task.outputs if planned is THUMBNAIL), None)
        if task.version_id is not None and thumbnail is not None:
            operations.append({"action": "update", "entity_type": "AssetVersion", "entity_key": [task.version_id],
                               "entity_data": {"thumbnail_id": thumbnail}})  # fmt: skip
        if not task.keep_original:
            operations.append({"action": "delete", "entity_type": "FileComponent", "entity_key": [task.source_id]})
        operations.append(self._job_update(task, "done"))
        answer = self.files.backend.execute(operations, task.username, user_id=task.user_id)
        if isinstance(answer, dict):
            return f"the encoded components could not be saved: {answer.get('content')}"
        return None

    def _job_update(self, task: Task, status: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        values: dict[str, Any] = {"status": status}
        if status in ("done", "failed"):
            values["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        if data is not None:
            values["data"] = json.dumps(data)
        return {"action": "update", "entity_type": "Job", "entity_key": [task.job_id], "entity_data": values}

    def _fail(self, task: Task, problem: str) -> None:
        log.warning("encoding job %s failed: %s", task.job_id, problem)
        data = {**task.data, "output": [], "message": f"Encoding failed: {problem}"}
        self._execute(task, [self._job_update(task, "failed", data)])

    def _execute(self, task: Task, operations: list[dict[str, Any]]) -> bool:
        answer = self.files.backend.execute(operations, task.username, user_id=task.user_id)
        if isinstance(answer, dict):
            log.warning("encoding job %s: could not update the job: %s", task.job_id, answer.get("content"))
            return False
        return True

    def _remove(self, component_ids: list[str]) -> None:
        for component_id in component_ids:
            try:
                self.files.store.remove(component_id)
            except StoreError as error:
                log.warning("could not remove the stored file of %s: %s", component_id, error)


def _create(entity_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"action": "create", "entity_type": entity_type, "entity_data": data}
