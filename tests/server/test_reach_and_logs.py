"""A session through a SOCKS proxy, its extra named when missing, and its debug log: against a real server.

The proxy is a real SOCKS5 server in a thread of this test (no authentication, CONNECT
only) that notes each connection it relays.
"""

import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading

import pytest

from ftrack_like_api.session import Session
from ftrack_like_api.transport.proxy import proxies_for


class Socks5:
    """A SOCKS5 proxy on 127.0.0.1 (an ephemeral port): ``url``, and ``seen``, the (host, port) of each connection."""

    def __init__(self):
        self.listening = socket.create_server(("127.0.0.1", 0))
        self.url = f"socks5://127.0.0.1:{self.listening.getsockname()[1]}"
        self.seen = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listening.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        def exactly(count):
            data = b""
            while len(data) < count:
                got = client.recv(count - len(data))
                if not got:
                    raise ConnectionError("the client went away")
                data += got
            return data

        with client:
            _, methods = exactly(2)
            exactly(methods)
            client.sendall(b"\x05\x00")  # no authentication
            _, command, _, kind = exactly(4)
            assert command == 1  # CONNECT
            host = socket.inet_ntoa(exactly(4)) if kind == 1 else exactly(exactly(1)[0]).decode()
            port = struct.unpack(">H", exactly(2))[0]
            self.seen.append((host, port))
            with socket.create_connection((host, port)) as upstream:
                client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("0.0.0.0") + struct.pack(">H", 0))
                threading.Thread(target=_relay, args=(upstream, client), daemon=True).start()
                _relay(client, upstream)

    def close(self):
        self.listening.close()


def _relay(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture
def socks_proxy():
    proxy = Socks5()
    yield proxy
    proxy.close()


def test_a_session_goes_through_a_socks_proxy(server, admin_key, socks_proxy, monkeypatch):
    port = int(server.rsplit(":", 1)[1])
    with Session(server_url=server, api_user="admin", api_key=admin_key, proxy=socks_proxy.url,
                 schema_cache_path=False) as session:  # fmt: skip
        assert session.current_user["username"] == "admin"
    assert ("127.0.0.1", port) in socks_proxy.seen
    socks_proxy.seen.clear()
    monkeypatch.setenv("FTRACK_LIKE_PROXY", socks_proxy.url)
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        session.ping()
    assert ("127.0.0.1", port) in socks_proxy.seen


def test_a_proxy_is_said_wrong_or_missing_its_extra(monkeypatch):
    assert proxies_for("socks:gateway:1080") == {"http": "socks5h://gateway:1080", "https": "socks5h://gateway:1080"}
    with pytest.raises(ValueError, match="needs a scheme"):
        Session(server_url="https://studio.example", api_user="jo", api_key="k", proxy="gateway:1080")
    monkeypatch.setitem(sys.modules, "socks", None)  # PySocks not installed: its import fails
    with pytest.raises(ValueError, match=r"pip install 'ftrack-like-api\[socks\]'"):
        Session(server_url="https://studio.example", api_user="jo", api_key="k", proxy="socks5://gateway:1080")


SCRIPT = textwrap.dedent(
    """
    import sys
    from ftrack_like_api import Session

    with Session(server_url=sys.argv[1], api_user="admin", api_key=sys.argv[2], schema_cache_path=False) as session:
        session.query("select username from User where username is :name", name="admin").one()
    """
)


def test_each_query_its_values_and_its_time_are_logged_at_debug(server, admin_key, tmp_path):
    environment = {**os.environ, "FTRACK_LIKE_LOG": "debug"}
    ran = subprocess.run([sys.executable, "-c", SCRIPT, server, admin_key], env=environment, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    log = ran.stderr
    assert "DEBUG ftrack_like_api.session: query select username from User where username is :name with {'name': 'admin'}" in log
    assert 'query select username from User where username is "admin"' in log and "1 row(s) in" in log
    assert admin_key not in log

    environment["FTRACK_LIKE_LOG"] = str(tmp_path / "ftrack.log")  # a path: DEBUG into that file
    ran = subprocess.run([sys.executable, "-c", SCRIPT, server, admin_key], env=environment, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0 and "DEBUG" not in ran.stderr
    assert "1 row(s) in" in (tmp_path / "ftrack.log").read_text()


def test_server_information_ping_and_current_user_are_one_call_each(server, admin_key, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="ftrack_like_api.session_account")
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        information = session.server_information
        assert information["schema_hash"] and information["version"]
        assert session.server_information is information  # kept: no second call
        def sent():  # the client's own log of what it sent (the server in this process may log too)
            return [r.getMessage() for r in caplog.records if r.name == "ftrack_like_api.session_account"]

        assert len(sent()) == 1 and sent()[0].startswith("batch of 1 (query_server_information 1)")  # the schemas wait
        assert session.ping() > 0
        assert len(sent()) == 2
        assert session.current_user["username"] == "admin"
    assert any(r.getMessage().startswith("query User where username is") for r in caplog.records)
