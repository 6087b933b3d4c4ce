"""Idempotency keys over a real HTTP server: a batch sent again, even at the same time, runs once."""

import concurrent.futures
import contextlib
import datetime
import hashlib
import json
import threading
import time
import uuid

import pytest
import requests

from ftrack_like_api.exceptions import TransportError
from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.server.auth.idempotency import KeyState
from ftrack_like_api.session import Session
from ftrack_like_api.transport.http import HttpTransport


def post(url, batch, key, idempotency_key, come_back=True, **headers):
    """POST a batch as a client does: asked to come back while the batch runs, it comes back."""
    headers = {"ftrack-user": "admin", "ftrack-api-key": key, "content-type": "application/json",
               "ftrack-idempotency-key": idempotency_key, **headers}  # fmt: skip
    for _ in range(600):
        response = requests.post(f"{url}/api", data=json.dumps(batch), headers=headers)
        if response.status_code != 409 or not come_back:
            return response
        assert response.json()["error_code"] == "in_progress" and response.headers["Retry-After"]
        time.sleep(0.05)
    raise AssertionError("the batch never finished")


def count(backend, entity_type, where):
    answer = backend.execute([{"action": "query", "expression": f"select id from {entity_type} where {where}"}], "admin")
    return len(answer[0]["data"])


def test_eight_copies_at_once_store_the_batch_once_and_all_get_its_answer(backend, server, admin_key):
    tag = uuid.uuid4().hex[:8]
    batch = [{"action": "create", "entity_type": "Priority", "entity_data": {"name": f"{tag}-{i}"}} for i in range(500)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(server, batch, admin_key, f"same-{tag}"), range(8)))
    assert [answer.status_code for answer in answers] == [200] * 8, [answer.text[:200] for answer in answers]
    assert len({answer.text for answer in answers}) == 1
    assert len(answers[0].json()) == 500
    assert count(backend, "Priority", f'name like "{tag}-%"') == 500


def test_a_key_used_again_for_another_batch_is_refused_naming_the_key(backend, server, admin_key):
    tag = uuid.uuid4().hex[:8]
    first = [{"action": "create", "entity_type": "Priority", "entity_data": {"name": f"{tag}-a"}}]
    other = [{"action": "create", "entity_type": "Priority", "entity_data": {"name": f"{tag}-b"}}]
    assert post(server, first, admin_key, f"reused-{tag}").status_code == 200
    for strict in ("true", "false"):
        refused = post(server, other, admin_key, f"reused-{tag}", **{"ftrack-strict-api": strict})
        assert refused.status_code == 422
        assert refused.json()["error_code"] == "idempotency_key_reused" and f"reused-{tag}" in refused.json()["content"]
    assert count(backend, "Priority", f'name is "{tag}-b"') == 0
    assert post(server, first, admin_key, f"reused-{tag}").status_code == 200  # the same batch is still a repeat


def test_a_remembered_refusal_is_given_again_with_its_status(server, admin_key):
    key = f"refused-{uuid.uuid4().hex[:8]}"
    batch = [{"action": "create", "entity_type": "Priority", "entity_data": {"name": "x", "no_such_attribute": 1}}]
    first = post(server, batch, admin_key, key, **{"ftrack-strict-api": "true"})
    again = post(server, batch, admin_key, key, **{"ftrack-strict-api": "true"})
    assert first.status_code == again.status_code == 400
    assert first.json() == again.json() and first.json()["error_code"] == "unknown_attribute"


def test_a_batch_that_failed_for_a_passing_reason_is_not_remembered(backend, server, admin_key):
    # A refusal is remembered (running it again refuses it again); a batch the server could
    # not finish is not: the key is let go, and the retry runs it.
    tag = uuid.uuid4().hex[:8]
    batch = [{"action": "create", "entity_type": "Priority", "entity_data": {"name": tag}}]
    backend.timeout, before = 1e-9, backend.timeout
    try:
        stopped = post(server, batch, admin_key, f"passing-{tag}", **{"ftrack-strict-api": "true"})
    finally:
        backend.timeout = before
    assert stopped.json()["error_code"] == "timeout"
    assert post(server, batch, admin_key, f"passing-{tag}").status_code == 200
    assert count(backend, "Priority", f'name is "{tag}"') == 1


@contextlib.contextmanager
def writes_held(backend, table):
    """Hold back every write to ``table`` until the block ends (SQLite: every write at all)."""
    with backend.engine.connect().execution_options(ftrack_writes=True) as connection:
        with connection.begin():
            if backend.dialect.name == "postgresql":
                connection.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            yield


def committing(session):
    """``session.commit()`` in a thread; the thread and what it raised, if anything."""
    raised = []

    def commit():
        try:
            session.commit()
        except Exception as error:  # the test says what it was
            raised.append(error)

    thread = threading.Thread(target=commit)
    thread.start()
    return thread, raised


def test_a_commit_whose_first_try_times_out_ends_stored_once_without_error(backend, admin_key, caplog):
    # The read timeout is shorter than the commit (its writes are held back for longer): the
    # client sends the batch again while the first is still running, and is told to wait.
    caplog.set_level("INFO", logger="ftrack_like_api.server.protocols.ftrack.api")
    tag = uuid.uuid4().hex[:8]
    with serving(create_app(backend, idempotency_wait=0.2)) as url:
        transport = HttpTransport(url, "admin", admin_key, timeout=(10, 1), backoff=0.05, retries=10)
        with Session(transport=transport, schema_cache_path=False) as session:
            for i in range(50):
                session.create("Priority", {"name": f"{tag}-{i}"})
            with writes_held(backend, "priority"):
                thread, raised = committing(session)
                time.sleep(2.5)  # longer than the read timeout: the first try surely timed out
            thread.join(60)
            assert not thread.is_alive() and raised == []
            assert count(backend, "Priority", f'name like "{tag}-%"') == 50
            assert not session.created
            session.create("Priority", {"name": f"{tag}-next"})
            session.commit()
    assert count(backend, "Priority", f'name like "{tag}-%"') == 51
    tries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("api user=admin actions=create")]
    assert len(tries) >= 3  # the held batch more than once, then the next


def test_a_commit_that_gave_up_sends_the_same_key_again_and_gets_the_answer(backend, admin_key):
    tag = uuid.uuid4().hex[:8]
    with serving(create_app(backend, idempotency_wait=0.2)) as url:
        transport = HttpTransport(url, "admin", admin_key, timeout=(10, 0.5), backoff=0.05, retries=0)
        with Session(transport=transport, schema_cache_path=False) as session:
            for i in range(20):
                session.create("Priority", {"name": f"{tag}-{i}"})
            with writes_held(backend, "priority"):
                with pytest.raises(TransportError):
                    session.commit()  # no answer in time; the server carries on
            assert len(session.created) == 20  # the client does not know: it keeps the changes
            session.commit()  # the same batch, the same key: the server's answer, not a second run
            assert not session.created
    assert count(backend, "Priority", f'name like "{tag}-%"') == 20


def test_a_claim_left_by_a_dead_worker_is_taken_over(backend, server, admin_key):
    auth = backend.auth
    tag = uuid.uuid4().hex[:8]
    batch = [{"action": "create", "entity_type": "Priority", "entity_data": {"name": tag}}]
    with backend.engine.connect() as connection:
        user_id = auth.user_id(connection, "admin")
    state, _ = auth.claim(user_id, f"dead-{tag}", hashlib.sha256(json.dumps(batch).encode()).hexdigest())
    assert state is KeyState.CLAIMED  # … and the worker that claimed it died
    assert post(server, batch, admin_key, f"dead-{tag}", come_back=False).status_code == 409  # a while, it waits
    long_ago = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(hours=2)
    with backend.engine.begin() as connection:
        connection.execute(auth.answers.update().where(auth.answers.c.key == f"dead-{tag}").values(created_at=long_ago))
    assert post(server, batch, admin_key, f"dead-{tag}").status_code == 200
    assert count(backend, "Priority", f'name is "{tag}"') == 1


def test_a_batch_run_once_a_dead_workers_claim_is_taken_over_signs_its_thumbnail_links(backend, server, admin_key):
    """The batch then runs in a later thread hop than the one that read the link signer: its links still carry
    their token (a plain GET of them works, as ftrack's do)."""
    auth, tag = backend.auth, uuid.uuid4().hex[:8]
    made = backend.execute([{"action": "create", "entity_type": "FileComponent", "entity_data": {"name": f"thumb-{tag}"}}], "admin")
    component = made[0]["data"]["id"]
    user = backend.execute([{"action": "query", "expression": "select id from User where username is admin"}], "admin")
    backend.execute([{"action": "update", "entity_type": "User", "entity_key": [user[0]["data"][0]["id"]],
                      "entity_data": {"thumbnail_id": component}}], "admin")  # fmt: skip
    batch = [{"action": "create", "entity_type": "Priority", "entity_data": {"name": tag}},
             {"action": "query", "expression": "select thumbnail_url from User where username is admin"}]  # fmt: skip
    with backend.engine.connect() as connection:
        user_id = auth.user_id(connection, "admin")
    auth.claim(user_id, f"dead-{tag}", hashlib.sha256(json.dumps(batch).encode()).hexdigest())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # The request finds the claim held and waits for it (the server's 5 s), asking again now and then …
        sent = pool.submit(post, server, batch, admin_key, f"dead-{tag}", come_back=False)
        time.sleep(0.5)
        # … until the claim is seen to be a dead worker's: it takes it over and runs the batch in that later hop.
        long_ago = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(hours=2)
        with backend.engine.begin() as connection:
            connection.execute(auth.answers.update().where(auth.answers.c.key == f"dead-{tag}").values(created_at=long_ago))
        answer = sent.result()
    assert answer.status_code == 200, answer.text
    url = answer.json()[1]["data"][0]["thumbnail_url"]["url"]
    assert f"id={component}" in url and "&token=" in url


def test_a_new_key_is_claimed_in_one_statement_on_postgresql(backend):
    """The claim is its own transaction, committed at once: on PostgreSQL one round trip (no BEGIN, SET,
    COMMIT of their own), and the claim is there for every other connection as soon as it returns."""
    import sqlalchemy as sa

    auth, key = backend.auth, f"once-{uuid.uuid4().hex[:8]}"
    with backend.engine.connect() as connection:
        user_id = auth.user_id(connection, "admin")
    sent = []
    keep = lambda connection, cursor, statement, *rest: sent.append(statement)  # noqa: E731
    sa.event.listen(backend.engine, "before_cursor_execute", keep)
    try:
        state, claim = auth.claim(user_id, key, "0" * 64)
        again, _ = auth.claim(user_id, key, "0" * 64)
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", keep)
    assert state is KeyState.CLAIMED and again is KeyState.RUNNING
    if backend.engine.dialect.name == "postgresql":
        # The first claim: one statement, the insert with the setting for its own commit.
        assert sent[0].lstrip().upper().startswith("INSERT INTO IDEMPOTENT_ANSWER") and "set_config" in sent[0]
        assert not sent[1].lstrip().upper().startswith(("SET ", "COMMIT"))  # the second claim's own insert
    with backend.engine.connect() as connection:  # committed: another connection sees it
        row = connection.execute(sa.select(auth.answers).where(auth.answers.c.key == key)).one()
    assert row.state == "running" and row.claim == claim
