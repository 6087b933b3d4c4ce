"""Several processes writing to one database at once: no deadlock, no lost write, no duplicate number."""

import json
import subprocess
import sys
import textwrap
import uuid

WORKER = textwrap.dedent(
    """
    import json, sys, uuid
    from ftrack_like_api.server import Backend

    url, asset, parent, batches = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    backend = Backend.from_url(url)
    errors = []
    for _ in range(batches):
        operations = []
        for _ in range(3):
            key = str(uuid.uuid4())
            operations.append({"action": "create", "entity_type": "AssetVersion", "entity_key": [key],
                               "entity_data": {"id": key, "asset_id": asset}})
            key = str(uuid.uuid4())
            operations.append({"action": "create", "entity_type": "Task", "entity_key": [key],
                               "entity_data": {"id": key, "name": "concurrent", "parent_id": parent}})
        answer = backend.execute(operations, "admin")
        if not isinstance(answer, list):
            errors.append(answer)
    backend.close()
    print(json.dumps(errors))
    """
)


def test_processes_writing_at_once_lose_nothing(backend, call, database):
    schema_id = call.query("ProjectSchema")[0]["id"]
    project = call.create("Project", name=f"race{uuid.uuid4().hex[:6]}", project_schema_id=schema_id)["id"]
    asset = call.create("Asset", name="contended", context_id=project)["id"]
    processes, batches = 4, 10
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, database, asset, project, str(batches)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]  # fmt: skip
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        assert json.loads(out) == []
    versions = sorted(v["version"] for v in call.query(f"select version from AssetVersion where asset_id is {asset}"))
    assert versions == list(range(1, processes * batches * 3 + 1))
    tasks = call.query(f'Task where parent_id is {project} and name is "concurrent"')
    assert len(tasks) == processes * batches * 3


OPENER = textwrap.dedent(
    """
    import sys
    from ftrack_like_api.server import Backend

    backend = Backend.from_url(sys.argv[1])
    answer = backend.execute([{"action": "query", "expression": "select username from User"}], "admin")
    backend.close()
    print(len(answer[0]["data"]))
    """
)


def test_processes_opening_one_new_database_at_once_build_it_once(fresh_database):
    openers = [
        subprocess.Popen([sys.executable, "-c", OPENER, fresh_database], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    for opener in openers:
        out, err = opener.communicate(timeout=240)
        assert opener.returncode == 0, err
        assert out.strip() == "1"  # one admin: seeded once
