"""The time limit on a batch: the database stops the work, the batch rolls back, the answer says so."""

import json
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from ftrack_like_api.exceptions import ServerError
from ftrack_like_api.server import Backend
from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.session import Session

#: A statement that runs for far longer than any test waits, on each database.
SLOW_SQL = {
    "sqlite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000000) SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(30)",
}
#: One that outlasts the deadline above, and finishes.
LONGER_THAN_THE_DEADLINE = {
    "sqlite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000) SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(0.4)",
}


@pytest.fixture(scope="module")
def limited(database, backend):
    """A backend that stops batches after 0.1 s, over the same database as ``backend``."""
    limited = Backend.from_url(database, timeout=0.1)
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    backend.execute([{"action": "create", "entity_type": "User", "entity_data": {"username": marker}}], "admin")
    # The same database, not another (a PostgreSQL URL's search_path survives the time limit).
    assert limited.execute([{"action": "query", "expression": f'User where username is "{marker}"'}], "admin")[0]["data"]
    yield limited
    limited.close()


#: Creates in a batch that must outlast the 0.1 s limit: on a fast machine 6,000 took 0.1 s, so
#: several times that, to stay past the limit however fast the machine is.
MANY = 40_000


def users(count, prefix):
    return [{"action": "create", "entity_type": "User", "entity_data": {"username": f"{prefix}{i}"}} for i in range(count)]


def test_the_database_stops_a_slow_statement_at_the_deadline(limited, backend):
    with limited.engine.connect() as connection, connection.begin():
        # Let run, SLOW_SQL ends with a result (long after the hang timeout on SQLite): an error means it was stopped.
        with pytest.raises(sa.exc.DBAPIError) as stopped:
            with limited.storage.time_limit(connection, time.monotonic() + 0.2):
                connection.exec_driver_sql(SLOW_SQL[limited.dialect.name])
    assert "interrupted" in str(stopped.value.orig) or stopped.value.orig.sqlstate == "57014"
    # Outside a limit (a backend without one, a connection back in SQLite's pool) nothing is stopped.
    with backend.engine.connect() as connection, connection.begin():
        connection.exec_driver_sql(LONGER_THAN_THE_DEADLINE[backend.dialect.name])
    if limited.dialect.name == "sqlite":
        with limited.engine.connect() as connection, connection.begin():
            connection.exec_driver_sql(LONGER_THAN_THE_DEADLINE["sqlite"])


def test_a_batch_past_its_time_is_stopped_and_changes_nothing(limited, backend, call):
    prefix = f"slow-{uuid.uuid4().hex[:6]}-"
    answer = limited.execute(users(MANY, prefix), "admin")
    assert answer["exception"] == "ServerError" and answer["error_code"] == "timeout"
    assert "limit of 0.1 s" in answer["content"] and "nothing was changed" in answer["content"]
    assert call.query(f'select username from User where username like "{prefix}%"') == []
    # The same batch with time enough is carried out.
    assert len(backend.execute(users(6000, prefix), "admin")) == 6000


def test_over_http_a_timeout_is_a_clear_error_and_the_session_keeps_its_work(limited):
    key = limited.auth.create_key("admin", "time limit tests")
    with serving(create_app(limited)) as url:
        prefix = f"http-{uuid.uuid4().hex[:6]}-"
        response = requests.post(f"{url}/api", data=json.dumps(users(MANY, prefix)), headers={
            "ftrack-user": "admin", "ftrack-api-key": key, "ftrack-strict-api": "true"})  # fmt: skip
        assert response.status_code == 500 and response.json()["error_code"] == "timeout"

        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            for i in range(MANY):
                session.create("User", {"username": f"{prefix}s{i}"})
            with pytest.raises(ServerError, match=r"limit of 0\.1 s"):
                session.commit()
            assert len(session.recorded_operations) == MANY
    assert limited.execute([{"action": "query", "expression": f'User where username like "{prefix}%"'}], "admin")[0]["data"] == []
