"""Durable listeners as people run them: ``ftrack-like listen`` against a served server, stopped while changes
are committed and started again; parked events listed and replayed from the command line."""

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import textwrap
import time
import uuid

import pytest
import requests

from ftrack_like_api import Session
from ftrack_like_api.event.base import Event

PLUGINS = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "events"


def until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def environment(url, key, **extra):
    return {**os.environ, "FTRACK_SERVER": url, "FTRACK_API_USER": "admin", "FTRACK_API_KEY": key, **extra}


@contextlib.contextmanager
def listening(ftrack_like, env, *arguments):
    process = subprocess.Popen([ftrack_like, "listen", *arguments], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        process.stderr_text = err
        assert process.returncode == 0, err


def cursor(url, key, name):
    return requests.get(f"{url}/events/cursors/{name}", headers={"ftrack-user": "admin", "ftrack-api-key": key}).json()[
        "seq"
    ]


def logged(path, topic="studio.count"):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if json.loads(line)["topic"] == topic]


def stop_commit_start(ftrack_like, url, key, tmp_path):
    """Run the event logger as a listener, stop it, commit and publish, start it again: what it logged."""
    log_file = tmp_path / f"events-{uuid.uuid4().hex[:6]}.jsonl"
    name = f"logger-{uuid.uuid4().hex[:6]}"
    env = environment(url, key, FTRACK_LIKE_EVENT_LOG=str(log_file))
    arguments = ["--plugin-path", str(PLUGINS / "event_logger.py"), "--name", name]
    with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
        session.event_hub.connect()

        def publish(numbers):
            for n in numbers:
                session.event_hub.publish(Event("studio.count", data={"n": n}))
            assert session.event_hub._connection.flush(30)

        with listening(ftrack_like, env, *arguments):
            assert until(lambda: cursor(url, key, name) is not None)  # it has started: its place is now
            publish(range(10))
            assert until(lambda: len(logged(log_file)) >= 10)
        # Stopped: changes are committed and events published meanwhile.
        project = session.create("Project", {"name": f"p{uuid.uuid4().hex[:6]}",
                                             "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
        session.commit()
        publish(range(10, 25))
        made = [project["id"]]
        for n in range(3):
            made.append(session.create("Shot", {"name": f"sh{n}", "parent": project})["id"])
            session.commit()
        publish(range(25, 40))
        with listening(ftrack_like, env, *arguments):
            assert until(lambda: len(logged(log_file)) >= 40)
            assert until(lambda: set(made) <= updated(log_file))  # the commits' ftrack.update too
            time.sleep(1)  # and nothing more comes
    return log_file


def updated(log_file):
    return {entity["entityId"] for line in logged(log_file, "ftrack.update") for entity in line["data"]["entities"]}


def check_once_in_order(log_file):
    counted = logged(log_file)
    assert [line["data"]["n"] for line in counted] == list(range(40))
    everything = [json.loads(line) for line in log_file.read_text().splitlines()]
    seqs = [line["seq"] for line in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in the log's order, each once
    assert len({line["id"] for line in everything}) == len(everything)


def test_a_listener_stopped_and_started_again_processes_each_missed_event_once_in_order(
    server, admin_key, ftrack_like, tmp_path
):
    check_once_in_order(stop_commit_start(ftrack_like, server, admin_key, tmp_path))


@pytest.fixture
def two_workers(database, ftrack_like, backend):
    """``ftrack-like serve --workers 2`` on the module's database (PostgreSQL only: SQLite's workers poll)."""
    if not database.startswith("postgresql"):
        pytest.skip("two served workers: run on PostgreSQL")
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen([ftrack_like, "serve", "--port", str(port), "--workers", "2", "--database", database,
                               "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert until(lambda: _ready(url) or server.poll() is not None), "the server did not come up"
        assert server.poll() is None, server.stderr.read()
        yield url
    finally:
        server.terminate()
        server.communicate(timeout=60)


def _ready(url):
    try:
        return requests.get(f"{url}/ready", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_the_same_with_two_server_workers(two_workers, admin_key, ftrack_like, tmp_path):
    check_once_in_order(stop_commit_start(ftrack_like, two_workers, admin_key, tmp_path))


FLAKY = """
import os

def register(session):
    def handle(event):
        if event["data"].get("fail") and os.path.exists({flag!r}):
            raise RuntimeError("the render farm is down")
        with open({done!r}, "a") as out:
            out.write(str(event["data"]["n"]) + "\\n")

    session.event_hub.subscribe("topic=studio.flaky", handle)
"""


def test_a_callback_that_keeps_failing_is_parked_and_replayed_without_holding_up_the_rest(
    server, admin_key, ftrack_like, tmp_path
):
    flag, done = tmp_path / "farm-down", tmp_path / "done.txt"
    flag.touch()
    plugin = tmp_path / "plugins" / "flaky.py"
    plugin.parent.mkdir()
    plugin.write_text(textwrap.dedent(FLAKY.format(flag=str(flag), done=str(done))))
    env = environment(server, admin_key)
    name = f"flaky-{uuid.uuid4().hex[:6]}"
    arguments = ["--plugin-path", str(plugin.parent), "--name", name]
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        session.event_hub.connect()
        with listening(ftrack_like, env, *arguments, "--attempts", "2", "--backoff", "0.05"):
            assert until(lambda: cursor(server, admin_key, name) is not None)
            for n, fail in [(1, False), (2, True), (3, False)]:
                session.event_hub.publish(Event("studio.flaky", data={"n": n, "fail": fail}))
            assert until(lambda: done.exists() and done.read_text().split() == ["1", "3"])
    listed = subprocess.run([ftrack_like, "events", "parked", "--name", name, "--json"], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    (parked,) = json.loads(listed.stdout)
    assert parked["attempts"] == 2 and "the render farm is down" in parked["error"]
    assert parked["event"]["data"] == {"n": 2, "fail": True}
    readable = subprocess.run([ftrack_like, "events", "parked"], env=env, capture_output=True, text=True, check=True)
    assert name in readable.stdout and "RuntimeError: the render farm is down" in readable.stdout
    again = subprocess.run([ftrack_like, "events", "replay", "--plugin-path", str(plugin.parent), "--name", name,
                            "--attempts", "1"], env=env, capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 1 and "0 replayed, 1 failed again" in again.stdout  # the farm is still down
    flag.unlink()
    replayed = subprocess.run([ftrack_like, "events", "replay", "--plugin-path", str(plugin.parent), "--name", name],
                              env=env, capture_output=True, text=True)  # fmt: skip
    assert replayed.returncode == 0 and "1 replayed, 0 failed again" in replayed.stdout, replayed.stderr
    assert done.read_text().split() == ["1", "3", "2"]
    listed = subprocess.run([ftrack_like, "events", "parked", "--name", name, "--json"], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert json.loads(listed.stdout) == []


def test_tail_prints_the_live_stream(server, admin_key, ftrack_like, backend):
    env = environment(server, admin_key)
    # From where the log is now: however long the command takes to start, it misses nothing.
    tail = subprocess.Popen([ftrack_like, "events", "tail", "topic=studio.tailed", "--after", str(backend.events.last())],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
            session.event_hub.connect()
            session.event_hub.publish(Event("studio.tailed", data={"n": 1}))
            session.event_hub.publish(Event("studio.not-tailed", data={"n": 2}))
        line = json.loads(tail.stdout.readline())
        assert line["topic"] == "studio.tailed" and line["data"] == {"n": 1} and line["seq"] > 0
    finally:
        tail.send_signal(signal.SIGINT)
        tail.communicate(timeout=30)
    assert tail.returncode == 0
