"""Aquarium's event stream (``/v1/events/stream``) read by the official client, fed by every API's changes."""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

PASSWORD = "correct horse battery"

LISTEN = textwrap.dedent(
    """
    import json, sys, threading, time
    from aquarium import Aquarium

    url, password, resume, project = sys.argv[1:5]
    writer = Aquarium(api_url=url + "/")
    writer.signin("admin", password)
    listener = Aquarium(api_url=url + "/", token=writer.token)
    seen = []
    listener.events.subscribe("*", lambda event: seen.append([event.topic, event.data.type, event.data._key]))
    shots = []
    listener.events.subscribe("item.created.Shot", lambda event: shots.append(event.data._key))
    if resume != "-":
        listener.events.last_timestamp = resume
    listener.events.listen()
    threading.Thread(target=listener.events.start, daemon=True).start()
    made = {}
    if project == "-":
        time.sleep(1)
        project = writer.item.create(type="Project", data={"name": "Events"})
        shot = project.append(type="Shot", data={"name": "sh010"}).item
        note = project.append(type="Note", data={"name": "kept whole"}).item
        shot.update_data({"frames": 10})
        task = shot.append(type="Task", data={"name": "comp"}).item
        task.assign_to(writer.me()._key)
        note.delete()
        made = {"project": project._key, "shot": shot._key, "note": note._key, "task": task._key}
    deadline = time.time() + 20
    while time.time() < deadline and len(seen) < (11 if made else 2):  # what the test expects, or its failure in 20 s
        time.sleep(0.2)
    listener.events.stop()
    print(json.dumps({"seen": seen, "shots": shots, "made": made, "last": listener.events.last_timestamp}))
    """
)


def test_changes_through_any_api_reach_the_client_s_event_stream(aquarium_python, database, serve, tmp_path):
    with Backend.from_url(database) as backend:
        backend.auth.set_password("admin", PASSWORD)
        key = backend.auth.create_key("admin", "pipeline")
    with serve(database, "--storage", str(tmp_path)) as url:
        first = _run(aquarium_python, url, "-", "-")
        made = first["made"]
        session = Session(server_url=url, api_user="admin", api_key=key)  # a change through our own API, while away
        project = session.get("Project", made["project"])
        shot = session.create("Shot", {"name": "sh020", "parent": project})
        session.commit()
        second = _run(aquarium_python, url, first["last"], made["project"])
        session.close()

    assert first["seen"] == [
        ["item.created.Project", "Project", made["project"]],
        ["item.created.Shot", "Shot", made["shot"]],
        ["edge.created.Child", "Child", "parent-" + made["shot"]],
        ["item.created.Note", "Note", made["note"]],
        ["edge.created.Child", "Child", first["seen"][4][2]],
        ["item.updated.Shot", "Shot", made["shot"]],
        ["item.created.Task", "Task", made["task"]],
        ["edge.created.Child", "Child", "parent-" + made["task"]],
        ["edge.created.Assigned", "Assigned", first["seen"][8][2]],
        ["item.deleted.Note", "Note", made["note"]],
        ["edge.deleted.Child", "Child", first["seen"][4][2]],
    ]
    assert first["shots"] == [made["shot"]]
    # Resumed from the last event seen: only what happened since, once.
    assert second["seen"][:2] == [["item.created.Shot", "Shot", shot["id"]], ["edge.created.Child", "Child", "parent-" + shot["id"]]]
    assert second["shots"] == [shot["id"]]


def _run(python, url, resume, project):
    run = subprocess.run([python, "-c", LISTEN, url, PASSWORD, resume, project], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


PUBLISHED = textwrap.dedent(
    """
    import json, sys, threading, time
    from aquarium import Aquarium

    url, password, resume = sys.argv[1:4]
    listener = Aquarium(api_url=url + "/")
    listener.signin("admin", password)
    seen = []
    listener.events.subscribe("*", lambda event: seen.append([event.topic, event.data._key]))
    listener.events.last_timestamp = resume
    listener.events.listen()
    threading.Thread(target=listener.events.start, daemon=True).start()
    deadline = time.time() + 20
    while time.time() < deadline and not any(topic == "edge.created.Dependency" for topic, _ in seen):
        time.sleep(0.2)
    listener.events.stop()
    print(json.dumps(seen))
    """
)


def test_what_ftrack_publishes_reaches_the_stream_as_versions_media_comments_jobs_and_links(aquarium_python, database, serve,
                                                                                         tmp_path):  # fmt: skip
    with Backend.from_url(database) as backend:
        backend.auth.set_password("admin", PASSWORD)
        key = backend.auth.create_key("admin", "pipeline")
        last = backend.events.last()
    with serve(database, "--storage", str(tmp_path)) as url:
        session = Session(server_url=url, api_user="admin", api_key=key)
        project = session.create("Project", {"name": "published", "full_name": "Published",
                                             "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
        shot = session.create("Shot", {"name": "sh010", "parent": project})
        other = session.create("Shot", {"name": "sh020", "parent": project})
        task = session.create("Task", {"name": "comp", "parent": shot})
        asset = session.create("Asset", {"name": "comp", "parent": shot})
        version = session.create("AssetVersion", {"asset": asset, "task": task})
        component = session.create("FileComponent", {"name": "main", "version": version})
        note = session.create("Note", {"content": "hi", "parent_id": task["id"], "parent_type": "Task",
                                       "author": session.query('User where username is "admin"').one()})  # fmt: skip
        timelog = session.create("Timelog", {"context_id": task["id"], "duration": 60})
        link = session.create("TypedContextLink", {"from_id": shot["id"], "to_id": other["id"]})
        session.commit()
        run = subprocess.run([aquarium_python, "-c", PUBLISHED, url, PASSWORD, str(last)], capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        session.close()
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    for topic, made in (("item.created.Version", version), ("item.created.Media", component), ("item.created.Comment", note),
                        ("item.created.Job", timelog), ("edge.created.Dependency", link)):  # fmt: skip
        assert [topic, made["id"]] in seen, (topic, seen)
