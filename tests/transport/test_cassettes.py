"""The Session over HTTP, replayed from cassettes recorded from our own server (vcrpy).

These run with no server and no database: each test replays the requests and answers
of ``tests/transport/cassettes/<test>.json``, and fails if the client sends anything the
cassette does not have — a different query, an extra round trip, a changed body. That
pins the client's side of the wire protocol; tests/server/test_http.py runs the same
client against a live server.

Re-record them after a change to what the client sends or the server answers::

    FTRACK_LIKE_RECORD=1 .venv/bin/python -m pytest tests/transport/test_cassettes.py

Recording serves a new SQLite studio (ids derived from names, so answers are the same
every time) on 127.0.0.1 and runs the same test code against it. API keys and
idempotency keys are left out of the cassettes.
"""

import contextlib
import json
import os
import pathlib
import uuid

import pytest

from ftrack_like_api.exceptions import ServerError
from ftrack_like_api.session import Session
from ftrack_like_api.transport import MockTransport
from ftrack_like_api.transport.http import HttpTransport

vcr = pytest.importorskip("vcr", reason="vcrpy comes with the test extra")

CASSETTES = pathlib.Path(__file__).parent / "cassettes"
RECORDING = os.environ.get("FTRACK_LIKE_RECORD") == "1"
#: Where replayed requests claim to go; nothing listens there, and nothing needs to.
REPLAY_URL = "http://127.0.0.1:9"
NAMESPACE = uuid.UUID("6f1d2c1e-4d8f-4b8e-9a57-2b1c0f6a9e11")
#: The key a test sends to be refused: the one key a cassette shows.
WRONG_KEY = "not-a-key"


def stable_id(name):
    return str(uuid.uuid5(NAMESPACE, name))


def seed(backend):
    """A project with one sequence of three shots, each with a comp task."""
    schema_id = backend.execute([{"action": "query", "expression": "ProjectSchema"}], "admin")[0]["data"][0]["id"]

    def create(entity_type, name, **data):
        data.update(id=stable_id(name), name=name.rsplit("/", 1)[-1])
        return {"action": "create", "entity_type": entity_type, "entity_key": [data["id"]], "entity_data": data}

    operations = [create("Project", "cassette", full_name="Cassette", project_schema_id=schema_id),
                  create("Sequence", "cassette/sq010", parent_id=stable_id("cassette"))]  # fmt: skip
    for shot in ("sh010", "sh020", "sh030"):
        operations.append(create("Shot", f"cassette/sq010/{shot}", parent_id=stable_id("cassette/sq010")))
        operations.append(create("Task", f"cassette/sq010/{shot}/comp", parent_id=stable_id(f"cassette/sq010/{shot}")))
    answer = backend.execute(operations, "admin")
    assert isinstance(answer, list), answer


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(url, key): a live server while recording; a place nothing listens at while replaying."""
    if not RECORDING:
        yield REPLAY_URL, "replayed-key"
        return
    from ftrack_like_api.server import Backend
    from ftrack_like_api.server.app import create_app, serving

    with Backend.from_url(f"sqlite:///{tmp_path_factory.mktemp('cassettes') / 'studio.db'}") as backend:
        seed(backend)
        key = backend.auth.create_key("admin", "cassettes")
        with serving(create_app(backend)) as url:
            yield url, key


@pytest.fixture
def cassette(request):
    """Replays (or, with FTRACK_LIKE_RECORD=1, records) this test's cassette; yields it."""
    path = CASSETTES / f"{request.node.name}.json"
    if RECORDING:
        path.unlink(missing_ok=True)  # "all" would add to what is there
    elif not path.exists():
        pytest.fail(f"{path} is missing: record it with FTRACK_LIKE_RECORD=1 (see this module's docstring)")
    recorder = vcr.VCR(
        serializer="json",
        record_mode="all" if RECORDING else "none",
        match_on=["method", "path", "unlisted_body"],
        filter_headers=[("authorization", "FILTERED"), "ftrack-idempotency-key"],
        before_record_request=_hide_key,
        decode_compressed_response=True,
    )
    recorder.register_matcher("unlisted_body", _same_body)
    with recorder.use_cassette(str(path)) as recorded:
        yield recorded
    if not RECORDING:
        assert recorded.all_played, "the client sent fewer requests than were recorded"


def _hide_key(request):
    if request.headers.get("ftrack-api-key") not in (None, WRONG_KEY):
        request.headers["ftrack-api-key"] = "FILTERED"
    unlisted = _unlisted(request.body)
    if unlisted is not None:  # a listing's token is new each time: recorded as LISTING
        request.body = json.dumps(unlisted).encode()
    return request


def _unlisted(body):
    """A batch's operations with each listing token (random: see Loader.ask) written LISTING; None when none has one."""
    try:
        batch = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(batch, list) or not any(isinstance(o, dict) and "listing" in o for o in batch):
        return None
    return [{**o, "listing": "LISTING"} if isinstance(o, dict) and "listing" in o else o for o in batch]


def _same_body(sent, recorded):
    """vcr's body match, a listing's token aside."""
    assert (_unlisted(sent.body) or sent.body) == (_unlisted(recorded.body) or recorded.body)


@contextlib.contextmanager
def session_on(studio, key=None):
    """A Session over HTTP; ``session.sent`` lists the batches it sends (the round trips)."""
    url, real_key = studio
    http = HttpTransport(url, "admin", key or real_key)
    sent = []
    recording = MockTransport(lambda batch: sent.append(batch) or http.handle(batch))  # the batches, on their way
    with Session(server_url=url, api_user="admin", transport=recording, schema_cache_path=False) as session:
        session.sent = sent
        yield session
    http.close()


def test_a_session_starts_and_pages_through_a_query(studio, cassette):
    with session_on(studio) as session:
        assert "Shot" in session.types and len(session.sent) == 2  # server information, then schemas
        shots = session.query("select name, status.name from Shot where project.name is cassette order by name",
                              page_size=2).all()  # fmt: skip
        assert [shot["name"] for shot in shots] == ["sh010", "sh020", "sh030"]
        assert {shot["status"]["name"] for shot in shots} == {"Not started"}
        assert shots[0]["id"] == stable_id("cassette/sq010/sh010")
        assert len(session.sent) == 4  # two pages


def test_a_value_never_fetched_costs_one_round_trip_for_the_whole_answer(studio, cassette):
    with session_on(studio) as session:
        tasks = session.query("select name from Task where project.name is cassette").all()
        before = len(session.sent)
        parents = sorted(task["parent"]["name"] for task in tasks)  # parent, then parent.name: two batches
        assert parents == ["sh010", "sh020", "sh030"]
        assert len(session.sent) - before == 2


def test_a_refused_commit_says_why_and_keeps_the_change(studio, cassette):
    with session_on(studio) as session:
        in_use = session.query('Status where name is "Not started"').one()
        session.delete(in_use)  # the shots and tasks refer to it
        with pytest.raises(ServerError) as refused:
            session.commit()
        assert refused.value.code == "still_referenced" and "Status" in str(refused.value)
        assert len(session.recorded_operations) == 1


def test_a_wrong_key_is_refused_without_saying_who_exists(studio, cassette):
    with pytest.raises(ServerError, match="The credentials were not accepted"):
        with session_on(studio, key=WRONG_KEY) as session:
            session.query("Shot").first()


def test_the_cassettes_still_hold_what_our_server_answers(tmp_path):
    """Each recorded request, sent to a live server on the same seed, gets the recorded answer.

    When this fails, the server's answers changed: re-record (see the module docstring).
    """

    import requests

    pytest.importorskip("sqlalchemy", reason="the live server needs the server extra")
    from ftrack_like_api.server import Backend
    from ftrack_like_api.server.app import create_app, serving

    with Backend.from_url(f"sqlite:///{tmp_path / 'studio.db'}") as backend:
        seed(backend)
        key = backend.auth.create_key("admin", "cassettes")
        with serving(create_app(backend)) as url:
            for path in sorted(CASSETTES.glob("*.json")):
                for interaction in json.loads(path.read_text())["interactions"]:
                    request, recorded = interaction["request"], interaction["response"]
                    headers = {name: values[0] for name, values in request["headers"].items()}
                    if headers.get("ftrack-api-key") == "FILTERED":
                        headers["ftrack-api-key"] = key
                    response = requests.post(f"{url}/api", data=request["body"], headers=headers)
                    where = f"{path.name}: {request['body'][:80]}"
                    assert response.status_code == recorded["status"]["code"], where
                    assert response.json() == json.loads(recorded["body"]["string"]), where
