"""PostgreSQL's pooled connections are tried before use only when idle a while (storage._ping_when_idle).

A busy worker hands a connection out again within milliseconds: pinging it each time was a round
trip per request spent for nothing. A connection idle longer is tried first, and one the database
closed meanwhile (a restart, an idle timeout) is replaced, so the next batch works as before.
"""

import time

import pytest
import sqlalchemy as sa

from ftrack_like_api.server import Backend
from ftrack_like_api.server.engine import storage


@pytest.fixture
def postgresql(database):
    if not database.startswith("postgresql"):
        pytest.skip("SQLite's connections are files: nothing to ping")
    return database


@pytest.fixture
def pings(monkeypatch):
    """How many times a connection was pinged (the dialect's own ping, counted on its way)."""
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    counted = []
    real = PGDialect_psycopg.do_ping
    monkeypatch.setattr(PGDialect_psycopg, "do_ping", lambda self, connection: counted.append(1) or real(self, connection))
    return counted


def statuses(backend):
    answer = backend.execute([{"action": "query", "expression": "select name from Status"}], "admin")
    assert isinstance(answer, list), answer
    return len(answer[0]["data"])


def test_a_connection_given_back_a_moment_ago_is_not_pinged(postgresql, pings):
    with Backend.from_url(postgresql, pool_size=1, max_overflow=0) as backend:
        statuses(backend)
        pings.clear()
        for _ in range(5):
            statuses(backend)
        assert pings == []


def test_an_idle_connection_the_database_closed_is_replaced(postgresql, pings, monkeypatch):
    monkeypatch.setattr(storage, "PING_AFTER", 0.2)
    with Backend.from_url(postgresql, pool_size=1, max_overflow=0) as backend:
        found = statuses(backend)
        with backend.engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        killer = sa.create_engine(postgresql.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=sa.pool.NullPool)
        with killer.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        time.sleep(0.3)  # idle long enough to be tried first
        pings.clear()
        assert statuses(backend) == found  # tried, found closed, replaced: the batch never saw it
        assert pings
        with backend.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
