"""The Session's own logic on MockTransport, without a server or the server extra.

The handler answers as a real ftrack server did: its server information and its 116
entity schemas (tests/fixtures/ftrack-wire), then what each test gives for the rest.
"""

import gc
import json
import sys
import pathlib

import pytest

from ftrack_like_api.exceptions import TransportError
from ftrack_like_api.session import Session
from ftrack_like_api.symbol import State
from ftrack_like_api.transport import MockTransport

RECORDED = pathlib.Path(__file__).resolve().parent / "fixtures" / "ftrack-wire"
INFORMATION = json.loads((RECORDED / "query_server_information.json").read_text())
SCHEMAS = json.loads((RECORDED / "query_schemas.json").read_text())


class Server:
    """A MockTransport handler: ftrack's recorded information and schemas; ``answer(operation)`` for the rest."""

    def __init__(self, answer=None):
        self.batches = []
        self.answer = answer

    def __call__(self, batch):
        self.batches.append(batch)
        recorded = {"query_server_information": INFORMATION, "query_schemas": SCHEMAS}
        return [recorded[op["action"]] if op["action"] in recorded else self.answer(op) for op in batch]

    def actions(self):
        return [operation["action"] for batch in self.batches for operation in batch]


def on_mock(server, **options):
    options.setdefault("schema_cache_path", False)
    return Session(server_url="https://studio.example", api_user="jo", transport=MockTransport(server), **options)


def rows(*entities):
    return {"action": "query", "data": list(entities), "metadata": {"next": {"offset": None}}}


def test_a_session_needs_a_place_and_a_user(monkeypatch):
    for name in ("FTRACK_SERVER", "FTRACK_API_USER"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="needs server_url"):
        Session(api_user="admin")
    with pytest.raises(ValueError, match="needs api_user"):
        Session(server_url="sqlite:///x.db")
    with pytest.raises(ValueError, match="needs api_user and api_key"):
        Session(server_url="https://studio.example", api_user="admin")


def test_the_environment_names_server_and_user(monkeypatch, tmp_path):
    monkeypatch.setenv("FTRACK_SERVER", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("FTRACK_API_USER", "admin")
    session = Session()
    assert (session.server_url, session.api_user) == (f"sqlite:///{tmp_path / 'env.db'}", "admin")
    assert not (tmp_path / "env.db").exists()


def test_created_then_deleted_never_reaches_the_server():
    server = Server()
    session = on_mock(server)
    task = session.create("Task", {"name": "never", "parent_id": "whatever"})
    session.delete(task)
    session.commit()
    assert server.actions() == ["query_server_information", "query_schemas"]  # the schemas, and nothing else


SHOT = {"__entity_type__": "Shot", "id": "s150", "name": "sh150", "context_type": "task"}


def shots(operation):
    """A server that has one shot, sh150: queries answer it, writes echo their keys."""
    if operation["action"] == "query":
        return rows(SHOT)
    return {"action": operation["action"], "data": {"__entity_type__": "Shot", "id": operation["entity_key"][0]}}


def test_without_check_conflicts_updates_go_as_ftrack_sends_them():
    server = Server(shots)
    session = on_mock(server)
    shot = session.query('select name from Shot where name is "sh150"').one()
    shot["name"] = "sh151"
    session.commit()
    assert server.batches[-1] == [{"action": "update", "entity_type": "Shot", "entity_key": ["s150"],
                                   "entity_data": {"name": "sh151"}}]  # fmt: skip
    assert session.state(shot) is State.UNCHANGED and shot["name"] == "sh151"


def test_a_refused_commit_keeps_every_change():
    refusal = {"exception": "ValidationError", "content": "No.", "error_code": "missing_reference"}
    server = Server(lambda operation: rows(SHOT) if operation["action"] == "query" else None)
    session = on_mock(server)
    shot = session.query("Shot").one()
    shot["name"] = "renamed"
    session.transport.handler = lambda batch: refusal
    with pytest.raises(Exception, match=r"No\."):
        session.commit()
    assert session.state(shot) is State.MODIFIED and shot["name"] == "renamed"


def test_schemas_are_kept_by_server_and_hash(tmp_path):
    cache = tmp_path / "schemas"
    first = on_mock(Server(), schema_cache_path=cache)
    _ = first.types
    files = list(cache.iterdir())
    assert len(files) == 1 and INFORMATION["schema_hash"] in files[0].name
    server = Server()
    second = on_mock(server, schema_cache_path=cache)
    assert "Task" in second.types
    assert server.actions() == ["query_server_information"]  # the schemas came from the file
    files[0].write_text("{not json")
    server = Server()
    third = on_mock(server, schema_cache_path=cache)
    assert "Task" in third.types and server.actions() == ["query_server_information", "query_schemas"]
    elsewhere = Session(server_url="https://other.example", api_user="jo", transport=MockTransport(Server()),
                        schema_cache_path=cache)  # fmt: skip
    _ = elsewhere.types
    assert len(list(cache.glob("*.json"))) == 2  # another server, another file


def test_no_schema_cache_when_told_not_to(tmp_path, monkeypatch):
    monkeypatch.setenv("FTRACK_API_SCHEMA_CACHE_PATH", str(tmp_path))
    session = on_mock(Server(), schema_cache_path=False)
    _ = session.types
    assert session.schema_cache_path is None and list(tmp_path.iterdir()) == []


def test_the_collector_is_paused_only_while_large_answers_are_merged_never_on_the_wire():
    """By default the cyclic collector is paused while an answer of 1,000 rows or more is merged
    and while a commit of as many operations is planned and settled — the session's own Python
    work, never a wait on the network; a small answer leaves it alone; pause_gc=False never
    touches it (every thread of the process shares it: Maya's, Nuke's)."""
    import gc

    from ftrack_like_api.cache import MemoryCache

    class Watching(MemoryCache):
        def __init__(self):
            super().__init__()
            self.collector_on = []

        def update(self, other=(), /, **kwargs):  # called inside the merge of a query's answer, and a commit's settling
            self.collector_on.append(gc.isenabled())
            super().update(other, **kwargs)

    many = [{**SHOT, "id": f"s{n}", "name": f"sh{n}"} for n in range(1000)]
    on_the_wire = []

    def answer(operation):
        on_the_wire.append(gc.isenabled())
        if operation["action"] == "query":
            return rows(SHOT) if "sh150" in operation["expression"] else rows(*many)
        return shots(operation)

    assert gc.isenabled()
    for options, paused in (({}, True), ({"pause_gc": True}, True), ({"pause_gc": False}, False)):
        cache, on_the_wire[:] = Watching(), []
        session = on_mock(Server(answer), cache=cache, **options)
        session.query('Shot where name is "sh150"').all()
        session.query("Shot").all()
        assert cache.collector_on == [True, not paused]  # the small answer, then the large one
        for n in range(1000):
            session.create("Shot", {"id": f"new{n}", "name": f"new{n}"})
        cache.collector_on[:] = []
        session.commit()
        assert cache.collector_on == [not paused] and all(on_the_wire) and gc.isenabled()


@pytest.mark.parametrize("data", [None, 5, {"x": 1}, "missing", ["x"], [None] * 1000])
def test_a_malformed_answer_to_a_query_is_a_transport_error(data):
    def answer(operation):
        made = {"action": "query", "metadata": {"next": {"offset": None}}}
        if data != "missing":
            made["data"] = data
        return made

    session = on_mock(Server(answer))
    for read in (lambda found: found.first(), lambda found: found.all(), lambda found: list(found)):
        with pytest.raises(TransportError):
            read(session.query("Shot"))
    assert gc.isenabled()


def test_iterating_a_query_can_be_closed_early():
    session = on_mock(Server(shots))
    found = iter(session.query("Shot"))
    assert next(found)["name"] == "sh150"
    found.close()


def test_schemas_are_kept_in_the_users_cache_folder_not_a_shared_temporary_one(tmp_path, monkeypatch):
    shared = tmp_path / "tmp"
    shared.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(shared))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the platform's answer on Linux
    monkeypatch.delenv("FTRACK_API_SCHEMA_CACHE_PATH")
    _ = Session(server_url="https://studio.example", api_user="jo", transport=MockTransport(Server())).types
    if sys.platform.startswith("linux"):
        kept = list((tmp_path / "cache" / "ftrack-like" / "schemas").iterdir())
        assert [INFORMATION["schema_hash"] in file.name for file in kept] == [True]
        assert (tmp_path / "cache" / "ftrack-like" / "schemas").stat().st_mode & 0o077 == 0  # this user's only
    assert list(shared.iterdir()) == []
    monkeypatch.setenv("FTRACK_API_SCHEMA_CACHE_PATH", str(tmp_path / "chosen"))
    _ = Session(server_url="https://studio.example", api_user="jo", transport=MockTransport(Server())).types
    assert len(list((tmp_path / "chosen").iterdir())) == 1  # the variable still chooses

