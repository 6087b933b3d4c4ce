"""``ftrack-like backup`` under a write storm, ``ftrack-like restore`` into a new database of each kind: every row and
every file comes back, the snapshot holds together, and the restored studio works (files, event log)."""

import hashlib
import json
import os
import threading
import uuid

import pytest
import sqlalchemy as sa

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.cli import main  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402
from ftrack_like_api.server.ops.backup import encode, read_manifest, rows_of, studio_tables  # noqa: E402
from ftrack_like_api.symbol import SERVER_LOCATION_ID  # noqa: E402


def rows(backend):
    """Every row of every table, as the backup encodes them, in primary-key order."""
    found = {}
    with backend.engine.connect() as connection:
        for table in studio_tables(backend.storage.metadata):
            order = list(table.primary_key.columns) or list(table.columns)
            found[table.name] = [[encode(v) for v in row] for row in connection.execute(sa.select(*table.columns).order_by(*order))]
    return found


class Storm:
    """Commits tasks and publishes events from a thread of its own until stopped; how many it committed."""

    def __init__(self, url, parent):
        self.backend = Backend.from_url(url)
        self.parent, self.committed, self.failure = parent, 0, None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        try:
            while not self.stopped.is_set():
                task = str(uuid.uuid4())
                answer = self.backend.execute([{"action": "create", "entity_type": "Task", "entity_key": [task],
                                                "entity_data": {"id": task, "name": f"t{self.committed}",
                                                                "parent_id": self.parent}}], "admin")  # fmt: skip
                assert isinstance(answer, list), answer
                self.backend.publish({"topic": "studio.storm", "id": uuid.uuid4().hex, "data": {"n": self.committed}})
                self.committed += 1
        except Exception as failure:  # noqa: BLE001 - told to the test
            self.failure = failure

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        self.thread.join(60)
        self.backend.close()


def test_a_backup_under_writes_restores_every_row_and_file(fresh_database, another_database, tmp_path, monkeypatch,
                                                           capsys):  # fmt: skip
    source_files, target_files, folder = tmp_path / "files", tmp_path / "restored-files", tmp_path / "backup"
    monkeypatch.setenv("FTRACK_LIKE_STORAGE", str(source_files))
    with Session(server_url=fresh_database, api_user="admin") as session:
        project = session.create("Project", {"name": "backed", "full_name": "Backed",
                                             "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
        shot = session.create("Shot", {"name": "sh010", "parent": project})
        asset = session.create("Asset", {"name": "plate", "parent": shot, "type": session.query("AssetType").first()})
        version = session.create("AssetVersion", {"asset": asset})
        session.commit()
        sent = {}
        for n in range(3):
            path = tmp_path / f"plate.{n}.exr"
            path.write_bytes(os.urandom(200_000 + n))
            component = session.create_component(str(path), {"version": version, "name": f"frame{n}"},
                                                 location=session.get("Location", SERVER_LOCATION_ID))  # fmt: skip
            sent[component["id"]] = hashlib.sha256(path.read_bytes()).hexdigest()
        shot_id = shot["id"]
    with Storm(fresh_database, shot_id) as storm:
        while storm.committed < 20 and storm.failure is None:
            storm.stopped.wait(0.05)
        assert main(["backup", str(folder), "--database", fresh_database, "--storage", str(source_files)]) == 0
        before_end = storm.committed
        while storm.committed < before_end + 20 and storm.failure is None:  # writes go on after the backup
            storm.stopped.wait(0.05)
    assert storm.failure is None, storm.failure
    said = capsys.readouterr().out
    assert "backed up" in said and "3 file(s)" in said, said
    manifest = read_manifest(folder)
    storm_tasks = [dict(zip(columns, values)) for columns, values in rows_of(folder, "context", manifest["tables"]["context"])]
    storm_tasks = [row for row in storm_tasks if row["parent_id"] == shot_id]
    assert 20 <= len(storm_tasks) < storm.committed  # a moment of the storm, not its end
    storm_events = [dict(zip(columns, values)) for columns, values in rows_of(folder, "event_log", manifest["tables"]["event_log"])]
    assert len([e for e in storm_events if e["topic"] == "studio.storm"]) in (len(storm_tasks) - 1, len(storm_tasks))
    assert manifest["events"]["last_seq"] > 0 and set(manifest["files"]["stored"]) == set(sent)

    assert main(["restore", str(folder), "--database", another_database, "--storage", str(target_files)]) == 0
    # Every row the backup holds is in the restored database, and nothing else.
    with Backend.from_url(another_database) as restored:
        got = rows(restored)
        for name, entry in manifest["tables"].items():
            expected = [[encode(v) for v in values] for _, values in rows_of(folder, name, entry)]
            assert json.loads(json.dumps(got[name])) == json.loads(json.dumps(expected)), name
        # The event log goes on after the backup's last seq: a listener's cursor still means what it meant.
        assert restored.publish({"topic": "studio.after", "id": uuid.uuid4().hex}).seq > manifest["events"]["last_seq"]
    # The restored studio serves the same files, byte for byte.
    monkeypatch.setenv("FTRACK_LIKE_STORAGE", str(target_files))
    with Session(server_url=another_database, api_user="admin") as session:
        server = session.get("Location", SERVER_LOCATION_ID)
        for component_id, digest in sent.items():
            component = session.get("Component", component_id)
            url = server.get_url(component)  # in embedded mode, the stored file's file:// link
            assert url.startswith("file://") and str(target_files) in url
            with open(url[len("file://"):], "rb") as stored:
                assert hashlib.sha256(stored.read()).hexdigest() == digest
        assert session.query("Task where parent.id is {}".format(shot_id)).all()  # the storm's tasks, to the snapshot
    # A database that holds a studio is not overwritten unless asked.
    assert main(["restore", str(folder), "--database", another_database, "--storage", str(target_files)]) == 1
    assert "holds a studio already" in capsys.readouterr().err
    assert main(["restore", str(folder), "--database", another_database, "--storage", str(target_files),
                 "--replace"]) == 0  # fmt: skip


def test_a_damaged_or_foreign_backup_is_refused_saying_why(fresh_database, tmp_path, capsys):
    folder = tmp_path / "backup"
    Backend.from_url(fresh_database).close()
    assert main(["backup", str(folder), "--database", fresh_database]) == 0
    assert main(["backup", str(folder), "--database", fresh_database]) == 1  # not into a backup already there
    assert "not an empty folder" in capsys.readouterr().err
    target = f"sqlite:///{tmp_path}/restored/studio.db"
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tables"]["context"]["sha256"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["restore", str(folder), "--database", target]) == 1
    assert "the backup is damaged" in capsys.readouterr().err
    manifest["database"]["revision"] = "9999"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["restore", str(folder), "--database", f"sqlite:///{tmp_path}/other/studio.db"]) == 1
    assert "revision 9999, which this version does not know" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "nothing"), "--database", target]) == 1
    assert "holds no backup" in capsys.readouterr().err


def test_status_says_what_the_person_on_call_asks(fresh_database, capsys):
    from ftrack_like_api.server.events.listeners import Listeners

    with Backend.from_url(fresh_database) as backend:
        for _ in range(3):
            backend.publish({"topic": "studio.status", "id": uuid.uuid4().hex})
        with backend.engine.connect() as connection:
            user_id = connection.exec_driver_sql("SELECT id FROM resource WHERE username = 'admin'").scalar_one()
        Listeners(backend.engine, backend.storage.events).set_cursor(user_id, "studio-listeners", 1)
        last = backend.events.last()
    assert main(["status", "--database", fresh_database, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["database"]["pending_upgrades"] == [] and found["database"]["revision"] == found["database"]["head"]
    assert found["rows"]["User"] >= 1 and found["rows"]["Task"] == 0
    assert found["events"]["last_seq"] == last
    [listener] = found["listeners"]
    assert listener["user"] == "admin" and listener["name"] == "studio-listeners" and listener["behind"] == last - 1
    assert main(["status", "--database", fresh_database]) == 0
    table = capsys.readouterr().out
    assert "(up to date)" in table and "studio-listeners" in table and f"last seq {last:,}" in table
