"""The example plugins in plugins/events/, each end to end over HTTP against a real served server."""

import json
import pathlib
import threading
import time
import uuid

import pytest

from ftrack_like_api import Session
from ftrack_like_api.event.base import Event
from ftrack_like_api.event.listener import Listener

PLUGINS = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "events"


def until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def connect(server, admin_key):
    made = []

    def session(*plugins, **arguments):
        created = Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False,
                          plugin_paths=[str(PLUGINS / p) for p in plugins], plugin_arguments=arguments)  # fmt: skip
        made.append(created)
        return created

    yield session
    for created in made:
        created.close()


@pytest.fixture
def listening(connect):
    """Run plugins as a durable listener in a thread."""
    running = []

    def start(*plugins, **arguments):
        session = connect(*plugins, **arguments)
        listener = Listener(session.event_hub, f"test-{uuid.uuid4().hex[:6]}")
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        assert listener.started.wait(30)
        running.append((listener, thread))
        return listener

    yield start
    for listener, thread in running:
        listener.stop()
        thread.join(30)


def shot_with_tasks(session, count):
    project = session.create("Project", {"name": f"p{uuid.uuid4().hex[:8]}",
                                         "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    tasks = [session.create("Task", {"name": f"t{n}", "parent": shot}) for n in range(count)]
    session.commit()
    return shot, tasks


def test_status_propagation_approves_the_shot_once_every_task_is(connect, listening):
    listening("status_propagation.py")
    artist = connect()
    shot, tasks = shot_with_tasks(artist, 3)
    approved = artist.query('Status where name is "Approved"').one()
    for task in tasks[:2]:
        task["status"] = approved
    artist.commit()
    time.sleep(1)
    check = connect()
    assert check.query(f'select status.name from Shot where id is "{shot["id"]}"').one()["status"]["name"] != "Approved"
    tasks[2]["status"] = approved
    artist.commit()

    def shot_status():
        fresh = connect()
        return fresh.query(f'select status.name from Shot where id is "{shot["id"]}"').one()["status"]["name"]

    assert until(lambda: shot_status() == "Approved")


def test_a_published_version_is_told_as_a_notification_event(connect, listening):
    listening("version_notification.py")
    watcher = connect()
    told = []
    watcher.event_hub.subscribe("topic=studio.notify.version-published", told.append)
    watcher.event_hub.connect()
    artist = connect()
    shot, _ = shot_with_tasks(artist, 0)
    asset = artist.create("Asset", {"name": "bg_plate", "parent": shot, "type": artist.query("AssetType").first()})
    version = artist.create("AssetVersion", {"asset": asset, "version": 3})
    artist.commit()
    assert until(lambda: told)
    assert told[0]["data"]["version_id"] == version["id"] and told[0]["data"]["asset"] == "bg_plate"
    assert told[0]["data"]["version"] == 3


def test_an_action_answers_discover_and_launch(connect):
    connect("hello_action.py").event_hub.connect()
    app = connect()
    app.event_hub.connect()
    found, launched = [], []
    app.event_hub.publish(Event("ftrack.action.discover", data={"selection": []}), on_reply=found.append)
    assert until(lambda: found)
    (item,) = found[0]["data"]["items"]
    assert item["actionIdentifier"] == "ftrack-like.hello"
    selection = [{"entityId": "a", "entityType": "task"}, {"entityId": "b", "entityType": "task"}]
    app.event_hub.publish(Event("ftrack.action.launch", data={"actionIdentifier": item["actionIdentifier"],
                                                               "selection": selection}), on_reply=launched.append)  # fmt: skip
    assert until(lambda: launched)
    assert launched[0]["data"] == {"success": True, "message": "Hello admin: 2 selected"}


def test_the_event_logger_writes_each_event_as_a_json_line(connect, listening, tmp_path):
    path = tmp_path / "events.jsonl"
    # A session with the plugin builds its entity types: an event each, to its own process only.
    assert connect("event_logger.py", event_log=str(path)).types
    listening("event_logger.py", event_log=str(path))
    publisher = connect()
    publisher.event_hub.connect()
    publisher.event_hub.publish(Event("studio.logged", data={"n": 1}))
    assert until(lambda: path.exists() and "studio.logged" in path.read_text())
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines and all(line["seq"] is not None for line in lines)  # the log's events, not the session's own
