"""The shape of reads over HTTP, on both databases: how many round trips a query costs, and how large.

A Session without a ``page_size`` asks for a first page of 500 rows and each next one
four times larger (up to 10,000): ``first()`` stays one small round trip, a loop that
stops early reads one page, a whole project a few. Answers written or read by orjson are
the same JSON as the standard library's.
"""

import json
import math
import threading
import types
import uuid

import pytest

import ftrack_like_api.transport.http as http_transport
from ftrack_like_api.exceptions import TransportError
from ftrack_like_api.query_result import FIRST_PAGE, GROWTH, LARGEST_PAGE
from ftrack_like_api.server import Backend
from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.server.protocols.ftrack import answers
from ftrack_like_api.session import Session
from ftrack_like_api.transport.http import HttpTransport

TASKS = 3_000


class Counting(HttpTransport):
    """The HTTP transport, keeping each batch it sends and the rows each answer held."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches, self.rows = [], []

    def handle(self, batch):
        self.batches.append(list(batch))
        answer = super().handle(batch)
        self.rows.append(sum(len(r.get("data", ())) for r in answer if isinstance(r, dict) and r.get("action") == "query"))
        return answer


@pytest.fixture(scope="module")
def project(call, backend):
    schema_id = call.query("ProjectSchema")[0]["id"]
    project = call.create("Project", name="shape", full_name="Shape", project_schema_id=schema_id)["id"]
    shot = call.create("Shot", name="sh010", parent_id=project)["id"]
    operations = []
    for n in range(TASKS):
        data = {"id": str(uuid.uuid4()), "name": f"task{n:04d}", "parent_id": shot}
        operations.append({"action": "create", "entity_type": "Task", "entity_key": [data["id"]], "entity_data": data})
    call(*operations)
    return project


@pytest.fixture(scope="module")
def capped(database):
    """A server on the module's database allowing 1,000 rows a page: ``all()`` of the 3,000 tasks is three pages."""
    backend = Backend.from_url(database, max_rows=1_000)
    try:
        with serving(create_app(backend)) as url:
            yield url
    finally:
        backend.close()


def session_on(url, key):
    transport = Counting(url, "admin", key)
    return Session(server_url=url, transport=transport, schema_cache_path=False), transport


def queried(transport):
    """The query operations sent, in order, past the session's own (its server information and schemas)."""
    return [op for batch in transport.batches for op in batch if op["action"] == "query"]


def test_first_is_one_small_round_trip(server, admin_key, project):
    session, transport = session_on(server, admin_key)
    with session:
        _ = session.types
        sent = len(transport.batches)
        task = session.query(f"select name from Task where project_id is {project}").first()
        assert task is not None
        assert len(transport.batches) == sent + 1
        assert queried(transport)[-1]["expression"].endswith("limit 1")
        assert transport.rows[-1] == 1


def test_a_loop_that_stops_early_reads_one_small_page(server, admin_key, project):
    session, transport = session_on(server, admin_key)
    with session:
        for count, _task in enumerate(session.query(f"select name from Task where project_id is {project}"), 1):
            if count == 10:
                break
        (page,) = queried(transport)
        assert page["expression"].endswith(f"limit {FIRST_PAGE}")
        assert transport.rows[-1] == FIRST_PAGE


def test_a_loop_takes_pages_that_grow(server, admin_key, project):
    session, transport = session_on(server, admin_key)
    with session:
        assert sum(1 for _ in session.query(f"select name from Task where project_id is {project}")) == TASKS
        limits = [int(op["expression"].rsplit(" ", 1)[1]) for op in queried(transport)]
        # 500, 2,000, 8,000: three round trips for 3,000 rows (six in pages of 500).
        assert limits == [min(FIRST_PAGE * GROWTH**n, LARGEST_PAGE) for n in range(len(limits))]
        assert len(limits) == 3


def test_all_asks_for_the_largest_page_from_the_first(server, admin_key, project):
    """``all()`` reads every page whatever their size: 3,000 rows are one round trip."""
    session, transport = session_on(server, admin_key)
    with session:
        tasks = session.query(f"select name from Task where project_id is {project}").all()
        assert len({task["id"] for task in tasks}) == TASKS
        (page,) = queried(transport)
        assert page["expression"].endswith(f"limit {LARGEST_PAGE}") and transport.rows[-1] == TASKS
        # A query's own limit is kept.
        assert len(session.query(f"select name from Task where project_id is {project} limit 700").all()) == 700
        assert queried(transport)[-1]["expression"].endswith("limit 700")


def test_all_asks_for_the_next_page_before_merging_this_one(capped, admin_key, project):
    """Over HTTP, ``all()`` sends page n + 1 while it merges page n (the server works meanwhile); each
    page is still asked for once, in order, one batch at a time."""
    session, transport = session_on(capped, admin_key)
    with session:
        _ = session.types
        sent = threading.Semaphore(0)  # released as each page's batch after the first is sent
        handle, in_flight, most, pages = transport.handle, [0], [0], [0]
        overlapped = []

        def counted(batch):
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            pages[0] += 1
            if pages[0] > 1:
                sent.release()
            try:
                return handle(batch)
            finally:
                in_flight[0] -= 1

        read = session.loader.read

        def reading(query, answer, listing=None):
            # Waits for the next page's batch: it comes only when it was sent before this merge.
            if answer["metadata"]["next"].get("after") is not None:
                overlapped.append(sent.acquire(timeout=10))
            return read(query, answer, listing)

        transport.handle = counted
        session.loader.read = reading
        tasks = session.query(f"select name from Task where project_id is {project}").all()
        assert len({task["id"] for task in tasks}) == TASKS
        assert overlapped == [True, True]  # pages 1 and 2 merged while 2 and 3 were asked for
        assert most[0] == 1  # never two batches at once
        assert transport.rows[-3:] == [1_000] * 3


def test_all_merges_a_page_only_once_the_next_is_being_asked_for(capped, admin_key, project, monkeypatch):
    """The reading thread has begun asking for page n + 1 (the request leaves before the merge, which
    holds the GIL, as does a full collection in it) before page n is merged; the last page waits for
    nothing."""
    import ftrack_like_api.query_result as query_result

    events = []

    class Noted(threading.Event):
        def set(self):  # noted before whoever waits for it can go on
            events.append("asking")
            super().set()

    monkeypatch.setattr(query_result, "threading", types.SimpleNamespace(Event=Noted))  # its own only
    session, _ = session_on(capped, admin_key)
    with session:
        _ = session.types
        read = session.loader.read

        def reading(query, answer, listing=None):
            events.append("merging")
            return read(query, answer, listing)

        session.loader.read = reading
        tasks = session.query(f"select name from Task where project_id is {project}").all()
        assert len(tasks) == TASKS
        assert events == ["asking", "merging", "asking", "merging", "merging"]  # three pages of 1,000


def test_a_reference_written_on_every_page_is_merged_once_per_all(capped, admin_key, project):
    """The shot of 3,000 tasks comes in full on each of the three pages (each is an answer of its
    own); all() merges it once, as it would within one answer. A loop merges it on each page."""
    session, _ = session_on(capped, admin_key)
    with session:
        _ = session.types
        merge, merged = session.loader.merger.merge, []

        def counted(data, answer=None):
            merged.append(data.get("__entity_type__"))
            return merge(data, answer)

        session.loader.merger.merge = counted
        listing = f"select name, parent.name from Task where project_id is {project}"
        tasks = session.query(listing).all()
        assert len(tasks) == TASKS and merged.count("Shot") == 1
        assert len({id(task["parent"]) for task in tasks}) == 1 and tasks[-1]["parent"]["name"] == "sh010"
        merged.clear()
        assert sum(1 for _ in session.query(listing)) == TASKS
        assert merged.count("Shot") == 4  # a loop's pages: 500, then 1,000 (the server's most), 1,000 and 500


def test_a_failed_page_of_all_is_the_callers_error(capped, admin_key, project):
    """A failure of the page asked for ahead is raised by ``all()``, and no request is left running."""
    session, transport = session_on(capped, admin_key)
    with session:
        _ = session.types
        handle, calls = transport.handle, []

        def failing(batch):
            calls.append(batch)
            if len(calls) == 2:
                raise TransportError("the second page failed")
            return handle(batch)

        transport.handle = failing
        result = session.query(f"select name from Task where project_id is {project}")
        with pytest.raises(TransportError, match="the second page failed"):
            result.all()
        assert len(calls) == 2
        assert not [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]


def test_a_page_size_given_is_every_page(server, admin_key, project):
    session, transport = session_on(server, admin_key)
    with session:
        assert len(session.query(f"select name from Task where project_id is {project}", page_size=700).all()) == TASKS
        limits = {int(op["expression"].rsplit(" ", 1)[1]) for op in queried(transport)}
        assert limits == {700} and len(queried(transport)) == math.ceil(TASKS / 700)


def test_pages_stop_growing_at_what_the_server_allows(database, admin_key, project):
    """A server allowing 1,000 rows a page answers 1,000 to a page of 2,000 or 8,000, and says where to go on."""
    capped = Backend.from_url(database, max_rows=1_000)
    try:
        with serving(create_app(capped)) as url:
            session, transport = session_on(url, admin_key)
            with session:
                tasks = session.query(f"select name from Task where project_id is {project}").all()
                assert len({task["id"] for task in tasks}) == TASKS
                assert max(transport.rows) == 1_000
                assert len(queried(transport)) == math.ceil(TASKS / 1_000)
    finally:
        capped.close()


def test_orjson_writes_what_the_standard_library_does(backend, project):
    """A page of entities (datetimes, references), an integer past 64 bits and a lone surrogate (both
    refused by orjson: the standard library writes them) read back as the standard library's JSON."""
    pytest.importorskip("orjson")
    answer = backend.execute([{"action": "query", "expression":
                               f"select name, created_at, parent.name from Task where project_id is {project} limit 50"}],
                             "admin")  # fmt: skip
    for value in (answer, {"big": 2**70, "text": "caf\u00e9 \ud800"}, [{"nested": [1.5, None, True, "\u2603"]}]):
        standard = json.dumps(value).encode()
        assert json.loads(answers.dumps(value)) == json.loads(standard)
        streamed = b"".join(answers.encoded([{"action": "query", "data": [value] * 3}], rows_per_chunk=2))
        assert json.loads(streamed) == [{"action": "query", "data": [json.loads(standard)] * 3}]


def test_the_standard_librarys_path_without_orjson(server, admin_key, project, monkeypatch):
    """With orjson missing on both sides, the same entities come back."""
    monkeypatch.setattr(answers, "orjson", None)
    monkeypatch.setattr(http_transport, "orjson", None)
    session, _ = session_on(server, admin_key)
    with session:
        names = sorted(t["name"] for t in session.query(f"select name from Task where project_id is {project}").all())
        assert names == [f"task{n:04d}" for n in range(TASKS)]


def test_the_client_reads_json_orjson_refuses(server, admin_key):
    """An answer holding JSON's NaN (which orjson refuses) is read by the standard library, as before."""
    import requests

    response = requests.Response()
    response._content = b'[{"action": "query", "data": [{"bid": NaN}], "metadata": {"next": {"offset": null}}}]'
    response.status_code = 200
    decoded = http_transport._decoded(response)
    assert math.isnan(decoded[0]["data"][0]["bid"])


@pytest.mark.parametrize(
    ("url", "loopback"),
    [("http://127.0.0.1:8000", True), ("http://localhost", True), ("http://[::1]:9", True), ("http://127.3.4.5", True),
     ("https://studio.example.com", False), ("http://10.0.0.5:8000", False), ("http://[2001:db8::1]", False)],
)  # fmt: skip
def test_a_server_on_this_machine_is_asked_not_to_gzip(url, loopback):
    headers = HttpTransport(url, "admin", "key")._headers
    assert (headers.get("accept-encoding") == "identity") is loopback


def test_answers_are_gzipped_for_who_asks(server, admin_key, project):
    """The server is as it was: a client that accepts gzip (the official one, a remote Session) gets it."""
    import requests

    body = json.dumps([{"action": "query", "expression": f"select name from Task where project_id is {project}"}])
    headers = {"ftrack-user": "admin", "ftrack-api-key": admin_key, "content-type": "application/json"}
    zipped = requests.post(f"{server}/api", data=body, headers={**headers, "accept-encoding": "gzip"})
    plain = requests.post(f"{server}/api", data=body, headers={**headers, "accept-encoding": "identity"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.json() == plain.json() and len(plain.json()[0]["data"]) == TASKS
