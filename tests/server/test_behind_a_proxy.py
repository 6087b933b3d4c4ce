"""HTTPS, a reverse proxy and a path prefix, as a studio deploys: nginx (Debian's) terminating TLS in front of
``ftrack-like serve --root-path /tracker``, with ftrack's official client and ours; and ``serve`` speaking HTTPS
itself. Every URL the server hands out (uploads, downloads) goes through the proxy, under the prefix, in https."""

import json
import os
import shutil
import socket
import subprocess
import textwrap
import time

import pytest
import requests

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

CONFIG = """
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        location /tracker/ {{
            proxy_pass http://127.0.0.1:{backend}/;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_request_buffering off;
            proxy_buffering off;
        }}
    }}
}}
"""

OFFICIAL = textwrap.dedent(
    """
    import json, sys, tempfile, os, uuid
    import ftrack_api
    import requests

    server, user, key = sys.argv[1:4]
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=False,
                                 schema_cache_path=False)
    said = {"schemas": session.query("ProjectSchema").first()["name"]}
    project = session.create("Project", {"name": "proxied-" + uuid.uuid4().hex[:6], "full_name": "Proxied",
                                         "project_schema": session.query("ProjectSchema").first()})
    session.commit()
    data = os.urandom(300_000)
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as made:
        made.write(data)
    component = session.create_component(made.name, location=session.get("Location", "3a372bde-05bc-11e4-8908-20c9d081909b"))
    session.commit()
    location = session.get("Location", "3a372bde-05bc-11e4-8908-20c9d081909b")
    url = location.get_url(component)
    said["url"] = url
    said["same"] = requests.get(url, timeout=30).content == data
    print(json.dumps(said))
    """
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True)  # fmt: skip
    return certificate, key


def wait_ready(url, verify=True, process=None):
    for _ in range(600):
        try:
            if requests.get(f"{url}/ready", timeout=1, verify=verify).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert process is None or process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.05)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def proxied(tmp_path, certificate, ftrack_like):
    """A server under /tracker behind nginx on HTTPS: (the proxied URL, an admin key)."""
    if NGINX is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (.ci/run installs Debian's nginx-light)")
        pytest.skip("nginx is not installed: apt-get install nginx-light")
    database = f"sqlite:///{tmp_path}/studio.db"
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "proxied")
    backend_port, proxy_port = free_port(), free_port()
    server = subprocess.Popen([ftrack_like, "serve", "--port", str(backend_port), "--database", database,
                               "--root-path", "/tracker", "--forwarded-allow-ips", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    folder = tmp_path / "nginx"
    folder.mkdir()
    (folder / "nginx.conf").write_text(CONFIG.format(folder=folder, port=proxy_port, backend=backend_port,
                                                     certificate=certificate[0], key=certificate[1]))  # fmt: skip
    proxy = subprocess.Popen([NGINX, "-c", str(folder / "nginx.conf"), "-p", str(folder), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{backend_port}", process=server)
        url = f"https://127.0.0.1:{proxy_port}/tracker"
        wait_ready(url, verify=str(certificate[0]), process=proxy)
        yield url, key
    finally:
        for process in (proxy, server):
            process.terminate()
            process.communicate(timeout=30)


def test_the_official_client_works_through_nginx_under_a_prefix(proxied, certificate, official_python):
    url, key = proxied
    ran = subprocess.run([official_python, "-c", OFFICIAL, url, "admin", key], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "REQUESTS_CA_BUNDLE": str(certificate[0])})  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    said = json.loads(ran.stdout.strip().splitlines()[-1])
    assert said["url"].startswith(f"{url}/component/get")  # the proxy's scheme, host and prefix
    assert said["same"] is True


def test_our_session_through_nginx_and_the_addresses_it_forwards(proxied, certificate, monkeypatch, tmp_path):
    url, key = proxied
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
        project = session.create("Project", {"name": "ours-proxied", "full_name": "Ours",
                                             "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
        session.commit()
        source = tmp_path / "plate.bin"
        source.write_bytes(os.urandom(200_000))
        server = session.get("Location", "3a372bde-05bc-11e4-8908-20c9d081909b")
        component = session.create_component(str(source), {"name": "plate"}, location=server)
        link = server.get_url(component)
        assert link.startswith(f"{url}/component/get")
        assert requests.get(link, timeout=30, verify=str(certificate[0])).content == source.read_bytes()
        assert session.query(f'Project where name is "{project["name"]}"').one()["id"] == project["id"]
    # A wrong key, through the proxy: refused as directly (the throttle counts the client's address, not nginx's).
    answer = requests.post(f"{url}/api", json=[], headers={"ftrack-user": "admin", "ftrack-api-key": "wrong"},
                           verify=str(certificate[0]), timeout=30)  # fmt: skip
    assert answer.status_code == 401


def test_serve_speaks_https_itself(tmp_path, certificate, ftrack_like, monkeypatch):
    database = f"sqlite:///{tmp_path}/studio.db"
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "tls")
    port = free_port()
    server = subprocess.Popen([ftrack_like, "serve", "--port", str(port), "--database", database, "--certfile",
                               str(certificate[0]), "--keyfile", str(certificate[1])], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        url = f"https://127.0.0.1:{port}"
        wait_ready(url, verify=str(certificate[0]), process=server)
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{url}/health", timeout=10)  # not a certificate the machine trusts: refused, as it should be
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            assert session.query("ProjectSchema").first() is not None
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert f"on https://127.0.0.1:{port} " in out
