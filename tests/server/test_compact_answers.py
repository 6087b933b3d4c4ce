"""The compact answer (server/engine/compact.py), on both databases: each referenced entity written
once in ``included``, a reference its place there; asked for only by this package's client.

What it is for is counted, not timed: a row of a compact answer decodes into a dict the cyclic
collector does not track, and the bytes are fewer.
"""

import gc
import json
import uuid

import orjson
import pytest
import requests

from ftrack_like_api.entity import EntityState
from ftrack_like_api.session import Session

SHOTS, PER_SHOT = 20, 3


@pytest.fixture(scope="module")
def project(call):
    schema_id = call.query("ProjectSchema")[0]["id"]
    project = call.create("Project", name="compact", full_name="Compact", project_schema_id=schema_id)["id"]
    statuses = [s["id"] for s in call.query("Status")][:2]
    operations = []
    for number in range(SHOTS):
        shot = str(uuid.uuid4())
        operations.append({"action": "create", "entity_type": "Shot", "entity_key": [shot],
                           "entity_data": {"id": shot, "name": f"sh{number:03d}", "parent_id": project}})  # fmt: skip
        for kind in range(PER_SHOT):
            task = {"id": str(uuid.uuid4()), "name": f"t{kind}", "parent_id": shot, "status_id": statuses[kind % 2]}
            operations.append({"action": "create", "entity_type": "Task", "entity_key": [task["id"]], "entity_data": task})
    call(*operations)
    return project


def listing(project):
    return f"select name, status.name, parent.name, parent.parent.name from Task where project_id is {project}"


def test_each_referenced_entity_is_written_once_and_referred_to_by_its_place(call, project):
    plain = call({"action": "query", "expression": listing(project)})[0]
    compact = call({"action": "query", "expression": listing(project), "compact": True})[0]
    assert "included" not in plain  # ftrack's form: what the official client reads, unchanged
    included = compact["included"]
    assert len(compact["data"]) == len(plain["data"]) == SHOTS * PER_SHOT
    # The 20 shots, the 2 statuses and the project each once, in full.
    kinds = sorted(entity["__entity_type__"] for entity in included)
    assert kinds == sorted(["Shot"] * SHOTS + ["Status"] * 2 + ["Project"])
    assert len({(e["__entity_type__"], e["id"]) for e in included}) == len(included)
    for row, before in zip(compact["data"], plain["data"]):
        assert type(row["status"]) is int and type(row["parent"]) is int
        shot = included[row["parent"]]
        assert shot["id"] == before["parent"]["id"] and shot["name"].startswith("sh")
        assert included[shot["parent"]]["__entity_type__"] == "Project"
        assert included[row["status"]]["id"] == before["status"]["id"]


def test_a_session_reads_the_same_entities_from_either_form(server, admin_key, project):
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as compact_session:
        tasks = compact_session.query(listing(project)).all()
        by_compact = {t["id"]: (t["name"], t["status"]["name"], t["parent"]["name"], t["parent"]["parent"]["name"])
                      for t in tasks}  # fmt: skip
        assert len({id(t["parent"]) for t in tasks}) == SHOTS
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as plain_session:
        plain_session.loader.information()["compact_answers"] = False  # as a server without the form answers
        tasks = plain_session.query(listing(project)).all()
        by_plain = {t["id"]: (t["name"], t["status"]["name"], t["parent"]["name"], t["parent"]["parent"]["name"])
                    for t in tasks}  # fmt: skip
    assert by_compact == by_plain and len(by_plain) == SHOTS * PER_SHOT


def test_the_session_asks_for_it_only_where_the_server_says_it_has_it(server, admin_key, project):
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        sent, handle = [], session.transport.handle

        def recorded(batch):
            sent.extend(batch)
            return handle(batch)

        session.transport.handle = recorded
        session.query(f"Task where project_id is {project}").first()
        assert [op.get("compact") for op in sent if op["action"] == "query"] == [True]
        session.loader.information()["compact_answers"] = False
        sent.clear()
        session.query(f"Task where project_id is {project}").first()
        assert [op.get("compact") for op in sent if op["action"] == "query"] == [None]


def test_a_compact_row_is_not_tracked_by_the_collector_and_the_answer_is_smaller(server, admin_key, project):
    def answer(compact):
        operation = {"action": "query", "expression": listing(project), **({"compact": True} if compact else {})}
        response = requests.post(f"{server}/api", data=json.dumps([operation]),
                                 headers={"ftrack-user": "admin", "ftrack-api-key": admin_key, "accept-encoding": "identity"})  # fmt: skip
        response.raise_for_status()
        return response.content

    plain, compact = answer(False), answer(True)
    assert len(compact) < len(plain)
    rows = orjson.loads(plain)[0]["data"]
    assert all(gc.is_tracked(row) for row in rows)  # a dict holding a dict
    rows = orjson.loads(compact)[0]["data"]
    assert not any(gc.is_tracked(row) for row in rows)


def test_a_place_outside_included_is_a_transport_error(server, admin_key, project):
    from ftrack_like_api.exceptions import TransportError

    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        _ = session.types
        row = {"__entity_type__": "Task", "id": str(uuid.uuid4()), "name": "x", "parent": 3}
        with pytest.raises(TransportError, match="entity 3 of an answer that includes 1"):
            session.loader.merger.merge_all([row], included=[{"__entity_type__": "Shot", "id": str(uuid.uuid4())}])
        task = session.loader.merger.merge_all([{**row, "parent": 0}], included=[{"__entity_type__": "Shot", "id": "s"}])[0][0]
        assert EntityState(task).remote["parent"]["id"] == "s"


def test_a_collection_is_a_list_of_places(call, server, admin_key, project):
    expression = f"select name, children.name, children.status.name from Shot where project_id is {project}"
    plain = call({"action": "query", "expression": expression})[0]
    compact = call({"action": "query", "expression": expression, "compact": True})[0]
    included = compact["included"]
    for row, before in zip(compact["data"], plain["data"]):
        assert all(type(place) is int for place in row["children"]) and len(row["children"]) == PER_SHOT
        assert [included[place]["id"] for place in row["children"]] == [child["id"] for child in before["children"]]
        assert all(type(included[place]["status"]) is int for place in row["children"])
    read = []
    for compact_answers in (True, False):
        with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
            session.loader.information()["compact_answers"] = compact_answers
            shots = session.query(expression).all()
            read.append({shot["name"]: sorted((t["name"], t["status"]["name"]) for t in shot["children"]) for shot in shots})
    assert read[0] == read[1] and len(read[0]) == SHOTS
