"""ShotGrid's filters compiled to the query AST, in-process: what each compiles to, and what it finds on data.

The compiler never evaluates a filter itself: each test either reads the AST (rendered as
our query language) or runs the compiled query through the engine, on SQLite and PostgreSQL.
"""

import datetime

import pytest

from ftrack_like_api.exceptions import ValidationError
from ftrack_like_api.query import render
from ftrack_like_api.server import Backend
from ftrack_like_api.server.protocols.shotgrid.filters import NOTHING, FilterCompiler
from ftrack_like_api.server.protocols.shotgrid.mapping import load_mapping

MAPPING = load_mapping()
NOW = datetime.datetime(2024, 5, 15, 12, 0, 0)
UUIDS = {7: "a7a7a7a7-0000-0000-0000-000000000007", 8: "b8b8b8b8-0000-0000-0000-000000000008"}


def compiled(sg_type, *conditions, operator="and"):
    compiler = FilterCompiler(MAPPING, lambda numbers: {n: UUIDS[n] for n in numbers if n in UUIDS},
                              lambda ours, relation, bounds: [UUIDS[8]], now=NOW)  # fmt: skip
    filters = {"logical_operator": operator, "conditions": list(conditions)}
    return render(compiler.compile(MAPPING.type(sg_type), filters))


def cond(path, relation, *values):
    return {"path": path, "relation": relation, "values": list(values)}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("code", "is", "sh010"), 'name is "sh010"'),
        (cond("code", "is_not", "sh010"), 'not name is "sh010"'),
        (cond("code", "contains", "01"), 'name like "%01%"'),
        (cond("code", "not_contains", "01"), 'not name like "%01%"'),
        (cond("code", "starts_with", "sh"), 'name like "sh%"'),
        (cond("code", "ends_with", "0"), 'name like "%0"'),
        (cond("code", "in", "a", "b"), 'name is "a" or name is "b"'),
        (cond("code", "not_in", "a", "b"), 'not (name is "a" or name is "b")'),
        (cond("sg_cut_in", "between", 1, 5), 'metadata any (key is "sg_cut_in" and (value >= 1 and value <= 5))'),
        (cond("sg_status_list", "is", "ip"), 'status.name is "In progress"'),
        (cond("sg_status_list", "in", "ip", "fin"), 'status.name is "In progress" or status.name is "Completed"'),
        (cond("sg_status_list", "is", None), "status_id is None"),
        (cond("id", "is", 7), f'id is "{UUIDS[7]}"'),
        (cond("id", "is", 9), f'id is "{NOTHING}"'),
        (cond("id", "in", 7, 9), f'id in ("{UUIDS[7]}", "{NOTHING}")'),
        (cond("id", "greater_than", 7), f'id in ("{UUIDS[8]}")'),
        (cond("sg_sequence", "is", {"type": "Sequence", "id": 7}), f'parent.id is "{UUIDS[7]}"'),
        (cond("sg_sequence", "is", {"type": "Shot", "id": 7}), "id in ()"),
        (cond("sg_sequence", "is", None), "parent.id is None or not parent.id in (select id from Sequence)"),
        (cond("sg_sequence", "type_is", "Sequence"), "parent.id in (select id from Sequence)"),
        (cond("sg_sequence", "name_contains", "10"), 'parent.id in (select id from Sequence where name like "%10%")'),
        (cond("sg_sequence.Sequence.code", "is", "sq010"), 'parent.id in (select id from Sequence where name is "sq010")'),
        (cond("created_at", "in_last", 2, "DAY"),
         'created_at >= "2024-05-13T12:00:00" and created_at <= "2024-05-15T12:00:00"'),
        (cond("created_at", "in_calendar_month", -1),
         'created_at >= "2024-04-01T00:00:00" and created_at <= "2024-04-30T23:59:59"'),
    ],
)
def test_each_relation_compiles_to_our_query_language(condition, expected):
    assert compiled("Shot", condition) == expected


def test_a_deep_link_through_a_polymorphic_entity_names_the_type_it_must_be():
    text = compiled("Task", cond("entity.Shot.sg_sequence.Sequence.code", "is", "sq010"))
    assert text == 'parent.id in (select id from Shot where parent.id in (select id from Sequence where name is "sq010"))'


def test_nested_groups_keep_their_operators():
    inner = {"logical_operator": "and", "conditions": [cond("code", "is", "a"), cond("sg_status_list", "is", "ip")]}
    assert compiled("Shot", cond("code", "is", "b"), inner, operator="or") == \
        'name is "b" or name is "a" and status.name is "In progress"'


@pytest.mark.parametrize(
    ("sg_type", "condition", "message"),
    [
        ("Shot", cond("warp", "is", 1), "Shot.warp doesn't exist"),
        ("Shot", cond("code", "sounds_like", "x"), "the relation 'sounds_like' is not served"),
        ("Shot", cond("sg_sequence.Shot.code", "is", "x"), "Shot.sg_sequence does not link to Shot"),
        ("Shot", cond("id", "is", "7"), "an id is a whole number"),
        ("Shot", cond("sg_status_list", "is", "nope"), "'nope' is not a status code"),
        ("Shot", cond("created_at", "in_last", 2, "FORTNIGHT"), "takes [count, one of HOUR, DAY, WEEK, MONTH, YEAR]"),
        ("Spaceship", cond("code", "is", "x"), "Entity type 'Spaceship' doesn't exist"),
    ],
)
def test_what_cannot_be_compiled_is_named(sg_type, condition, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compiled(sg_type, condition)


def test_compiled_filters_find_their_rows_through_the_engine(fresh_database):
    """The same endpoint code in-process: compiled queries run by the backend, on each database."""
    from ftrack_like_api.server.protocols.shotgrid.calls import Calls

    with Backend.from_url(fresh_database) as backend:
        Calls(backend, MAPPING)

        def call(method, params):
            result = backend.execute([{"action": f"shotgrid_{'read' if method == 'read' else 'write'}",
                                       "method": method, "params": params}], "admin")  # fmt: skip
            assert isinstance(result, list), result
            return result[0]

        def fields(**values):
            return [{"field_name": k, "value": v} for k, v in values.items()]

        project = call("create", {"type": "Project", "fields": fields(name="Filters")})
        sequence = call("create", {"type": "Sequence", "fields": fields(code="sq010", project=project)})
        for code, cut in (("sh010", 1001), ("sh020", 1050), ("sh030", 1100)):
            call("create", {"type": "Shot", "fields": fields(code=code, project=project, sg_sequence=sequence, sg_cut_in=cut)})
        call("create", {"type": "Shot", "fields": fields(code="orphan", project=project)})

        def codes(*conditions, operator="and"):
            found = call("read", {"type": "Shot", "return_fields": ["code"], "paging": {"entities_per_page": 50, "current_page": 1},
                                  "filters": {"logical_operator": operator, "conditions": list(conditions)}})
            return sorted(e["code"] for e in found["entities"])

        assert codes(cond("sg_sequence", "is", sequence)) == ["sh010", "sh020", "sh030"]
        assert codes(cond("sg_sequence", "is", None)) == ["orphan"]
        assert codes(cond("sg_sequence.Sequence.code", "is", "sq010"), cond("sg_cut_in", "greater_than", 1010)) == ["sh020", "sh030"]
        assert codes(cond("code", "ends_with", "10"), cond("code", "is", "orphan"), operator="or") == ["orphan", "sh010"]
        assert codes(cond("project", "is", project), cond("code", "not_in", "sh010", "orphan")) == ["sh020", "sh030"]
        assert codes(cond("id", "is", 10**9)) == []
        # ShotGrid's text relations ignore case, on PostgreSQL as on SQLite
        assert codes(cond("code", "contains", "SH0")) == ["sh010", "sh020", "sh030"]
        assert codes(cond("code", "starts_with", "Orph")) == ["orphan"]
        assert codes(cond("code", "ends_with", "HAN")) == ["orphan"]
        assert codes(cond("code", "not_contains", "SH")) == ["orphan"]
        assert codes(cond("sg_sequence", "name_contains", "SQ01")) == ["sh010", "sh020", "sh030"]


def test_summaries_are_the_database_s_aggregates(fresh_database):
    """summarize in-process: each summary type an aggregate, each grouping level a group by, on each database."""
    from ftrack_like_api.server.protocols.shotgrid.calls import Calls

    with Backend.from_url(fresh_database) as backend:
        Calls(backend, MAPPING)

        def call(method, params):
            result = backend.execute([{"action": f"shotgrid_{'read' if method == 'summarize' else 'write'}",
                                       "method": method, "params": params}], "admin")  # fmt: skip
            return result[0] if isinstance(result, list) else result

        def fields(**values):
            return [{"field_name": k, "value": v} for k, v in values.items()]

        project = call("create", {"type": "Project", "fields": fields(name="Sums")})
        shot = call("create", {"type": "Shot", "fields": fields(code="sh010", project=project)})
        for name, status in (("a", "ip"), ("b", "ip"), ("c", "fin")):
            call("create", {"type": "Task", "fields": fields(content=name, entity=shot, sg_status_list=status)})
        summaries = [{"field": "id", "type": "record_count"}, {"field": "content", "type": "minimum"},
                     {"field": "content", "type": "maximum"}]  # fmt: skip
        found = call("summarize", {"type": "Task", "summaries": summaries, "grouping": [{"field": "sg_status_list"}],
                                   "filters": {"logical_operator": "and", "conditions": [cond("entity", "is", shot)]}})
        # Two summaries of one field: the last one named wins, as a dict keyed by field can only hold one.
        assert found == {"summaries": {"id": 3, "content": "c"}, "groups": [
            {"group_name": "fin", "group_value": "fin", "summaries": {"id": 1, "content": "c"}},
            {"group_name": "ip", "group_value": "ip", "summaries": {"id": 2, "content": "b"}}]}  # fmt: skip
        refused = call("summarize", {"type": "Task", "summaries": [{"field": "id", "type": "status_percentage"}]})
        assert "'status_percentage' is not served here" in refused["content"]
        refused = call("summarize", {"type": "Shot", "summaries": [{"field": "image", "type": "sum"}]})
        assert "Shot.image cannot be summarized here (a thumbnail field)" in refused["content"]
        refused = call("summarize", {"type": "Task", "summaries": [{"field": "id", "type": "count"}],
                                     "grouping": [{"field": "tag_list", "type": "exact"}]})
        assert "Task.tag_list cannot be grouped by here (a metadata field)" in refused["content"]  # a list of tags
