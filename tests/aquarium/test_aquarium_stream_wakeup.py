"""Aquarium's event stream (``/v1/events/stream``) is woken by the event log's own notification (the backend's
broker), not by looking at the log on a clock: an idle stream reads nothing, a published change is read once and
arrives (SQLite and PostgreSQL, a real HTTP server on 127.0.0.1)."""

import contextlib
import json
import socket
import threading
import time

import pytest
import sqlalchemy as sa

pytest.importorskip("uvicorn", reason="the server extra is not installed")

import requests  # noqa: E402
import uvicorn  # noqa: E402

from ftrack_like_api.server import Backend  # noqa: E402
from ftrack_like_api.server.app import create_app  # noqa: E402
from ftrack_like_api.server.protocols.aquarium import api  # noqa: E402

PASSWORD = "correct horse battery"


def until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@contextlib.contextmanager
def served(backend):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(backend), log_level="warning", lifespan="off", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert until(lambda: server.started)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def test_an_idle_stream_reads_nothing_and_a_change_is_read_once_and_arrives(database, monkeypatch):
    monkeypatch.setattr(api, "HEARTBEAT", 0.2)  # an idle stream says it is alive five times a second
    backend = Backend.from_url(database)
    backend.auth.set_password("admin", PASSWORD)
    reads = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "event_log.seq >" in statement:
            reads.append(statement)

    sa.event.listen(backend.engine, "before_cursor_execute", count)
    lines: list[str] = []
    try:
        with served(backend) as url:
            token = requests.post(url + "/v1/signin", json={"email": "admin", "password": PASSWORD}, timeout=30).json()["token"]
            stream = requests.get(url + "/v1/events/stream", headers={"authorization": token}, stream=True, timeout=30)

            def follow():
                with contextlib.suppress(Exception):  # the test closes the stream under it
                    for line in stream.iter_lines(decode_unicode=True):
                        lines.append(line)

            threading.Thread(target=follow, daemon=True).start()
            assert until(lambda: sum(line == ": heartbeat" for line in lines) >= 5)  # a second idle, at least
            idle = len(reads)
            made = requests.post(url + "/v1/items", headers={"authorization": token},
                                 json={"type": "Scribble", "data": {"name": "kept whole"}}, timeout=30).json()  # fmt: skip
            assert until(lambda: any(line.startswith("data:") for line in lines))
            event = json.loads(next(line for line in lines if line.startswith("data:"))[len("data:"):])
            after_one = len(reads)
            beats = sum(line == ": heartbeat" for line in lines)
            assert until(lambda: sum(line == ": heartbeat" for line in lines) >= beats + 5)
            stream.close()
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", count)
        backend.close()
    assert lines[0].startswith("retry:")
    assert idle == 0  # a second and more of waiting: not one read of the log
    assert (event["topic"], event["data"]["_key"]) == ("item.created.Scribble", made["_key"])
    assert after_one == 1  # the change is read once, when its commit is told
    assert len(reads) == 1  # and nothing more while idle again


def test_a_user_s_stream_resumes_and_shows_only_their_projects(database):
    backend = Backend.from_url(database)
    backend.auth.set_password("admin", PASSWORD)
    lines: list[str] = []
    try:
        with served(backend) as url:
            admin = requests.post(url + "/v1/signin", json={"email": "admin", "password": PASSWORD}, timeout=30).json()["token"]

            def post(path, body, token=admin):
                return requests.post(url + path, headers={"authorization": token}, json=body, timeout=30).json()

            projects = {name: post("/v1/items", {"type": "Project", "data": {"name": name}})["_key"] for name in ("open", "secret")}
            answer = backend.execute([{"action": "aquarium_write", "call": "create_user",
                                       "params": {"email": "jo@studio.test", "name": "Jo"}}], "admin")  # fmt: skip
            assert isinstance(answer, list), answer
            backend.auth.grant("jo@studio.test", projects["open"])
            backend.auth.set_password("jo@studio.test", PASSWORD)
            jo = post("/v1/signin", {"email": "jo@studio.test", "password": PASSWORD})["token"]
            stream = requests.get(url + "/v1/events/stream", headers={"authorization": jo, "last-event-id": "0"}, stream=True,
                                  timeout=30)  # fmt: skip

            def follow():
                with contextlib.suppress(Exception):  # the test closes the stream under it
                    for line in stream.iter_lines(decode_unicode=True):
                        lines.append(line)

            threading.Thread(target=follow, daemon=True).start()

            def keys():
                return [json.loads(line[len("data:"):])["data"]["_key"] for line in lines if line.startswith("data:")]

            assert until(lambda: projects["open"] in keys())  # resumed from the log's start
            shots = {name: post(f"/v1/items/{key}/append", {"item": {"type": "Shot", "data": {"name": name + "_sh"}},
                                                            "edge": {"type": "Child"}})["item"]["_key"]
                     for name, key in sorted(projects.items(), reverse=True)}  # fmt: skip
            assert until(lambda: shots["open"] in keys())  # made after the secret one: that one came first, if at all
            stream.close()
    finally:
        backend.close()
    assert projects["secret"] not in keys() and shots["secret"] not in keys()
