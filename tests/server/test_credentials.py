"""Sign-in tokens that end, throttling per name and address, and names too long to be names: over real HTTP."""

import logging
import uuid

import pytest
import requests
import sqlalchemy as sa

from ftrack_like_api import signin
from ftrack_like_api.cli import main
from ftrack_like_api.server.auth.throttle import MAX_FAILURES, MAX_NAME_FAILURES


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from one loopback address (127.0.0.0/8 is all this machine): a client elsewhere."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address):
    http = requests.Session()
    http.mount("http://", FromAddress(address))
    return http


def person(backend, password="correct horse battery"):
    """A new user with a password; their name."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    backend.execute([{"action": "create", "entity_type": "User", "entity_data": {"username": name}}], "admin")
    backend.auth.set_password(name, password)
    return name


def works(server, token):
    """The status of a request made with ``token``."""
    return requests.post(f"{server}/api", json=[{"action": "query_schemas"}], headers={"authorization": f"Bearer {token}"}).status_code


def update_user(server, admin_key, name, **values):
    headers = {"ftrack-user": "admin", "ftrack-api-key": admin_key, "ftrack-strict-api": "true"}
    found = requests.post(f"{server}/api", json=[{"action": "query", "expression": f'User where username is "{name}"'}],
                          headers=headers).json()[0]["data"][0]  # fmt: skip
    answer = requests.post(f"{server}/api", json=[{"action": "update", "entity_type": "User", "entity_key": [found["id"]],
                                                   "entity_data": values}], headers=headers)  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_a_token_ends_when_the_password_changes(server, backend):
    name = person(backend)
    token = signin(server, name, "correct horse battery")
    assert works(server, token) == 200
    backend.auth.set_password(name, "a different password")
    assert works(server, token) == 401
    assert works(server, signin(server, name, "a different password")) == 200


def test_a_token_ends_when_the_user_is_disabled_and_stays_ended(server, backend, admin_key):
    name = person(backend)
    token = signin(server, name, "correct horse battery")
    kept = signin(server, person(backend), "correct horse battery")  # someone else's
    update_user(server, admin_key, name, is_active=False)
    assert works(server, token) == 401
    update_user(server, admin_key, name, is_active=True)
    assert works(server, token) == 401  # enabled again, they sign in again
    assert works(server, signin(server, name, "correct horse battery")) == 200
    update_user(server, admin_key, name, first_name="Renamed")  # other changes end nothing
    assert works(server, kept) == 200


def test_logout_everywhere_ends_every_token_of_that_user(server, backend, database, capsys):
    name = person(backend)
    tokens = [signin(server, name, "correct horse battery") for _ in range(2)]
    kept = signin(server, person(backend), "correct horse battery")
    assert main(["user", "logout-everywhere", name, "--database", database]) == 0
    assert "ended 2 sign-in token(s)" in capsys.readouterr().out
    assert [works(server, token) for token in tokens] == [401, 401]
    assert works(server, kept) == 200
    assert main(["user", "logout-everywhere", "nobody-at-all", "--database", database]) == 1


def test_failures_from_one_address_do_not_lock_the_owner_out_from_another(server, backend):
    name = person(backend)
    key = backend.auth.create_key(name, "owner's script")
    attacker, owner = client("127.0.0.2"), client("127.0.0.1")
    for _ in range(MAX_FAILURES):
        assert attacker.post(f"{server}/signin", json={"username": name, "password": "guess"}).status_code == 401
    assert attacker.post(f"{server}/signin", json={"username": name, "password": "guess"}).status_code == 429
    keyed = {"ftrack-user": name, "ftrack-api-key": key}
    assert attacker.post(f"{server}/api", json=[{"action": "query_schemas"}], headers=keyed).status_code == 429
    # From the owner's address: the password and the key both work.
    assert owner.post(f"{server}/signin", json={"username": name, "password": "correct horse battery"}).status_code == 200
    assert owner.post(f"{server}/api", json=[{"action": "query_schemas"}], headers=keyed).status_code == 200


def test_failures_from_many_addresses_stop_password_sign_ins_not_a_right_key(server, backend):
    name = person(backend)
    key = backend.auth.create_key(name, "owner's script")
    wrong = {"ftrack-user": name, "ftrack-api-key": "a guess"}
    for address in range(MAX_NAME_FAILURES // MAX_FAILURES):
        guesser = client(f"127.0.1.{address + 1}")
        for _ in range(MAX_FAILURES):
            assert guesser.post(f"{server}/api", json=[{"action": "query_schemas"}], headers=wrong).status_code == 401
    owner = client("127.0.0.1")
    refused = owner.post(f"{server}/signin", json={"username": name, "password": "correct horse battery"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    keyed = {"ftrack-user": name, "ftrack-api-key": key}
    assert owner.post(f"{server}/api", json=[{"action": "query_schemas"}], headers=keyed).status_code == 200


def test_a_name_too_long_is_refused_before_anything_is_stored_or_logged(server, backend, caplog):
    caplog.set_level(logging.INFO, logger="ftrack_like_api")
    long_name = "x" * 1000
    failures = backend.auth.failures

    def failures_stored():
        with backend.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(failures)).scalar()

    before = failures_stored()
    signed = requests.post(f"{server}/signin", json={"username": long_name, "password": "whatever"})
    keyed = requests.post(f"{server}/api", json=[{"action": "query_schemas"}],
                          headers={"ftrack-user": long_name, "ftrack-api-key": "k"})  # fmt: skip
    for answer in (signed, keyed):
        assert answer.status_code == 400
        assert answer.json() == {"exception": "ValidationError", "content": "A user name is at most 255 characters",
                                 "error_code": "bad_request"}  # fmt: skip
    assert failures_stored() == before
    logged = [record.getMessage() for record in caplog.records]
    assert logged and not [line for line in logged if long_name in line]
    assert any("<1000 characters>" in line for line in logged)


def test_a_key_made_while_another_process_writes_waits_its_turn(backend, tmp_path):
    """Credentials read, then write: another process committing in between must not fail them.

    A deferred SQLite transaction that has read cannot write once another connection has
    committed ("database is locked" at once, no busy wait); the accounts' transactions take
    the write lock up front, so the other writer waits instead.
    """
    if backend.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's deferred transactions only: PostgreSQL has no such failure")
    import sqlite3

    path = backend.engine.url.database
    other_outcome = []

    def another_process_writes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO API_KEY") and not other_outcome:
            other = sqlite3.connect(path, timeout=0.2)
            try:
                other.execute("INSERT INTO ftrack_like_meta (key, value) VALUES (?, ?)", (f"probe-{uuid.uuid4()}", "x"))
                other.commit()
                other_outcome.append("committed")
            except sqlite3.OperationalError as locked:
                other_outcome.append(str(locked))
            finally:
                other.close()

    name = person(backend)
    sa.event.listen(backend.engine, "before_cursor_execute", another_process_writes)
    try:
        assert backend.auth.create_key(name, "script")
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", another_process_writes)
    assert other_outcome == ["database is locked"]  # it waited for the key's transaction, not the other way
