"""The HTTP server and HttpTransport, on a real uvicorn server on 127.0.0.1 (an ephemeral port)."""

import gzip
import json
import logging
import uuid

import pytest
import requests
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from ftrack_like_api.exceptions import ServerError, TransportError
from ftrack_like_api.server import Backend
from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.session import Session
from ftrack_like_api.transport.http import HttpTransport


@pytest.fixture(scope="module")
def server(backend):
    with serving(create_app(backend, max_operations=1000)) as url:
        yield url


@pytest.fixture(scope="module")
def admin_key(backend):
    return backend.auth.create_key("admin", "http tests")


def post(url, batch, key, user="admin", **headers):
    return requests.post(f"{url}/api", data=json.dumps(batch), headers={
        "ftrack-user": user, "ftrack-api-key": key, "content-type": "application/json", **headers})  # fmt: skip


def test_health_and_ready(server):
    assert requests.get(f"{server}/health").json() == {"status": "alive"}
    assert requests.get(f"{server}/ready").json() == {"status": "ready"}


def test_ready_says_when_the_database_does_not_answer(tmp_path, caplog):
    path = tmp_path / "studio.db"
    with Backend.from_url(f"sqlite:///{path}") as backend, serving(create_app(backend)) as url:
        assert requests.get(f"{url}/ready").status_code == 200
        backend.engine.dispose()  # the pooled connections go; new ones find …
        for name in ("studio.db-wal", "studio.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        path.write_bytes(b"this is not a database" * 100)  # … a file that is not a database
        ready = requests.get(f"{url}/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        # The database's own words go to the log, under the id the answer gives.
        logged = [r for r in caplog.records if ready.json()["error_id"] in r.getMessage()]
        assert len(logged) == 1 and "not a database" in str(logged[0].exc_info[1])
        assert "not a database" not in ready.text
        assert requests.get(f"{url}/health").json() == {"status": "alive"}  # the process still is


def test_a_batch_over_http(server, admin_key):
    transport = HttpTransport(server, "admin", admin_key)
    results = transport.handle([{"action": "query_server_information"}, {"action": "query", "expression": "Status limit 1"}])
    assert "schema_hash" in results[0] and len(results[1]["data"]) == 1
    transport.close()


def test_wrong_credentials_say_nothing_about_who_exists(server, admin_key):
    wrong_key = post(server, [{"action": "query_schemas"}], "not-a-key")
    no_user = post(server, [{"action": "query_schemas"}], admin_key, user="nobody")
    assert wrong_key.status_code == no_user.status_code == 401
    assert wrong_key.json() == no_user.json() == {
        "exception": "InvalidCredentialsError", "content": "The credentials were not accepted",
        "error_code": "invalid_credentials"}
    with pytest.raises(ServerError, match="InvalidCredentialsError"):
        HttpTransport(server, "admin", "not-a-key").handle([{"action": "query_schemas"}])


def test_strict_and_lenient_errors(server, admin_key):
    bad = [{"action": "query", "expression": "Task where"}]
    lenient = post(server, bad, admin_key)
    strict = post(server, bad, admin_key, **{"ftrack-strict-api": "true"})
    assert lenient.status_code == 200 and strict.status_code == 400
    assert lenient.json()["exception"] == strict.json()["exception"] == "ValidationError"
    assert "Expected condition" in strict.json()["content"]


def test_bodies_that_are_not_batches_are_clear_errors(server, admin_key):
    headers = {"ftrack-user": "admin", "ftrack-api-key": admin_key, "ftrack-strict-api": "true"}
    not_json = requests.post(f"{server}/api", data="{nope", headers=headers)
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["content"]
    not_list = requests.post(f"{server}/api", data="{}", headers=headers)
    assert "JSON list" in not_list.json()["content"]
    too_many = post(server, [{"action": "query_server_information"}] * 1001, admin_key, **{"ftrack-strict-api": "true"})
    assert too_many.status_code == 413 and "at most 1000 operations" in too_many.json()["content"]


def test_a_body_over_the_limit_is_refused_without_being_held(backend, admin_key):
    headers = {"ftrack-user": "admin", "ftrack-api-key": admin_key, "ftrack-strict-api": "true"}
    big = json.dumps([{"action": "query", "expression": "Status limit 1", "padding": "x" * 200_000}]).encode()
    with serving(create_app(backend, max_body=100_000)) as url:
        declared = requests.post(f"{url}/api", data=big, headers=headers)  # Content-Length says it all
        streamed = requests.post(f"{url}/api", data=iter([big[i : i + 8192] for i in range(0, len(big), 8192)]),
                                 headers=headers)  # chunked: no length given  # fmt: skip
        # 50 MB of zeros is about 50 KB in gzip: it is unpacked as far as the limit, no further.
        bomb = requests.post(f"{url}/api", data=gzip.compress(b"0" * 50_000_000),
                             headers={**headers, "content-encoding": "gzip"})  # fmt: skip
        cut = requests.post(f"{url}/api", data=gzip.compress(json.dumps([]).encode())[:-6],
                            headers={**headers, "content-encoding": "gzip"})  # fmt: skip
        small = requests.post(f"{url}/api", data=json.dumps([{"action": "query", "expression": "Status limit 1"}]),
                              headers=headers)  # fmt: skip
    for refused in (declared, streamed, bomb):
        assert refused.status_code == 413 and refused.json()["content"] == "The body is over 100000 bytes"
    assert cut.status_code == 400 and "not valid gzip" in cut.json()["content"]
    assert small.status_code == 200


def test_one_log_line_per_call_with_who_what_status_and_no_secret(server, admin_key, caplog):
    caplog.set_level(logging.INFO, logger="ftrack_like_api.server.protocols.ftrack.api")
    post(server, [{"action": "query", "expression": 'User where username is "very-secret-value"'}], admin_key)
    post(server, [{"action": "query_schemas"}], "not-the-key")
    lines = [record.getMessage() for record in caplog.records if record.name == "ftrack_like_api.server.protocols.ftrack.api"]
    assert len(lines) == 2
    assert lines[0].startswith("api user=admin actions=query status=200 ok in ")
    assert lines[1].startswith("api user=admin actions=- status=401 refused in ")
    assert not any(secret in line for line in lines for secret in (admin_key, "not-the-key", "very-secret-value"))


def test_gzip_both_ways(server, admin_key):
    body = gzip.compress(json.dumps([{"action": "query_schemas"}]).encode())
    response = requests.post(f"{server}/api", data=body, headers={
        "ftrack-user": "admin", "ftrack-api-key": admin_key, "content-encoding": "gzip", "accept-encoding": "gzip"})  # fmt: skip
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    assert len(response.json()[0]) > 40


def test_read_only_users_read_and_cannot_write(server, backend):
    backend.execute([{"action": "create", "entity_type": "User", "entity_key": [str(uuid.uuid4())],
                      "entity_data": {"username": "viewer"}}], "admin")  # fmt: skip
    backend.auth.set_role("viewer", "read-only")
    key = backend.auth.create_key("viewer", "dashboard")
    assert post(server, [{"action": "query", "expression": "Status limit 1"}], key, user="viewer").json()[0]["data"]
    refused = post(server, [{"action": "delete", "entity_type": "Status", "entity_key": ["x"]}], key, user="viewer",
                   **{"ftrack-strict-api": "true"})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["exception"] == "PermissionError"


def test_a_retried_batch_runs_once(server, admin_key):
    key = str(uuid.uuid4())
    batch = [{"action": "create", "entity_type": "Scope", "entity_key": [key], "entity_data": {"id": key, "name": key}}]
    first = post(server, batch, admin_key, **{"ftrack-idempotency-key": "retry-1"})
    again = post(server, batch, admin_key, **{"ftrack-idempotency-key": "retry-1"})
    assert first.json() == again.json() and first.json()[0]["action"] == "create"
    fresh = post(server, batch, admin_key, **{"ftrack-idempotency-key": "retry-2"})
    assert fresh.json()["error_code"] == "duplicate_key"  # without the same key it would have run twice


def test_answers_older_than_a_day_are_forgotten_and_never_given(backend):
    import datetime

    auth = backend.auth
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(days=2)
    with backend.engine.begin() as connection:
        connection.execute(auth.answers.insert().values(user_id="u", key="old", answer="[]", created_at=old))
    assert auth.remembered("u", "old") is None  # too old to answer with, even before it is dropped
    auth.forget_expired()
    with backend.engine.connect() as connection:
        left = connection.execute(auth.answers.select().where(auth.answers.c.key == "old")).all()
    assert left == []


def test_expired_answers_are_dropped_outside_the_batch_that_remembers(tmp_path, caplog):
    # Inside the batch's transaction the clean-up would wait for the batch's own SQLite lock.
    import datetime

    caplog.set_level(logging.INFO, logger="ftrack_like_api.server.auth.idempotency")
    with Backend.from_url(f"sqlite:///{tmp_path / 'studio.db'}") as backend, serving(create_app(backend)) as url:
        auth = backend.auth
        old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(days=2)
        with backend.engine.begin() as connection:
            connection.execute(auth.answers.insert().values(user_id="u", key="old", answer="[]", created_at=old))
        key = auth.create_key("admin", "tidy")
        batch = [{"action": "create", "entity_type": "Scope", "entity_data": {"name": "tidy"}}]
        assert post(url, batch, key, **{"ftrack-idempotency-key": "tidy-1"}).status_code == 200
        with backend.engine.connect() as connection:
            keys = {row.key for row in connection.execute(sa.select(auth.answers.c.key))}
    assert keys == {"tidy-1"}  # the old answer dropped, the new one kept
    assert not [r for r in caplog.records if "could not drop expired answers" in r.getMessage()]


def test_a_batch_that_only_reads_is_not_remembered(server, admin_key):
    name = f"read-{uuid.uuid4().hex[:6]}"
    query = [{"action": "query", "expression": f'select name from Scope where name is "{name}"'}]
    before = post(server, query, admin_key, **{"ftrack-idempotency-key": "reading"}).json()
    post(server, [{"action": "create", "entity_type": "Scope", "entity_data": {"name": name}}], admin_key)
    after = post(server, query, admin_key, **{"ftrack-idempotency-key": "reading"}).json()
    assert before[0]["data"] == [] and [scope["name"] for scope in after[0]["data"]] == [name]


def test_revoked_keys_stop_working(server, backend):
    key = backend.auth.create_key("admin", "short lived")
    assert post(server, [{"action": "query_schemas"}], key).status_code == 200
    assert backend.auth.revoke("admin", "short lived") == 1
    assert post(server, [{"action": "query_schemas"}], key).status_code == 401
    listed = [k for k in backend.auth.list_keys("admin") if k["name"] == "short lived"]
    assert listed[0]["revoked_at"] is not None and listed[0]["last_used_at"] is not None


def test_the_transport_retries_busy_answers_then_gives_the_result():
    calls = []

    async def api(request):
        calls.append(1)
        if len(calls) < 3:
            return JSONResponse({"busy": True}, status_code=503, headers={"Retry-After": "0"})
        return JSONResponse([{"ok": True}])

    with serving(Starlette(routes=[Route("/api", api, methods=["POST"])])) as url:
        assert HttpTransport(url, "admin", "k", backoff=0.01).handle([{"action": "x"}]) == [{"ok": True}]
    assert len(calls) == 3


@pytest.mark.timeout(120)  # waiting out the 872 s would be cut short here: a hang guard, not a stopwatch
def test_a_long_retry_after_is_answered_at_once_not_waited_for():
    calls = []

    async def api(request):
        calls.append(1)
        return JSONResponse({"exception": "InvalidCredentialsError", "content": "Too many failed attempts; try again "
                             "in 872 s", "error_code": "throttled"}, status_code=429, headers={"Retry-After": "872"})  # fmt: skip

    with serving(Starlette(routes=[Route("/api", api, methods=["POST"])])) as url:
        with pytest.raises(ServerError, match="try again in 872 s") as raised:
            HttpTransport(url, "admin", "k", retries=5).handle([{"action": "x"}])
    # One try, not six: urllib3 was not let sleep out the Retry-After and try again; the
    # server's own answer (its code too) is what the caller gets.
    assert len(calls) == 1 and raised.value.code == "throttled"


def test_no_server_is_a_transport_error_after_retries(unused_port):
    transport = HttpTransport(f"http://127.0.0.1:{unused_port}", "admin", "k", retries=2, backoff=0.01, timeout=(1, 1))
    with pytest.raises(TransportError, match=r"No answer from .* after 3 tries"):
        transport.handle([{"action": "query_schemas"}])


def test_a_session_over_http(server, admin_key):
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        schema = session.query("ProjectSchema").first()
        project = session.create("Project", {"name": f"http{uuid.uuid4().hex[:6]}", "project_schema": schema})
        task = session.create("Task", {"name": "comp", "parent": session.create("Shot", {"name": "sh", "parent": project})})
        session.commit()
        assert task["status"]["name"] == "Not started"
        broken = session.create("Task", {"name": "x", "parent_id": "missing"})
        with pytest.raises(ServerError) as raised:
            session.commit()
        assert raised.value.code == "missing_reference" and session.state(broken).value == "created"
        session.rollback()


def test_a_sign_in_that_is_not_a_name_and_a_password_is_a_clear_error(server):
    for body in (b"{nope", json.dumps({"username": "x"}).encode(), b"x" * 200_000):
        refused = requests.post(f"{server}/signin", data=body)
        assert refused.status_code == 400 and refused.json()["error_code"] == "bad_request"


def test_people_sign_in_with_a_password_and_use_the_token(server, backend):
    from ftrack_like_api import signin

    backend.execute([{"action": "create", "entity_type": "User", "entity_key": [str(uuid.uuid4())],
                      "entity_data": {"username": "person"}}], "admin")  # fmt: skip
    backend.auth.set_password("person", "correct horse battery")
    signed = signin(server, "person", "correct horse battery")
    assert signed.username == "person" and signed.expires_at.tzinfo is not None and "token" not in repr(signed)
    with Session(server_url=server, token=signed, schema_cache_path=False) as session:
        assert session.api_user == "person"
        assert session.query("Status").first() is not None
    stored = backend.auth.passwords
    with backend.engine.connect() as connection:
        kept = connection.execute(stored.select()).all()
    assert all(row.hash.startswith("scrypt$16384$8$1$") and "correct" not in row.hash for row in kept)


def test_a_wrong_password_and_an_unknown_user_get_one_answer(server, backend):
    from ftrack_like_api import signin

    backend.execute([{"action": "create", "entity_type": "User", "entity_key": [str(uuid.uuid4())],
                      "entity_data": {"username": "answerer"}}], "admin")  # fmt: skip
    backend.auth.set_password("answerer", "the real password")
    with pytest.raises(ServerError) as wrong:
        signin(server, "answerer", "not the password")
    with pytest.raises(ServerError) as unknown:
        signin(server, "nobody-at-all", "whatever password")
    assert str(wrong.value) == str(unknown.value) == "InvalidCredentialsError: The credentials were not accepted"


def test_an_expired_token_says_so(server, backend):
    import datetime
    import hashlib

    from ftrack_like_api import signin

    backend.execute([{"action": "create", "entity_type": "User", "entity_key": [str(uuid.uuid4())],
                      "entity_data": {"username": "expiring"}}], "admin")  # fmt: skip
    backend.auth.set_password("expiring", "a long password")
    signed = signin(server, "expiring", "a long password")
    tokens = backend.auth.tokens
    with backend.engine.begin() as connection:
        connection.execute(tokens.update().where(tokens.c.token_hash == hashlib.sha256(str(signed).encode()).hexdigest())
                           .values(expires_at=datetime.datetime(2000, 1, 1)))  # fmt: skip
    response = requests.post(f"{server}/api", json=[{"action": "query_schemas"}], headers={"authorization": f"Bearer {signed}"})
    assert response.status_code == 401
    assert response.json()["content"] == "The token expired at 2000-01-01T00:00:00Z; sign in again"
    assert response.json()["error_code"] == "session_expired"  # the client raises SessionExpiredError for it


def test_repeated_failures_are_throttled_for_everyone_trying_that_name(server, backend):
    from ftrack_like_api import signin

    for _ in range(10):
        with pytest.raises(ServerError):
            signin(server, "target", "guess")
    response = requests.post(f"{server}/signin", json={"username": "target", "password": "guess"})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "Too many failed attempts" in response.json()["content"]
    keyed = post(server, [{"action": "query_schemas"}], "any-key", user="target")
    assert keyed.status_code == 429
