"""Overload: a busy database is a 503 with Retry-After, /health and /ready still answer, answers are capped."""

import json
import threading
import uuid

import pytest
import requests
import sqlalchemy as sa

from ftrack_like_api.cli import app_from_environment
from ftrack_like_api.server import Backend
from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.session import Session


def post(url, key, batch):
    return requests.post(f"{url}/api", data=json.dumps(batch), timeout=60, headers={
        "ftrack-user": "admin", "ftrack-api-key": key, "ftrack-strict-api": "true"})  # fmt: skip


def test_an_exhausted_pool_is_a_503_with_retry_after(fresh_database):
    with Backend.from_url(fresh_database, pool_size=1, max_overflow=0, pool_timeout=0.5) as backend:
        key = backend.auth.create_key("admin", "overload")
        with serving(create_app(backend)) as url:
            with backend.engine.connect():  # the test holds the one connection
                busy = post(url, key, [{"action": "query", "expression": "Status limit 1"}])
                assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
                assert busy.json()["exception"] == "ServerError" and busy.json()["error_code"] == "busy"
                assert requests.get(f"{url}/health", timeout=30).json() == {"status": "alive"}
                assert requests.get(f"{url}/ready", timeout=30).json() == {"status": "ready"}  # a connection of its own
            assert post(url, key, [{"action": "query", "expression": "Status limit 1"}]).status_code == 200


def test_requests_past_the_workers_turns_wait_then_get_a_503_while_health_answers(fresh_database):
    with Backend.from_url(fresh_database) as backend, Backend.from_url(fresh_database) as other:
        key = backend.auth.create_key("admin", "overload")
        user = backend.execute([{"action": "query", "expression": 'User where username is "admin"'}], "admin")[0]["data"][0]
        update = [{"action": "update", "entity_type": "User", "entity_key": [user["id"]], "entity_data": {"first_name": "A"}}]
        with serving(create_app(backend, concurrency=1, wait=0.5)) as url:
            assert post(url, key, update).status_code == 200  # the key is marked used: checking it now only reads
            with other.engine.connect().execution_options(ftrack_writes=True) as holder:
                transaction = holder.begin()  # holds the row (PostgreSQL) or the write lock (SQLite)
                holder.execute(sa.text("UPDATE resource SET first_name = 'B' WHERE id = :id"), {"id": user["id"]})
                stuck: list[requests.Response] = []
                writer = threading.Thread(target=lambda: stuck.append(post(url, key, update)))
                writer.start()
                for _ in range(50):  # until the stuck batch holds the one turn
                    busy = post(url, key, [{"action": "query", "expression": "Status limit 1"}])
                    if busy.status_code == 503:
                        break
                assert busy.status_code == 503 and busy.headers["Retry-After"] and busy.json()["error_code"] == "busy"
                assert requests.get(f"{url}/health", timeout=10).json() == {"status": "alive"}
                assert requests.get(f"{url}/ready", timeout=10).json() == {"status": "ready"}
                transaction.rollback()
            writer.join(timeout=60)
            assert stuck[0].status_code == 200, stuck[0].text


@pytest.fixture(scope="module")
def capped(database):
    """A backend answering at most 550 rows per query, over a database with 600 users named cap-…."""
    with Backend.from_url(database, max_rows=550) as backend:
        backend.execute([{"action": "create", "entity_type": "User", "entity_data": {"username": f"cap-{i:04}"}}
                         for i in range(600)], "admin")  # fmt: skip
        yield backend


def test_a_query_over_the_cap_answers_the_cap_and_where_the_next_page_starts(capped):
    key = capped.auth.create_key("admin", "cap")
    with serving(create_app(capped)) as url:
        for expression in ('select username from User where username like "cap-%"',
                           'select username from User where username like "cap-%" limit 700'):  # fmt: skip
            answer = post(url, key, [{"action": "query", "expression": expression}])
            [result] = answer.json()  # streamed in slices, JSON all the same
            assert len(result["data"]) == 550 and result["metadata"]["next"]["offset"] == 550
        following = post(url, key, [{"action": "query", "expression": 'select username from User where username like "cap-%" offset 550'}])
        assert len(following.json()[0]["data"]) == 50 and following.json()[0]["metadata"]["next"]["offset"] is None
        small = post(url, key, [{"action": "query", "expression": 'select username from User where username like "cap-%" limit 10'}])
        assert len(small.json()[0]["data"]) == 10 and small.json()[0]["metadata"]["next"]["offset"] == 10
        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            everyone = session.query('select username from User where username like "cap-%"', page_size=1000).all()
            assert sorted(u["username"] for u in everyone) == [f"cap-{i:04}" for i in range(600)]


def test_the_query_timeout_stops_reads_and_leaves_writes_alone(database):
    reads = [{"action": "query", "expression": "select name, parent.name, children.name from TypedContext"}] * 300
    with Backend.from_url(database, timeout=60, query_timeout=0.001) as limited:
        stopped = limited.execute(reads, "admin")
        assert stopped["exception"] == "ServerError" and stopped["error_code"] == "timeout"
        assert "limit of 0.001 s" in stopped["content"]
        name = f"qt-{uuid.uuid4().hex[:8]}"
        written = limited.execute([{"action": "create", "entity_type": "User", "entity_data": {"username": name}}], "admin")
        assert written[0]["data"]["username"] == name  # a write is held to --timeout only
    with Backend.from_url(database, timeout=60) as unlimited:
        answers = unlimited.execute(reads[:20], "admin")
        assert [answer["action"] for answer in answers] == ["query"] * 20


def test_serve_hands_the_query_timeout_and_the_row_cap_to_its_workers(tmp_path, monkeypatch):
    monkeypatch.setenv("FTRACK_LIKE_DATABASE", f"sqlite:///{tmp_path / 'studio.db'}")
    monkeypatch.setenv("FTRACK_LIKE_QUERY_TIMEOUT", "2.5")
    monkeypatch.setenv("FTRACK_LIKE_MAX_ROWS", "123")
    monkeypatch.setenv("FTRACK_LIKE_CONCURRENCY", "3")
    app = app_from_environment()
    backend = app.state.backend
    assert backend.query_timeout == 2.5 and backend.reader.max_rows == 123 and app.state.concurrency == 3
    backend.close()


def test_workers_share_the_cores_between_their_database_calls():
    import os

    from ftrack_like_api.cli import default_concurrency

    cores = os.cpu_count() or 1
    assert default_concurrency(1) == max(2, 2 * cores)
    assert default_concurrency(4) == max(2, 2 * cores // 4)  # four workers on two cores: two calls each
    assert default_concurrency(1000) == 2
