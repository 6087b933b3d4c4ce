"""A batch that only reads runs without a transaction on PostgreSQL (no ``BEGIN``, no ``COMMIT``: two round trips
of five for a one-row read); a write, a read with a deadline of its own, and every batch on SQLite keep theirs.

What the driver's connection says during each statement is recorded (psycopg: whether a transaction is open,
``autocommit``; sqlite3: ``in_transaction``), on a pool of one connection, so that what a read leaves behind is
what the next batch gets.
"""

import uuid

import pytest
import sqlalchemy as sa

from ftrack_like_api.server import Backend


@pytest.fixture(scope="module")
def single(database):
    """A backend whose pool holds one connection: every batch takes the one the batch before gave back."""
    backend = Backend.from_url(database, pool_size=1, max_overflow=0)
    yield backend
    backend.close()


def states(backend, *operations, user="admin"):
    """The batch's answer, and for each statement it sent: whether a transaction was open on the connection."""
    seen = []

    def keep(connection, cursor, statement, parameters, context, executemany):
        raw = connection.connection.driver_connection
        if backend.engine.dialect.name == "postgresql":
            import psycopg

            seen.append(raw.info.transaction_status is not psycopg.pq.TransactionStatus.IDLE or not raw.autocommit)
        else:
            seen.append(raw.in_transaction)

    sa.event.listen(backend.engine, "before_cursor_execute", keep)
    try:
        answer = backend.execute(list(operations), user)
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", keep)
    assert isinstance(answer, list), answer
    return answer, seen


def test_a_read_runs_without_a_transaction_on_postgresql_only(single):
    answer, seen = states(single, {"action": "query", "expression": "select name from Status limit 2"})
    assert len(answer[0]["data"]) == 2
    assert len(seen) >= 2  # the user's roles, the query
    if single.engine.dialect.name == "postgresql":
        assert not any(seen), "no BEGIN was sent: every statement ran on its own"
    else:
        assert all(seen[1:]), "SQLite's read is one snapshot: a transaction"


def test_a_write_after_a_read_is_one_transaction(single):
    states(single, {"action": "query", "expression": "select name from Status limit 1"})
    schema = single.execute([{"action": "query", "expression": "select id from ProjectSchema limit 1"}], "admin")
    key = str(uuid.uuid4())
    answer, seen = states(single, {"action": "create", "entity_type": "Project", "entity_key": [key],
                                   "entity_data": {"id": key, "name": f"tx{key[:8]}", "full_name": "Tx",
                                                   "project_schema_id": schema[0]["data"][0]["id"]}})  # fmt: skip
    assert answer[0]["data"]["id"] == key
    assert seen and all(seen[1:]), "the connection a read gave back writes in a transaction again"
    # And a rollback undoes all of a failed write: nothing of it is left.
    failed = single.execute([{"action": "create", "entity_type": "Project", "entity_key": [key := str(uuid.uuid4())],
                              "entity_data": {"id": key, "name": f"tx{key[:8]}", "full_name": "Tx",
                                              "project_schema_id": schema[0]["data"][0]["id"]}},
                             {"action": "create", "entity_type": "Nothing", "entity_data": {}}], "admin")  # fmt: skip
    assert isinstance(failed, dict)
    assert not single.execute([{"action": "query", "expression": f"Project where id is {key}"}], "admin")[0]["data"]


def test_a_read_with_a_deadline_of_its_own_keeps_its_transaction(database):
    backend = Backend.from_url(database, query_timeout=30, pool_size=1, max_overflow=0)
    try:
        answer, seen = states(backend, {"action": "query", "expression": "select name from Status limit 1"})
        assert answer[0]["data"] and all(seen[1:]), "its SET LOCAL statement_timeout needs a transaction"
    finally:
        backend.close()


def test_an_action_registered_to_read_keeps_its_transaction(single):
    """A registered read (ShotGrid's find, Aquarium's, a plugin's) may lock or write on the way — ShotGrid's
    EventLogEntry numbering takes ``pg_advisory_xact_lock`` then inserts, which in autocommit would hold the lock
    for its one statement only and number two readers' events alike: it keeps its transaction, and so does a
    batch mixing it with a query."""
    inside = []
    single.register_action("test_locking_read", lambda batch, operation: inside.append(batch.connection.in_transaction()))
    answer, seen = states(single, {"action": "test_locking_read"})
    assert answer == [None] and inside == [True] and seen and all(seen[1:])
    answer, seen = states(single, {"action": "query", "expression": "select name from Status limit 1"},
                          {"action": "test_locking_read"})  # fmt: skip
    assert answer[0]["data"] and inside == [True, True] and all(seen[1:])
