"""A rolling restart as studio IT does it: two ``ftrack-like serve`` processes on one PostgreSQL (two ports, standing
for two machines) behind nginx, restarted one at a time while a script commits and publishes through the proxy and a
durable listener and ftrack's official hub listen. No request fails, each listener gets every event once, each
restart takes under 5 s."""

import os
import shutil
import signal
import socket
import subprocess
import textwrap
import threading
import time

import pytest
import requests

pytest.importorskip("websockets", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.event.base import Event  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

#: Minutes long: started first when the suite runs on several workers (tests/conftest.py).
pytestmark = pytest.mark.long

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

BALANCER = """
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream servers {{ server 127.0.0.1:{one} max_fails=0; server 127.0.0.1:{two} max_fails=0; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://servers;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""

PLUGIN = """
import pathlib

def register(session, **kw):
    def record(event):
        with open({out!r}, "a") as file:
            file.write(str(event["data"]["n"]) + "\\n")

    session.event_hub.subscribe("topic=studio.rolling", record)
"""

OFFICIAL_HUB = textwrap.dedent(
    """
    import sys, ftrack_api

    server, user, key, out = sys.argv[1:5]
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=True,
                                 schema_cache_path=False)

    def record(event):
        with open(out, "a") as file:
            file.write(str(event["data"]["n"]) + "\\n")

    session.event_hub.subscribe("topic=studio.rolling", record)
    print("subscribed", flush=True)
    session.event_hub.wait()
    """
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def ready(url):
    try:
        return requests.get(f"{url}/ready", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def numbers(path):
    return [int(n) for n in path.read_text().split()] if path.exists() else []


class Servers:
    """``ftrack-like serve`` on two ports of one database, each restartable."""

    def __init__(self, ftrack_like, database, ports):
        self.ftrack_like, self.database, self.ports = ftrack_like, database, ports
        self.processes = {port: self.start(port) for port in ports}

    def start(self, port):
        process = subprocess.Popen([self.ftrack_like, "serve", "--port", str(port), "--database", self.database,
                                    "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        assert until(lambda: ready(f"http://127.0.0.1:{port}") or process.poll() is not None), "not up"
        assert process.poll() is None, process.stderr.read()
        return process

    def restart(self, port):
        """Stop one, in order, and start it again: how long it took to stop, and what it said."""
        process = self.processes[port]
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, said = process.communicate(timeout=30)
        took = time.monotonic() - started
        self.processes[port] = self.start(port)
        return took, said

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.communicate(timeout=30)


def test_a_rolling_restart_loses_no_request_and_no_event(database, ftrack_like, tmp_path, official_python):
    if not database.startswith("postgresql"):
        pytest.skip("a rolling restart is of several servers on one PostgreSQL")
    if NGINX is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (.ci/run installs Debian's nginx-light)")
        pytest.skip("nginx is not installed: apt-get install nginx-light")
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "rolling")
    ports = [free_port(), free_port()]
    servers = Servers(ftrack_like, database, ports)
    folder, port = tmp_path / "nginx", free_port()
    folder.mkdir()
    (folder / "nginx.conf").write_text(BALANCER.format(folder=folder, port=port, one=ports[0], two=ports[1]))
    balancer = subprocess.Popen([NGINX, "-c", str(folder / "nginx.conf"), "-p", str(folder), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "FTRACK_SERVER": url, "FTRACK_API_USER": "admin", "FTRACK_API_KEY": key}
    plugins, heard, official_heard = tmp_path / "plugins", tmp_path / "listener", tmp_path / "official"
    plugins.mkdir()
    (plugins / "record.py").write_text(PLUGIN.format(out=str(heard)))
    listener = official = None
    failures, sent = [], []
    try:
        assert until(lambda: ready(url)), "the balancer is not up"
        listener = subprocess.Popen([ftrack_like, "listen", "--plugin-path", str(plugins), "--name", "rolling"],
                                    env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        official = subprocess.Popen([official_python, "-c", OFFICIAL_HUB, url, "admin", key, str(official_heard)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert official.stdout.readline().strip() == "subscribed", official.stderr.read()
        headers = {"ftrack-user": "admin", "ftrack-api-key": key}
        assert until(lambda: requests.get(f"{url}/events/cursors/rolling", headers=headers, timeout=10).json()["seq"]
                     is not None)  # fmt: skip
        time.sleep(1.0)  # the official hub's subscription is in

        stop = threading.Event()

        def commit_and_publish():
            with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
                session.event_hub.connect()
                schema = session.query("ProjectSchema").first()
                project = session.create("Project", {"name": "rolling", "full_name": "Rolling", "project_schema": schema})
                session.commit()
                n = 0
                while not stop.is_set():
                    try:
                        session.create("Sequence", {"name": f"sq{n:04d}", "parent": project})
                        session.commit()
                    except Exception as failure:  # noqa: BLE001 - what the test says failed
                        failures.append(repr(failure))
                        session.reset()
                    session.event_hub.publish(Event("studio.rolling", data={"n": n}))
                    sent.append(n)
                    n += 1
                    time.sleep(0.02)
                session.event_hub.disconnect(flush=30)

        committer = threading.Thread(target=commit_and_publish, daemon=True)
        committer.start()
        time.sleep(2)
        took = []
        for restarted in ports:
            seconds, said = servers.restart(restarted)
            took.append(seconds)
            assert "Traceback" not in said, said
            time.sleep(2)
        stop.set()
        committer.join(120)
        assert not committer.is_alive()
        assert failures == []  # no request failed
        assert all(seconds < 5 for seconds in took), took
        assert len(sent) > 50
        assert until(lambda: numbers(heard) == sent, 60), (len(numbers(heard)), len(sent))
        assert until(lambda: numbers(official_heard) == sent, 60), (numbers(official_heard)[-5:], len(sent))
        time.sleep(1)
        assert numbers(heard) == sent and numbers(official_heard) == sent  # and nothing twice
        with Backend.from_url(database) as backend:  # every commit is there, once
            rows = backend.execute([{"action": "query", "expression": 'select name from Sequence where project.name is "rolling"'}],
                                   "admin")[0]["data"]  # fmt: skip
        assert sorted(r["name"] for r in rows) == [f"sq{n:04d}" for n in sent]
    finally:
        for process in (listener, official, balancer):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        servers.stop()
