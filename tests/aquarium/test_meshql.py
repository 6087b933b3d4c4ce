"""meshQL parsed and compiled to SQL, run on real data in SQLite and PostgreSQL through the engine.

Each query is one operation of the engine (``aquarium_read``), as the Aquarium routes send
it; the answers are checked against what was made.
"""

import pytest

from ftrack_like_api.server import Backend
from ftrack_like_api.server.protocols.aquarium.calls import Calls
from ftrack_like_api.server.protocols.aquarium.mapping import load_mapping
from ftrack_like_api.server.protocols.aquarium.meshql import ast
from ftrack_like_api.server.protocols.aquarium.meshql.grammar import MeshqlError, parse


def _one(backend, user, call, write=False, **params):
    done = backend.execute([{"action": "aquarium_write" if write else "aquarium_read", "call": call, "params": params}], user)
    assert isinstance(done, list), done
    return done[0]


@pytest.fixture(scope="module")
def studio(database):
    """A project: two sequences, five shots (one with extra data), a task per shot; a kept item; an assignment."""
    with Backend.from_url(database) as backend:
        Calls(backend, load_mapping())
        write = lambda call, **p: _one(backend, "admin", call, write=True, **p)  # noqa: E731
        project = write("create", type="Project", data={"name": "meshql", "completion": 0.25})
        keys = {"project": project["_key"]}
        for s, sequence in enumerate(("sq010", "sq020")):
            made = write("append", key=project["_key"], item={"type": "Sequence", "data": {"name": sequence}}, edge={"type": "Child"})
            keys[sequence] = made["item"]["_key"]
            for n in range(3 if s == 0 else 2):
                data = {"name": f"{sequence}_sh{n:03d}", "frames": 10 * (n + 1)}
                if n == 1:
                    data["tags"] = {"hero": True}
                shot = write("append", key=keys[sequence], item={"type": "Shot", "data": data},
                             edge={"type": "Child", "data": {"weight": n}})
                keys[data["name"]] = shot["item"]["_key"]
                status = "WIP" if n else "DONE"
                task = write("append", key=shot["item"]["_key"], item={"type": "Task", "data": {"name": "comp", "status": status}},
                             edge={"type": "Child"})  # fmt: skip
                keys[data["name"] + "/comp"] = task["item"]["_key"]
        write("append", key=project["_key"], item={"type": "Properties", "data": {"name": "props", "tasks_status": {"status": "WIP"}}},
              edge={"type": "Child"})  # fmt: skip
        me = _one(backend, "admin", "me")
        write("connect", type="Assigned", **{"from": keys["sq010_sh001/comp"], "to": me["_key"]})
        keys["me"] = me["_key"]
        yield backend, keys


def query(studio, text, aliases=None, start=None):
    backend, keys = studio
    if start is None:
        return _one(backend, "admin", "query", query=text, aliases=aliases or {})
    return _one(backend, "admin", "traverse", key=keys[start], query=text, aliases=aliases or {})


def names(found):
    return [row["data"]["name"] if "data" in row else row["item"]["data"]["name"] for row in found]


def test_types_filters_and_the_default_sort(studio):
    assert names(query(studio, "# $Shot")) == ["sq010_sh000", "sq010_sh001", "sq010_sh002", "sq020_sh000", "sq020_sh001"]
    assert names(query(studio, "# $Shot AND item.data.frames >= 20 AND item.data.frames < 30")) == ["sq010_sh001", "sq020_sh001"]
    assert names(query(studio, "# $Shot AND (item.data.name == 'sq020_sh000' OR item.data.frames == 30)")) == [
        "sq010_sh002", "sq020_sh000"]  # fmt: skip
    assert names(query(studio, "# $Shot AND NOT item.data.frames IN [10, 20]")) == ["sq010_sh002"]
    assert names(query(studio, "# $Shot AND item.data.name LIKE '%020%' SORT item.data.name DESC")) == ["sq020_sh001", "sq020_sh000"]


def test_a_missing_value_is_null(studio):
    # AQL: null != true is true, null == null is true, null < 1 is true.
    assert names(query(studio, "# $Shot AND item.data.tags.hero != true")) == ["sq010_sh000", "sq010_sh002", "sq020_sh000"]
    assert names(query(studio, "# $Shot AND item.data.tags.hero == true")) == ["sq010_sh001", "sq020_sh001"]
    assert len(query(studio, "# $Shot AND item.data.nothing == null")) == 5
    assert len(query(studio, "# $Shot AND item.data.nothing < 1")) == 5
    assert query(studio, "# $Shot AND item.data.nothing > 1") == []


def test_steps_depth_and_offset_limit(studio):
    assert names(query(studio, "# -($Child)> *", start="project")) == ["props", "sq010", "sq020"]
    assert names(query(studio, "# -($Child, 2)> $Shot", start="project")) == [
        "sq010_sh000", "sq010_sh001", "sq010_sh002", "sq020_sh000", "sq020_sh001"]  # fmt: skip
    assert names(query(studio, "# -($Child, 5)> 1, 2 $Shot", start="project")) == ["sq010_sh001", "sq010_sh002"]
    assert len(query(studio, "# -($Child, 5)> 0, 0 $Task", start="project")) == 5
    assert names(query(studio, "# <($Child, 5)- $Project", start="sq020_sh001/comp")) == ["meshql"]
    assert names(query(studio, "# <($Child)- * -($Child)> $Shot", start="sq020_sh000")) == ["sq020_sh000", "sq020_sh001"]
    assert names(query(studio, "# -($Child)> $Shot AND edge.data.weight == 1", start="sq010")) == ["sq010_sh001"]
    assert names(query(studio, "# <($Assigned)- $Task", start="me")) == ["comp"]


def test_sub_traversals_path_conditions_and_aliases(studio):
    _, keys = studio
    found = query(studio, "# $Shot AND (<($Child, 5)- item._key == @project AND path.vertices[*].type NONE == 'User') "
                          "AND -($Child)> ($Task AND item.data.status == 'WIP')", {"project": keys["project"]})  # fmt: skip
    assert names(found) == ["sq010_sh001", "sq010_sh002", "sq020_sh001"]
    assert names(query(studio, "# $Shot AND -($Child)> ($Task AND -($Assigned)> item._key == @me)", {"me": keys["me"]})) == ["sq010_sh001"]
    assert names(query(studio, "# $Shot AND item.data.name IN @names", {"names": ["sq010_sh000", "nope"]})) == ["sq010_sh000"]
    spliced = query(studio, "# $Shot AND $wanted", {"wanted": "item.data.frames == 30"})
    assert names(spliced) == ["sq010_sh002"]


def test_views_nested_queries_first_and_unique(studio):
    view = {"shot": "item.data.name", "weight": "edge.data.weight", "tasks": "# -($Child)> $Task VIEW item.data.status",
            "first": "FIRST(# -($Child)> 0,1 $Task VIEW item.data.name)", "none": "FIRST(# -($Child)> $Nothing VIEW item)"}  # fmt: skip
    found = query(studio, "# -($Child)> $Shot VIEW $view", {"view": view}, start="sq010")
    assert found == [
        {"shot": "sq010_sh000", "weight": 0, "tasks": ["DONE"], "first": "comp", "none": None},
        {"shot": "sq010_sh001", "weight": 1, "tasks": ["WIP"], "first": "comp", "none": None},
        {"shot": "sq010_sh002", "weight": 2, "tasks": ["WIP"], "first": "comp", "none": None},
    ]
    assert query(studio, "# -($Child)> $Properties AND item.data.tasks_status != null SORT null VIEW item.data.tasks_status",
                 start="project") == [{"status": "WIP"}]  # fmt: skip
    both_ways = query(studio, "# <($Child)> * UNIQUE VIEW item.type", start="sq010")
    assert sorted(both_ways) == ["Project", "Shot", "Shot", "Shot"]


def test_the_stray_parenthesis_of_the_documented_get_all_is_taken(studio):
    assert names(query(studio, "# $Project AND item.data.completion != 1 AND NOT (<($Trash)- *))")) == ["meshql"]


@pytest.mark.parametrize(("text", "said"), [
    ("# -($Child> *", "column 3"),
    ("# $Shot AND", "column"),
    ("# $Shot COLLECT x = 1", "AQL's COLLECT is not served"),
    ("# $Shot AND item.createdBy == 'x'", "item.createdBy is not served"),
    ("# $Shot AND item.data.x IN @missing", "no alias 'missing'"),
    ("# $Shot AND (item.data.a == 1 OR path.vertices[*].type NONE == 'User')", "top of a step's filter"),
    ("# $Shot AND -($Child, 50)> *", "at most 10 edges deep"),
    ("# $Shot VIEW $nothing", "no alias 'nothing'"),
])  # fmt: skip
def test_what_is_not_meshql_here_is_a_clear_error(studio, text, said):
    backend, _ = studio
    answer = backend.execute([{"action": "aquarium_read", "call": "query", "params": {"query": text, "aliases": {}}}], "admin")
    assert isinstance(answer, dict) and said in answer["content"], answer


def test_the_grammar_builds_the_tree():
    query = parse("# -($Child OR $Playlist, 3)> 2,5 $Media AND edge.data.track == 1 UNIQUE SORT item.data.name DESC, "
                  "edge.createdAt VIEW item._key")  # fmt: skip
    assert query.steps == (ast.Step("out", ("Child", "Playlist"), 3, 2, 5, ast.And((
        ast.TypeIs("Media"), ast.Compare(("edge", "data", "track"), "==", ast.Value(1), None, 44))), 2),)
    assert query.unique and query.sort == ((("item", "data", "name"), True), (("edge", "createdAt"), False))
    assert query.view == ast.PathView(("item", "_key"))
    with pytest.raises(MeshqlError) as raised:
        parse("# $Shot AND item.data.name === 'x'")
    assert raised.value.position is not None and "^" in str(raised.value)
