"""An item's history is found through ``aquarium_history`` (the item's key, the log's seq), filled from the event log
as history is asked for: each event read once, whoever asks (SQLite and PostgreSQL)."""

import datetime

import sqlalchemy as sa

from ftrack_like_api.server import Backend
from ftrack_like_api.server.protocols.aquarium.calls import Calls
from ftrack_like_api.server.protocols.aquarium.history import catch_up
from ftrack_like_api.server.protocols.aquarium.mapping import load_mapping


def _call(backend, call, write=False, **params):
    answer = backend.execute([{"action": "aquarium_write" if write else "aquarium_read", "call": call, "params": params}], "admin")
    assert isinstance(answer, list), answer
    return answer[0]


def test_history_is_read_by_key_each_event_indexed_once(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())
        project = _call(backend, "create", write=True, type="Project", data={"name": "history"})
        shots = [_call(backend, "append", write=True, key=project["_key"], item={"type": "Shot", "data": {"name": name}},
                       edge={"type": "Child"})["item"]["_key"] for name in ("sh010", "sh020")]  # fmt: skip
        _call(backend, "update", write=True, key=shots[0], data={"cut": {"in": 1001}})
        _call(backend, "update", write=True, key=shots[1], data={"frames": 10})
        renamed = backend.execute([{"action": "update", "entity_type": "Shot", "entity_key": [shots[0]],
                                    "entity_data": {"name": "sh030"}}], "admin")  # fmt: skip
        assert isinstance(renamed, list), renamed
        first = _call(backend, "history", key=shots[0])
        again = catch_up(backend)  # everything was indexed by the history call
        second = _call(backend, "history", key=shots[1])
        kept = _call(backend, "create", write=True, type="Scribble", data={"name": "kept whole"})
        after = catch_up(backend)
        index = backend.storage.aquarium["aquarium_history"]
        with backend.engine.connect() as connection:
            keys = set(connection.execute(sa.select(index.c.key)).scalars())
        newest = _call(backend, "create", write=True, type="Scribble", data={"name": "newest"})
        backend.events.prune(datetime.timedelta(seconds=-60))  # the log's retention passes over every event
        catch_up(backend)
        with backend.engine.connect() as connection:
            left = connection.execute(sa.select(index.c.key)).scalars().all()
    assert [(h["action"], h["data"]) for h in first] == [("created", {"name": "sh010"}), ("updated", {"cut": {"in": 1001}}),
                                                          ("updated", {"name": "sh030"})]  # fmt: skip
    assert [(h["action"], h["data"]) for h in second] == [("created", {"name": "sh020"}), ("updated", {"frames": 10})]
    assert again == 0 and after == 1
    assert {project["_key"], *shots} <= keys and kept["_key"] in keys
    assert left == [] and newest["_key"] not in keys  # what the log no longer holds goes from the index too
