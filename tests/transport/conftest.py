"""What the file channel tests share: a backend that keeps files, the real app served with a record of what it
received, a TCP proxy that cuts a connection, and a version to attach components to."""

import contextlib
import socket
import threading
import types
import uuid

import pytest

from ftrack_like_api.session import Session


@pytest.fixture(scope="module")
def storage_backend(database, tmp_path_factory):
    """A backend on the module's database that keeps its files in a folder of its own."""
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    from ftrack_like_api.server import Backend

    backend = Backend.from_url(database)
    backend.files.configure(tmp_path_factory.mktemp("storage"))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def counted(storage_backend):
    """The real app on the storage backend, served on 127.0.0.1 through :class:`Counting`: (its URL, the counter)."""
    from ftrack_like_api.server.app import create_app, serving

    counting = Counting(create_app(storage_backend))
    with serving(counting) as url:
        yield url, counting


@pytest.fixture(scope="module")
def admin_key(storage_backend):
    return storage_backend.auth.create_key("admin", "files")


class Counting:
    """The real app, recording each HTTP request it received: method, path, query, headers and status."""

    def __init__(self, app):
        self.app = app
        self.seen = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        record = {"method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(),
                  "headers": {k.decode().lower(): v.decode() for k, v in scope["headers"]}, "status": None}  # fmt: skip
        self.seen.append(record)

        async def sending(message):
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
            await send(message)

        await self.app(scope, receive, sending)

    def requests(self, method, path):
        return [seen for seen in self.seen if seen["method"] == method and seen["path"] == path]

    def puts(self, status=None):
        """The part PUTs received (only those answered ``status``, when given)."""
        return [seen for seen in self.requests("PUT", "/component/upload") if status is None or seen["status"] == status]


@pytest.fixture
def cut():
    """``with cut(port, after, direction) as (url, cuts):`` a proxy that drops a connection (:func:`cutting_proxy`)."""
    return cutting_proxy


@contextlib.contextmanager
def cutting_proxy(port, after, direction="up", times=1):
    """A TCP proxy to 127.0.0.1:``port`` that drops a connection once ``after`` bytes went ``direction``
    ("up": client to server, "down": back), for the first ``times`` connections that get that far; yields
    (its URL, the number of connections it cut)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    cuts = [0]
    stop = threading.Event()
    lock = threading.Lock()

    def pump(source, target, counted, state):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if counted:
                    state["bytes"] += len(data)
                    if state["bytes"] > after:
                        with lock:
                            cut = cuts[0] < times
                            cuts[0] += cut
                        if cut:
                            target.sendall(data[: max(0, len(data) - (state["bytes"] - after))])
                            break
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def accept():
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            upstream = socket.create_connection(("127.0.0.1", port))
            state = {"bytes": 0}
            threading.Thread(target=pump, args=(client, upstream, direction == "up", state), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, direction == "down", state), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", cuts
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.fixture(scope="module")
def http_session(counted, admin_key):
    """A Session over HTTP to the counted server, as admin."""
    with Session(server_url=counted[0], api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        yield session


@pytest.fixture(scope="module")
def version(http_session):
    """An AssetVersion (in a project of its own) to attach components to."""
    return make_version(http_session)


@pytest.fixture
def new_component(http_session, version):
    """``new_component(size)``: the id of a new FileComponent of ``version``, committed."""
    return lambda size=0, name="main": make_component(http_session, version, name=name, size=size)["id"]


@pytest.fixture
def make():
    """``make.version(session)``, ``make.component(session, version, size=…)``: rows to attach files to."""
    return types.SimpleNamespace(version=make_version, component=make_component)


def make_version(session):
    """A new AssetVersion (in a project of its own) to attach components to, committed."""
    project = session.create("Project", {"name": f"p{uuid.uuid4().hex[:8]}",
                                         "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    asset = session.create("Asset", {"name": "plate", "parent": shot, "type": session.query("AssetType").first()})
    version = session.create("AssetVersion", {"asset": asset})
    session.commit()
    return version


def make_component(session, version, name="main", file_type=".bin", size=0):
    """A new FileComponent of ``version``, committed: what a file is uploaded to."""
    component = session.create("FileComponent", {"name": name, "file_type": file_type, "size": size,
                                                 "version_id": version["id"]})  # fmt: skip
    session.commit()
    return component
