"""Test settings and fixtures shared by the whole suite.

Databases: ``FTRACK_LIKE_TEST_DATABASES`` lists the databases to run on (default
``sqlite,postgresql``). PostgreSQL is the server at ``FTRACK_LIKE_TEST_POSTGRES``
(``bash .ci/run`` sets it when 127.0.0.1:5432 answers); without it, its tests are
skipped with that reason. Each test module gets a fresh database (``database``), or
each test (``fresh_database``): a new SQLite file, or a PostgreSQL schema of its own
that is dropped afterwards.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
import venv

import pytest
import requests
from hypothesis import HealthCheck, settings

# Hypothesis' per-example deadline is a timing assertion; speed is measured in
# benchmarks/, not here. CI runs more examples than a quick local run.
settings.register_profile("dev", deadline=None, max_examples=200)
settings.register_profile(
    "ci", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_collection_modifyitems(items):
    """Modules marked ``long`` run first, the longest first (``long(minutes)``; the order is otherwise kept):
    spread over workers a module at a time (``.ci/run``: ``-n auto --dist loadfile``), a three-minute module
    started last would leave the other workers idle while it runs."""

    def minutes(item):
        marker = item.get_closest_marker("long")
        return -(marker.args[0] if marker and marker.args else 1) if marker else 0

    items.sort(key=minutes)


DATABASES = [name.strip() for name in os.environ.get("FTRACK_LIKE_TEST_DATABASES", "sqlite,postgresql").split(",")]
POSTGRES = os.environ.get("FTRACK_LIKE_TEST_POSTGRES")


def database_url(kind, tmp_path_factory):
    """A URL for a new, empty database of ``kind``, and how to remove it."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'studio.db'}", lambda: None
    if not POSTGRES:
        pytest.skip("PostgreSQL tests need FTRACK_LIKE_TEST_POSTGRES (bash .ci/run sets it when PostgreSQL runs)")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES else "?"

    def drop():
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()

    return f"{POSTGRES}{separator}options=-csearch_path%3D{schema}", drop


@pytest.fixture(scope="module", params=DATABASES)
def database(request, tmp_path_factory):
    """The URL of a fresh database for this module, on each database kind in turn."""
    url, drop = database_url(request.param, tmp_path_factory)
    yield url
    drop()


@pytest.fixture(params=DATABASES)
def another_database(request, tmp_path_factory):
    """The URL of a second new database for one test, on each kind in turn (with ``fresh_database``: each pair)."""
    url, drop = database_url(request.param, tmp_path_factory)
    yield url
    drop()


@pytest.fixture(params=DATABASES)
def fresh_database(request, tmp_path_factory):
    """The URL of a new database for one test, on each database kind in turn."""
    url, drop = database_url(request.param, tmp_path_factory)
    yield url
    drop()


@pytest.fixture(scope="session", autouse=True)
def schema_cache(tmp_path_factory):
    """Sessions made by tests keep their schemas in the test run's folder, not the machine's temp."""
    folder = tmp_path_factory.mktemp("schema-cache")
    before = os.environ.get("FTRACK_API_SCHEMA_CACHE_PATH")
    os.environ["FTRACK_API_SCHEMA_CACHE_PATH"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("FTRACK_API_SCHEMA_CACHE_PATH", None)
    else:
        os.environ["FTRACK_API_SCHEMA_CACHE_PATH"] = before


@pytest.fixture(scope="session", autouse=True)
def credential_folder(tmp_path_factory):
    """Sign-ins made by tests (``ftrack-like login``) are kept in the test run's folder, never the user's,
    and in that folder's file: a test that wants a keyring names one (tests/test_sign_in.py)."""
    folder = tmp_path_factory.mktemp("config")
    before = {name: os.environ.get(name) for name in ("FTRACK_LIKE_CONFIG_DIR", "PYTHON_KEYRING_BACKEND")}
    os.environ["FTRACK_LIKE_CONFIG_DIR"] = str(folder)
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    yield folder
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def ftrack_like():
    """The installed ``ftrack-like`` command, beside this Python first."""
    executable = shutil.which("ftrack-like", path=os.path.dirname(sys.executable)) or shutil.which("ftrack-like")
    assert executable, "ftrack-like is not installed (pip install -e '.[server]')"
    return executable


@pytest.fixture
def unused_port():
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class ServedUrl(str):
    """A served process's URL, which also knows the process's id (``pid``)."""

    pid: int


@pytest.fixture
def serve(ftrack_like):
    """``with serve(database, "--workers", "2") as url:`` ``ftrack-like serve`` as its own process, once ready
    (on ``port=`` if given: another server on a port one stopped, say); ``url.pid`` is the process's id."""

    @contextlib.contextmanager
    def served(database, *options, port=None):
        if port is None:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            sock.close()
        server = subprocess.Popen([ftrack_like, "serve", "--port", str(port), "--database", database,
                                   "--log-level", "warning", *options],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        url = ServedUrl(f"http://127.0.0.1:{port}")
        url.pid = server.pid
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(requests.ConnectionError):
                    if requests.get(f"{url}/ready", timeout=1).status_code == 200:
                        break
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
            yield url
        finally:
            server.terminate()
            server.communicate(timeout=30)

    return served


@pytest.fixture(scope="session")
def offline_session():
    """A session on ftrack's recorded schemas (tests/fixtures/ftrack-wire), for entities that never go to a server.

    Its MockTransport answers the server information and the schemas, and nothing else.
    """
    import json
    import pathlib

    from ftrack_like_api.session import Session
    from ftrack_like_api.transport import MockTransport

    recorded = pathlib.Path(__file__).resolve().parent / "fixtures" / "ftrack-wire"
    answers = {name: json.loads((recorded / f"{name}.json").read_text()) for name in ("query_server_information", "query_schemas")}
    transport = MockTransport(lambda batch: [answers[operation["action"]] for operation in batch])
    with Session(server_url="https://studio.example", api_user="jo", transport=transport, schema_cache_path=False) as session:
        yield session


@pytest.fixture(scope="session")
def official_python(tmp_path_factory):
    """The python of a virtual environment with ftrack-python-api installed from the package index."""
    folder = tmp_path_factory.mktemp("ftrack-official")
    venv.create(folder, with_pip=True)
    python = str(folder / ("Scripts" if os.name == "nt" else "bin") / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "ftrack-python-api"], capture_output=True, text=True)
    if installed.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"installing ftrack-python-api failed:\n{installed.stderr[-2000:]}")
        pytest.skip(f"ftrack-python-api could not be installed here: {installed.stderr.strip().splitlines()[-1:]}")
    return python


@pytest.fixture
def version(session):
    """A committed AssetVersion under a shot, in a project of its own, of the test's ``session``: what files attach to."""
    name = f"v{uuid.uuid4().hex[:8]}"
    project = session.create("Project", {"name": name, "full_name": name, "project_schema": session.query("ProjectSchema").first()})
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    asset = session.create("Asset", {"name": "plate", "parent": shot, "type": session.query("AssetType").first()})
    version = session.create("AssetVersion", {"asset": asset})
    session.commit()
    return version


_MOTO_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the tests close it
server.stop()
"""


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A real S3-compatible server (moto's, in its own process on 127.0.0.1 and an ephemeral port), and
    the environment pointing boto3 at it the standard AWS way (``AWS_ENDPOINT_URL``, keys, region): its URL."""
    import subprocess
    import sys

    pytest.importorskip("moto.server", reason="the S3 tests need moto[server] (the test extra)")
    pytest.importorskip("boto3", reason="the S3 tests need boto3 (the s3 extra)")
    log = (tmp_path_factory.mktemp("moto") / "requests.log").open("w")
    process = subprocess.Popen([sys.executable, "-c", _MOTO_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=log, text=True)  # fmt: skip
    try:
        port = int(process.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        with pytest.MonkeyPatch.context() as patch:
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
                patch.delenv(name, raising=False)
            patch.setenv("AWS_ENDPOINT_URL", url)
            patch.setenv("AWS_ACCESS_KEY_ID", "moto-test-key")
            patch.setenv("AWS_SECRET_ACCESS_KEY", "moto-test-secret")
            patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
            patch.setenv("AWS_CONFIG_FILE", str(tmp_path_factory.mktemp("aws") / "config"))
            patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path_factory.mktemp("aws") / "credentials"))
            yield url
    finally:
        process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()
        log.close()
