"""A commit larger than the server takes in one batch goes as several, over a real HTTP server."""

import json

import pytest
import sqlalchemy as sa

from ftrack_like_api.exceptions import ServerError
from ftrack_like_api.server import Backend
from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.session import Session
from ftrack_like_api.symbol import State


@pytest.fixture(scope="module")
def small_server(backend):
    """Our server, taking at most 50 operations and 20,000 bytes a batch."""
    with serving(create_app(backend, max_operations=50, max_body=20_000)) as url:
        yield url


@pytest.fixture
def session(small_server, admin_key):
    with Session(server_url=small_server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        yield session


def stored_keys(backend):
    """The idempotency keys the server remembers: one per batch that wrote."""
    table = backend.auth.answers
    with backend.engine.connect() as connection:
        return set(connection.execute(sa.select(table.c.key)).scalars())


def test_the_server_says_what_a_batch_may_hold(session):
    assert session.server_information["max_operations"] == 50
    assert session.server_information["max_body"] == 20_000


def test_embedded_the_backend_has_no_limit(backend):
    answer = backend.execute([{"action": "query_server_information"}], "admin")[0]
    assert answer["max_operations"] is None and answer["max_body"] is None


def test_a_commit_over_the_limit_goes_as_batches_each_with_its_own_key(session, backend):
    before = stored_keys(backend)
    priorities = [session.create("Priority", {"name": f"split {n}", "sort": n}) for n in range(120)]
    session.commit()
    assert len(stored_keys(backend) - before) == 3  # 50 + 50 + 20, one key each
    assert all(session.state(priority) is State.UNCHANGED for priority in priorities)
    found = session.query('select name from Priority where name like "split %"').all()
    assert sorted(p["name"] for p in found) == sorted(f"split {n}" for n in range(120))


def test_a_batch_is_never_over_the_servers_body_limit(session, backend):
    before = stored_keys(backend)
    long = "x" * 900  # about 1 kB of JSON an operation: 20 fit in 20,000 bytes, not 50
    for n in range(60):
        session.create("Priority", {"name": f"long {n} {long}"})
    session.commit()  # the server refuses a body over its limit: this would fail unsplit
    assert len(stored_keys(backend) - before) >= 3
    assert len(session.query('select id from Priority where name like "long %"').all()) == 60


def test_when_a_later_batch_fails_the_earlier_ones_are_stored_and_the_rest_stay_pending(session):
    schema = session.query("ProjectSchema").first()
    project = session.create("Project", {"name": "split", "full_name": "split", "project_schema": schema})
    shot = session.create("Shot", {"name": "split shot", "parent": project})
    session.commit()
    tasks = [session.create("Task", {"name": f"t{n}", "parent": shot}) for n in range(120)]
    tasks[75]["name"] = ""  # in the second batch: a task needs a name
    with pytest.raises(ServerError) as refused:
        session.commit()
    assert refused.value.code is not None
    # The batches before the refused one are stored and settled; the refused one was stored
    # not at all, and it and those after it stay pending.
    stored = len(session.query(f'select id from Task where parent_id is "{shot["id"]}"').all())
    assert 0 < stored <= 75
    assert [session.state(task) for task in tasks[:stored]] == [State.UNCHANGED] * stored
    assert [session.state(task) for task in tasks[stored:]] == [State.CREATED] * (120 - stored)
    tasks[75]["name"] = "t75"  # fixed: committing again sends what is pending, nothing twice
    session.commit()
    names = [task["name"] for task in session.query(f'select name from Task where parent_id is "{shot["id"]}"').all()]
    assert sorted(names) == sorted(f"t{n}" for n in range(120))


def test_chunk_size_splits_further_but_never_past_the_servers_limit(small_server, admin_key, backend):
    for chunk_size, batches in ((10, 6), (1000, 2)):
        with Session(server_url=small_server, api_user="admin", api_key=admin_key, schema_cache_path=False,
                     chunk_size=chunk_size) as session:  # fmt: skip
            before = stored_keys(backend)
            for n in range(60):
                session.create("Priority", {"name": f"chunk {chunk_size} {n}"})
            session.commit()
            assert len(stored_keys(backend) - before) == batches


def test_a_commit_of_60000_creates_goes_through(tmp_path):
    """The server's own limit (50,000 operations a batch), for real: split in two and stored."""
    with Backend.from_url(f"sqlite:///{tmp_path / 'big.db'}") as backend, serving(create_app(backend)) as url:
        key = backend.auth.create_key("admin", "big")
        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            assert session.server_information["max_operations"] == 50_000
            for n in range(60_000):
                session.create("Priority", {"name": f"p{n}"})
            session.commit()
            assert len(session.recorded_operations) == 0
        counted = backend.execute([{"action": "query", "expression": "select count(id) from Priority"}], "admin")
        assert json.loads(json.dumps(counted))[0]["data"][0]["count_id"] >= 60_000



def test_server_information_says_what_the_server_does(session, backend):
    """session.server_information's features: the backend's own in-process, more when served."""
    from ftrack_like_api.server.engine.backend import FEATURES
    from ftrack_like_api.server.protocols.ftrack.api import SERVED_FEATURES

    (embedded,) = backend.execute([{"action": "query_server_information"}], "admin")
    assert embedded["features"] == list(FEATURES) == ["events", "explain", "files"]
    served = session.server_information["features"]
    assert served == sorted({*FEATURES, *SERVED_FEATURES})
    assert {"sign_in", "personal_tokens", "shotgrid", "events", "files"} <= set(served)
