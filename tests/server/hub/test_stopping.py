"""``ftrack-like serve`` stopped with clients connected: it ends event streams and hub sockets, exits
in under 5 s with no traceback, and the clients — our hub, a durable listener started before
the server was up, ``events tail`` and ftrack's hub — carry on with the next server from where
they were: nothing missed, nothing twice."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
import requests

pytest.importorskip("websockets", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

PLUGIN = textwrap.dedent(
    """
    import pathlib

    def register(session, **kw):
        out = pathlib.Path({out!r})

        def record(event):
            with out.open("a") as file:
                file.write(str(event["data"]["n"]) + "\\n")

        session.event_hub.subscribe("topic=studio.stopping", record)
    """
)


def until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Lines:
    """A process's stdout, read line by line in a thread."""

    def __init__(self, process):
        self.process, self.lines = process, []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)


def stop(process):
    """SIGTERM ``process``; seconds it took to exit, and what it wrote to stderr."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    return time.monotonic() - started, stderr


def served(ftrack_like, database, port):
    process = subprocess.Popen([ftrack_like, "serve", "--port", str(port), "--database", database,
                                "--log-level", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    assert until(lambda: _ready(url) or process.poll() is not None, 60), "the server did not come up"
    assert process.poll() is None, process.stderr.read()
    return process, url


def _ready(url):
    try:
        return requests.get(f"{url}/ready", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def test_stopping_ends_streams_and_sockets_quickly_and_clients_resume_on_the_next_server(
    database, ftrack_like, unused_port, tmp_path, hubs
):
    with Backend.from_url(database) as admin:
        key = admin.auth.create_key("admin", "stopping")
    environment = {**os.environ, "FTRACK_SERVER": f"http://127.0.0.1:{unused_port}", "FTRACK_API_USER": "admin",
                   "FTRACK_API_KEY": key}  # fmt: skip
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    heard = tmp_path / "heard"
    (plugins / "record.py").write_text(PLUGIN.format(out=str(heard)))
    # Started while nothing listens on the port: it waits for the server rather than exiting.
    listener = subprocess.Popen([ftrack_like, "listen", "--plugin-path", str(plugins), "--name", "stopping"],
                                env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    tail = None
    session = None
    try:
        time.sleep(1.5)
        assert listener.poll() is None, listener.stderr.read()
        first, url = served(ftrack_like, database, unused_port)
        with Backend.from_url(database) as admin:
            now = admin.events.last()
        tail = subprocess.Popen([ftrack_like, "events", "tail", "topic=studio.stopping", "--after", str(now)],
                                env=environment,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        tailed = Lines(tail)
        got = []
        session = Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False)
        session.event_hub.subscribe("topic=studio.stopping", lambda event: got.append(event["data"]["n"]))
        session.event_hub.connect()
        ftrack_hub = hubs(url, "admin", key)
        assert ftrack_hub.subscribe("topic=studio.stopping") == {"success": True}

        def published(*numbers):
            for n in numbers:
                log.publish({"topic": "studio.stopping", "id": uuid.uuid4().hex, "data": {"n": n}})

        def tailed_numbers():
            return [json.loads(line)["data"]["n"] for line in tailed.lines]

        def heard_numbers():
            return [int(n) for n in heard.read_text().split()] if heard.exists() else []

        headers = {"ftrack-user": "admin", "ftrack-api-key": key}
        # A new listener starts from where the log is when it first connects: wait for that.
        assert until(lambda: requests.get(f"{url}/events/cursors/stopping", headers=headers, timeout=10).json()["seq"]
                     is not None)  # fmt: skip
        with Backend.from_url(database) as log:  # publishes straight into the log, server or not
            published(0, 1, 2)
            assert until(lambda: got == [0, 1, 2]), got
            assert until(lambda: heard_numbers() == [0, 1, 2]), (heard_numbers(), listener.poll())
            assert until(lambda: tailed_numbers() == [0, 1, 2]), (tailed_numbers(), tail.poll())
            assert [ftrack_hub.next_event()["data"]["n"] for _ in range(3)] == [0, 1, 2]

            took, said = stop(first)
            assert took < 5, f"stopping took {took:.1f} s:\n{said}"
            assert "Traceback" not in said and "CancelledError" not in said, said
            assert "timeout graceful shutdown exceeded" not in said, said
            assert ftrack_hub.closed() == 1012  # "service restart": ftrack's client connects again

            published(3, 4)  # while no server runs: they wait in the log
            second, _ = served(ftrack_like, database, unused_port)
            try:
                published(5)
                expected = [0, 1, 2, 3, 4, 5]
                assert until(lambda: got == expected), got
                assert until(lambda: heard_numbers() == expected), heard_numbers()
                assert until(lambda: tailed_numbers() == expected), tailed_numbers()
            finally:
                took, said = stop(second)
            assert took < 5 and "Traceback" not in said, said
        assert listener.poll() is None and tail.poll() is None  # both wait for the next server
    finally:
        if session is not None:
            session.close()
        for process in (listener, tail):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=30)
    assert listener.returncode == 0, listener.stderr.read() if listener.stderr else ""


@pytest.mark.skipif(sys.platform == "win32", reason="signals")
def test_an_idle_server_with_open_streams_stops_at_once(database, ftrack_like, unused_port):
    """Several streams open and idle: SIGTERM ends each and the process exits in well under the grace time."""
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "idle")
    server, url = served(ftrack_like, database, unused_port)
    headers = {"ftrack-user": "admin", "ftrack-api-key": key, "Accept-Encoding": "identity"}
    streams = [requests.get(f"{url}/events/stream", params={"heartbeat": 30}, headers=headers, stream=True, timeout=30)
               for _ in range(3)]  # fmt: skip
    try:
        lines = [stream.iter_lines() for stream in streams]
        assert all("heartbeat" in json.loads(next(each)) for each in lines)
        took, said = stop(server)
        assert took < 3, f"stopping took {took:.1f} s:\n{said}"
        for each in lines:
            last = json.loads(next(each))
            assert "closing" in last and "heartbeat" in last  # told why, and where it was
            assert list(each) == []  # then the stream ends
        assert "Traceback" not in said, said
    finally:
        for stream in streams:
            stream.close()
