"""Fixtures for the backend: the same tests on SQLite and on PostgreSQL.

``FTRACK_LIKE_TEST_DATABASES`` lists the databases to run on (default
``sqlite,postgresql``). PostgreSQL is the server at ``FTRACK_LIKE_TEST_POSTGRES``
(``bash .ci/run`` sets it when 127.0.0.1:5432 answers); without it, its tests are
skipped with that reason. Each test module gets a fresh database: a new SQLite
file, or a PostgreSQL schema of its own that is dropped afterwards.
"""

import os
import uuid

import pytest

sa = pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

DATABASES = [name.strip() for name in os.environ.get("FTRACK_LIKE_TEST_DATABASES", "sqlite,postgresql").split(",")]
POSTGRES = os.environ.get("FTRACK_LIKE_TEST_POSTGRES")


def database_url(kind, tmp_path_factory):
    """A URL for a new, empty database of ``kind``, and how to remove it."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'studio.db'}", lambda: None
    if not POSTGRES:
        pytest.skip("PostgreSQL tests need FTRACK_LIKE_TEST_POSTGRES (bash .ci/run sets it when PostgreSQL runs)")
    schema = f"test_{uuid.uuid4().hex[:12]}"
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
def fresh_database(request, tmp_path_factory):
    """The URL of a new database for one test, on each database kind in turn."""
    url, drop = database_url(request.param, tmp_path_factory)
    yield url
    drop()


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
