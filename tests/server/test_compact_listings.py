"""A listing's referenced entities sent once (server/engine/listings.py), on both databases.

A Session's ``all()`` names its listing to the server; a shot whose tasks fall on several
pages comes in full on the first of them and as its place on the others. What is counted is
that shape — each shot once per listing — and that nothing the client does not hold is ever
referred to: an answer lost, another user, another query or a bad token each start afresh.
"""

import uuid

import pytest

from ftrack_like_api.session import Session

SHOTS, PER_SHOT = 12, 4


@pytest.fixture(scope="module")
def project(call):
    schema_id = call.query("ProjectSchema")[0]["id"]
    project = call.create("Project", name="listed", full_name="Listed", project_schema_id=schema_id)["id"]
    statuses = [s["id"] for s in call.query("Status")][:2]
    operations = []
    for number in range(SHOTS):
        shot = str(uuid.uuid4())
        operations.append({"action": "create", "entity_type": "Shot", "entity_key": [shot],
                           "entity_data": {"id": shot, "name": f"sh{number:03d}", "parent_id": project}})  # fmt: skip
        for kind in range(PER_SHOT):  # ids in the order of their kind: a shot's tasks fall on as many pages
            task = {"id": f"{kind}{str(uuid.uuid4())[1:]}", "name": f"t{kind}", "parent_id": shot, "status_id": statuses[kind % 2]}
            operations.append({"action": "create", "entity_type": "Task", "entity_key": [task["id"]], "entity_data": task})
    call(*operations)
    return project


def listing(project):
    return f"select name, status.name, parent.name, parent.parent.name from Task where project_id is {project}"


def page(call, project, token, known, after=None, limit=8):
    operation = {"action": "query", "expression": f"{listing(project)} limit {limit}", "compact": True,
                 "listing": token, "known": known}  # fmt: skip
    if after is not None:
        operation["after"] = after
    return call(operation)[0]


def read(tasks):
    return {t["id"]: (t["name"], t["status"]["name"], t["parent"]["name"], t["parent"]["parent"]["name"]) for t in tasks}


def test_a_sessions_listing_gets_each_shot_once_and_reads_the_same(server, admin_key, project):
    answers = []
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        handle = session.transport.handle
        session.transport.handle = lambda batch: answers.extend(handle(batch)) or answers[-len(batch):]
        listed = read(session.query(listing(project), page_size=5).all())
    pages = [a for a in answers if isinstance(a, dict) and "included_base" in a]
    assert len(pages) == SHOTS * PER_SHOT // 5 + 1  # every page of the listing named it
    sent = [e for a in pages for e in a["included"] if e["__entity_type__"] == "Shot"]
    assert len(sent) == len({e["id"] for e in sent}) == SHOTS  # each shot once in the whole listing
    assert [a["included_base"] for a in pages] == [sum(len(p["included"]) for p in pages[:n]) for n in range(len(pages))]
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as plain:
        plain.loader.information()["compact_answers"] = False  # ftrack's form, each page in full
        assert listed == read(plain.query(listing(project), page_size=5).all())
    assert len(listed) == SHOTS * PER_SHOT


def test_a_loop_over_a_query_names_no_listing(server, admin_key, project):
    """Iterating keeps no page (a loop may drop what it saw): every page is written in full."""
    with Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        sent, handle = [], session.transport.handle
        session.transport.handle = lambda batch: sent.extend(batch) or handle(batch)
        assert sum(1 for _ in session.query(listing(project), page_size=5)) == SHOTS * PER_SHOT
    queries = [op for op in sent if op["action"] == "query"]
    assert len(queries) > 1 and not any("listing" in op for op in queries)


def test_a_later_page_refers_to_what_the_earlier_ones_sent(call, project):
    token = uuid.uuid4().hex
    first = page(call, project, token, 0)
    assert first["included_base"] == 0
    known = len(first["included"])
    second = page(call, project, token, known, first["metadata"]["next"]["after"])
    assert second["included_base"] == known
    sent_before = {e["id"]: place for place, e in enumerate(first["included"])}
    new = {e["id"] for e in second["included"]}
    assert not new & set(sent_before)  # nothing the first page sent is sent again
    referred = {row["parent"] for row in second["data"]}
    assert all(0 <= place < known + len(second["included"]) for place in referred)
    # The first page: the first task of 8 shots. The second: of the other 4 (sent now), then the
    # second task of 4 shots (each sent by the first page, or just now).
    on_first = {first["included"][row["parent"]]["id"] for row in first["data"]}
    assert len(on_first) == 8
    shots = [e for e in second["included"] if e["__entity_type__"] == "Shot"]
    assert len(shots) == 4 and not {e["id"] for e in shots} & on_first
    for row in second["data"][4:]:
        place = row["parent"]
        shot = first["included"][place] if place < known else second["included"][place - known]
        assert (place < known) == (shot["id"] in on_first)
    assert [e["__entity_type__"] for e in second["included"]].count("Status") == 1  # the second status


@pytest.mark.parametrize("change", ["answer lost", "another query", "another user", "unknown token"])
def test_whatever_the_server_cannot_be_sure_the_client_holds_is_sent_in_full(call, call_as, project, change):
    token = uuid.uuid4().hex
    first = page(call, project, token, 0)
    known, after = len(first["included"]), first["metadata"]["next"]["after"]
    page(call, project, token, known, after)  # answered, and (say) lost on the way
    asking, asked_known = call, known
    if change == "answer lost":  # the client asks for the second page again: it holds the first only
        pass
    elif change == "another query":
        call({"action": "query", "expression": f"select name from Task where project_id is {project}", "compact": True,
              "listing": token, "known": known + 99})  # fmt: skip
    elif change == "another user":
        username = f"other{uuid.uuid4().hex[:6]}"
        call.create("User", username=username)
        asking = call_as(username)
    else:
        token = uuid.uuid4().hex
    again = page(asking, project, token, asked_known, after)
    assert again["included_base"] == asked_known
    assert all(place >= asked_known for row in again["data"] for place in (row["parent"], row["status"]))
    shots = {row["parent"] for row in again["data"]}
    assert {again["included"][place - asked_known]["__entity_type__"] for place in shots} == {"Shot"}


@pytest.mark.parametrize("operation, said", [
    ({"listing": "x" * 65}, "at most 64 characters"),
    ({"listing": ""}, "at most 64 characters"),
    ({"listing": 7}, "at most 64 characters"),
    ({"listing": "t", "known": -1}, "at least 0"),
    ({"listing": "t", "known": "3"}, "at least 0"),
])  # fmt: skip
def test_a_bad_listing_is_refused_saying_what(call, project, operation, said):
    refused = call.error({"action": "query", "expression": listing(project), "compact": True, **operation})
    assert refused["error_code"] == "bad_request" and said in refused["content"]


def test_a_listing_without_the_compact_form_is_ftracks_answer(call, project):
    """The official client never asks for the compact form: a listing token alone changes nothing."""
    plain = call({"action": "query", "expression": listing(project), "listing": "t", "known": 5})[0]
    assert "included" not in plain and "included_base" not in plain
    assert isinstance(plain["data"][0]["parent"], dict)


def test_the_memory_is_bounded(backend):
    from ftrack_like_api.server.engine.listings import Listings

    listings = Listings(most=3)
    for number in range(5):
        listings.keep("admin", f"t{number}", listings.take("admin", f"t{number}", "shape", 0))
    assert len(listings) == 3
    assert listings.take("admin", "t0", "shape", 0).places == {}  # the oldest went
    kept = listings.take("admin", "t4", "shape", 0)
    kept.places[("parent",)] = {"a": 0}
    kept.sent = 1
    listings.keep("admin", "t4", kept)
    assert listings.take("admin", "t4", "shape", 1) is kept
    assert listings.take("someone else", "t4", "shape", 1) is not kept
