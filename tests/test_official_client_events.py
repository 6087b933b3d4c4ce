"""The official ftrack-python-api client's event hub, unchanged, against our server.

Each official client runs in a process of its own (its virtual environment: see
``official_python`` in conftest.py). A listener subscribes to ``ftrack.update`` and answers
``test.ask``; it receives the change another process commits, and an asker (another
official client) gets its answer as a reply; then the listener unsubscribes. The same holds
with two server workers on PostgreSQL, where the listener's socket and the commits reach
the workers the system hands them to.
"""

import contextlib
import json
import queue
import subprocess
import textwrap
import threading
import time
import uuid

import pytest

pytest.importorskip("websockets", reason="the server extra is not installed")

import requests  # noqa: E402

from ftrack_like_api.server import Backend  # noqa: E402
from ftrack_like_api.server.app import create_app, serving  # noqa: E402

#: The official client, subscribed, answering ``test.ask`` and telling what it receives (a JSON line each);
#: driven by lines on its stdin: ``unsubscribe``, ``ping`` (an event back to itself, once connected), ``quit``.
LISTENER = textwrap.dedent(
    """
    import json, logging, queue, sys, threading, time, uuid
    import ftrack_api
    from ftrack_api.event.base import Event

    server, user, key = sys.argv[1:4]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=True,
                                 schema_cache_path=False)
    hub = session.event_hub
    deadline = time.time() + 60
    while not hub.connected and time.time() < deadline:
        time.sleep(0.05)

    def say(**what):
        print(json.dumps(what), flush=True)

    def ping():
        # Back to itself once the server has what was sent before it: packets are handled in order.
        tag, got = uuid.uuid4().hex, []
        subscriber = hub.subscribe("topic=test.ping and data.tag=" + tag, got.append)
        hub.publish(Event("test.ping", data={"tag": tag}))
        deadline = time.time() + 60
        while not got and time.time() < deadline:
            hub.wait(0.05)
        hub.unsubscribe(subscriber)
        return bool(got)

    hub.subscribe("topic=ftrack.update", lambda event: say(update=event["data"], source=event["source"]))
    asked = hub.subscribe("topic=test.ask", lambda event: {"answer": event["data"]["question"] * 2, "by": hub.id,
                                                            "user": event["source"]["user"]["username"]})
    say(ready=ping(), hub=hub.id)
    commands = queue.Queue()
    threading.Thread(target=lambda: [commands.put(line.strip()) for line in sys.stdin], daemon=True).start()
    while True:
        hub.wait(0.05)
        try:
            command = commands.get_nowait()
        except queue.Empty:
            continue
        if command == "unsubscribe":
            hub.unsubscribe(asked)
            say(unsubscribed=ping())
        elif command == "ping":
            say(pinged=ping())
        elif command == "quit":
            break
    hub.disconnect()
    say(done=True)
    """
)

#: The official client publishing ``test.ask`` and waiting for the replies.
ASKER = textwrap.dedent(
    """
    import json, sys, time
    import ftrack_api
    from ftrack_api.event.base import Event

    server, user, key, question, wait = sys.argv[1:6]
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=True,
                                 schema_cache_path=False)
    hub = session.event_hub
    deadline = time.time() + 60
    while not hub.connected and time.time() < deadline:
        time.sleep(0.05)
    replies = []
    hub.publish(Event("test.ask", data={"question": question}), on_reply=lambda event: replies.append(event["data"]))
    deadline = time.time() + float(wait)
    while not replies and time.time() < deadline:
        hub.wait(0.05)
    print(json.dumps({"replies": replies}))
    """
)


class Listener:
    """The LISTENER script running: what it says, a JSON object a line."""

    def __init__(self, python, url, user, key):
        self.process = subprocess.Popen([python, "-c", LISTENER, url, user, key], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        self.said = queue.Queue()
        self.errors = []  # its stderr, read as it comes (a full pipe would stop it)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.error_reader = threading.Thread(target=lambda: self.errors.extend(self.process.stderr), daemon=True)
        self.error_reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.said.put(json.loads(line))

    def next(self, key, timeout=60):
        """The next thing said with ``key`` (others on the way are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                said = self.said.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"the listener said no {key!r}:\n{self.stop()[-3000:]}") from None
            if key in said:
                return said

    def tell(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def stop(self):
        """Its stderr, once it has ended (its pipes closed)."""
        if self.process.stdout.closed:
            return "".join(self.errors)
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.tell("quit")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        self.reader.join(timeout=30)
        self.error_reader.join(timeout=30)
        self.process.stdout.close()
        self.process.stderr.close()
        return "".join(self.errors)


def ask(python, url, user, key, question, wait=30):
    run = subprocess.run([python, "-c", ASKER, url, user, key, question, str(wait)], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])["replies"]


def create_project(url, key):
    """A project created through ``POST /api`` (as any client would): its id."""
    headers = {"ftrack-user": "admin", "ftrack-api-key": key, "connection": "close"}
    schema = requests.post(f"{url}/api", json=[{"action": "query", "expression": "select id from ProjectSchema"}],
                           headers=headers, timeout=60).json()[0]["data"][0]["id"]  # fmt: skip
    project = str(uuid.uuid4())
    answer = requests.post(f"{url}/api", headers=headers, timeout=60, json=[{
        "action": "create", "entity_type": "Project", "entity_key": [project],
        "entity_data": {"id": project, "name": f"events-{project[:8]}", "full_name": "Events", "project_schema_id": schema},
    }])  # fmt: skip
    assert answer.status_code == 200 and isinstance(answer.json(), list), answer.text
    return project


def updated(said, entity_id):
    """Whether an ``ftrack.update`` the listener told of names ``entity_id``."""
    return entity_id in json.dumps(said["update"])


def test_the_official_clients_hub_subscribes_receives_updates_and_replies(official_python, database):
    with Backend.from_url(database) as backend:
        app = create_app(backend)
        with serving(app) as url:
            key = backend.auth.create_key("admin", "official hub")
            listener = Listener(official_python, url, "admin", key)
            try:
                ready = listener.next("ready")
                assert ready["ready"] is True
                project = create_project(url, key)  # this process commits; the listener's process hears
                said = listener.next("update")
                while not updated(said, project):
                    said = listener.next("update")
                (entity,) = [e for e in said["update"]["entities"] if e["entityId"] == project]
                assert (entity["action"], entity["entityType"], entity["entity_type"]) == ("add", "show", "Project")
                assert said["update"]["user"]["name"] and said["source"]["user"]["username"] == "admin"
                # Another official client asks; the listener's callback answers, its return value a reply.
                replies = ask(official_python, url, "admin", key, "ab")
                assert replies == [{"answer": "abab", "by": ready["hub"], "user": "admin"}]
                listener.tell("unsubscribe")
                assert listener.next("unsubscribed")["unsubscribed"] is True
                wanted = {t for c in app.state.hub.connections for t in (c.subscribers.topics or {"*"})}
                assert "test.ask" not in wanted and "ftrack.update" in wanted  # as the server sees them now
                listener.tell("quit")
                assert listener.next("done")["done"] is True
            finally:
                errors = listener.stop()
            assert "Server failed" not in errors, errors  # every subscribe and unsubscribe was acknowledged


def test_a_malformed_subscription_is_refused_to_the_official_client_with_where(official_python, tmp_path):
    # ftrack's own parser takes "data..x=1" (its keys are any run of letters, digits, _ and .);
    # ours does not, and the acknowledgement says so: ftrack's client logs it as a warning.
    script = textwrap.dedent(
        """
        import logging, sys, time
        import ftrack_api
        logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(message)s")
        server, user, key = sys.argv[1:4]
        session = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=True,
                                     schema_cache_path=False)
        while not session.event_hub.connected:
            time.sleep(0.05)
        session.event_hub.subscribe("topic=ftrack.update and data..x=1", lambda event: None)
        session.event_hub.wait(2)
        """
    )
    with Backend.from_url(f"sqlite:///{tmp_path / 'hub.db'}") as backend, serving(create_app(backend)) as url:
        key = backend.auth.create_key("admin", "official hub")
        run = subprocess.run([official_python, "-c", script, url, "admin", key], capture_output=True, text=True,
                             timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Server failed to subscribe subscriber" in run.stdout and "column 29" in run.stdout, run.stdout


def test_wrong_credentials_are_refused_at_the_handshake(official_python, tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import ftrack_api.event.hub, ftrack_api.exception
        hub = ftrack_api.event.hub.EventHub(sys.argv[1], "admin", "not a key")
        try:
            hub.connect()
        except ftrack_api.exception.EventHubConnectionError as error:
            print(error)
        """
    )
    with Backend.from_url(f"sqlite:///{tmp_path / 'hub.db'}") as backend, serving(create_app(backend)) as url:
        run = subprocess.run([official_python, "-c", script, url], capture_output=True, text=True, timeout=120)
    assert "Received unexpected status code 401" in run.stdout, run.stdout + run.stderr


# --- two workers on PostgreSQL -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_with_two_workers_on_postgresql_events_reach_every_worker(official_python, database, serve):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "official hub")
    with serve(database, "--workers", "2") as url:
        listener = Listener(official_python, url, "admin", key)
        try:
            assert listener.next("ready")["ready"] is True
            # Each commit on a connection of its own: the workers share them, and the listener's
            # socket is on one of the two; every change reaches it all the same.
            projects = [create_project(url, key) for _ in range(6)]
            heard = set()
            while len(heard) < len(projects):
                said = listener.next("update")
                heard |= {project for project in projects if updated(said, project)}
            for _ in range(3):  # the askers' sockets land on either worker too
                assert ask(official_python, url, "admin", key, "xy")[0]["answer"] == "xyxy"
        finally:
            errors = listener.stop()
        assert "Server failed" not in errors, errors


def test_the_official_client_reconnects_to_a_restarted_server_and_subscribes_again(official_python, database, serve):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "official hub")
    listener = None
    try:
        with serve(database) as url:
            listener = Listener(official_python, url, "admin", key)
            assert listener.next("ready")["ready"] is True
        # The server stopped: ftrack's client tries again (every 10 s), shakes hands with the new
        # server on the same port, and tells it of its subscribers again.
        with serve(database, port=int(url.rsplit(":", 1)[1])):
            listener.tell("ping")  # published meanwhile, it waits for the connection and comes back then
            assert listener.next("pinged", timeout=120)["pinged"] is True
            project = create_project(url, key)
            said = listener.next("update", timeout=120)
            while not updated(said, project):
                said = listener.next("update", timeout=120)
    finally:
        errors = listener.stop() if listener is not None else ""
    assert "Server failed" not in errors, errors
