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


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A new, empty bucket on the test S3 server: its name."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:16]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=name)
    return name
