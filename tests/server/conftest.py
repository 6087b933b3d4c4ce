"""Fixtures for the backend; the databases themselves come from tests/conftest.py."""

import uuid

import pytest

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

@pytest.fixture(scope="module")
def backend(database):
    backend = Backend.from_url(database)
    yield backend
    backend.close()


class Batch:
    """Calls a backend as a client would, and fails the test on an error answer."""

    def __init__(self, backend, user="admin"):
        self.backend = backend
        self.user = user

    def __call__(self, *operations):
        answer = self.backend.execute(list(operations), self.user)
        assert isinstance(answer, list), answer
        return answer

    def error(self, *operations):
        answer = self.backend.execute(list(operations), self.user)
        assert isinstance(answer, dict), f"expected an error, got {answer}"
        return answer

    def query(self, expression):
        return self({"action": "query", "expression": expression})[0]["data"]

    def create(self, entity_type, /, **data):
        data.setdefault("id", str(uuid.uuid4()))
        return self({"action": "create", "entity_type": entity_type, "entity_key": [data["id"]], "entity_data": data})[0]["data"]


@pytest.fixture(scope="module")
def call(backend):
    return Batch(backend)


@pytest.fixture(scope="module")
def call_as(backend):
    """``call_as("jo")``: a client acting as another user."""
    return lambda username: Batch(backend, user=username)


@pytest.fixture(scope="module")
def server(backend):
    """A real uvicorn server on 127.0.0.1 (an ephemeral port) serving the module's backend: its URL."""
    from ftrack_like_api.server.app import create_app, serving

    with serving(create_app(backend)) as url:
        yield url


@pytest.fixture(scope="module")
def admin_key(backend):
    """An API key of the seeded admin's, on the module's backend."""
    return backend.auth.create_key("admin", "tests")


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


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A new, empty bucket on the test S3 server: its name."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:16]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=name)
    return name
