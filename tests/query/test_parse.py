"""What each construct of the query language parses to."""

import pytest

from ftrack_like_api.exceptions import QueryError
from ftrack_like_api.query import parse, render
from ftrack_like_api.query.ast import (
    Aggregate,
    And,
    Comparison,
    Literal,
    Membership,
    Not,
    Operator,
    Or,
    OrderKey,
    Parameter,
    Path,
    Quantifier,
    Query,
    Relation,
    Subquery,
)

P = Path.of


def is_(path, value):
    return Comparison(P(path), Operator.IS, Literal(value))


# The examples of ../shared/QUERY_LANGUAGE.md, each with the tree it must give.
SPEC_EXAMPLES = {
    "Task": Query("Task"),
    'select name from Task where project.name is "tutorial" order by name desc offset 10 limit 5': Query(
        "Task",
        projections=(P("name"),),
        where=is_("project.name", "tutorial"),
        order_by=(OrderKey(P("name"), descending=True),),
        offset=10,
        limit=5,
    ),
    "select id, name, status.name, assignments.resource.username from Task "
    "where status.state.short is NOT_STARTED": Query(
        "Task",
        projections=(P("id"), P("name"), P("status.name"), P("assignments.resource.username")),
        where=is_("status.state.short", "NOT_STARTED"),
    ),
    'Shot where parent.name is "sq010" and (status.name is "Approved" or not status.name like "%Omit%")': Query(
        "Shot",
        where=And(
            (
                is_("parent.name", "sq010"),
                Or(
                    (
                        is_("status.name", "Approved"),
                        Not(Comparison(P("status.name"), Operator.LIKE, Literal("%Omit%"))),
                    )
                ),
            )
        ),
    ),
    "select version, asset.versions.version from AssetVersion where asset_id is_not None limit 1": Query(
        "AssetVersion",
        projections=(P("version"), P("asset.versions.version")),
        where=Comparison(P("asset_id"), Operator.IS_NOT, Literal(None)),
        limit=1,
    ),
    'Task where assignments any (resource.username is "jo") and timelogs any ()': Query(
        "Task",
        where=And(
            (
                Relation(P("assignments"), Quantifier.ANY, is_("resource.username", "jo")),
                Relation(P("timelogs"), Quantifier.ANY, None),
            )
        ),
    ),
    "Note where parent_id in (select id from Shot where project_id is 5671dcb0-66de-11e1-8e6e-f23c91df25eb)": Query(
        "Note",
        where=Membership(
            P("parent_id"), Subquery(P("id"), "Shot", is_("project_id", "5671dcb0-66de-11e1-8e6e-f23c91df25eb"))
        ),
    ),
    'select count(id), status_id from Task where project_id is "x" group by status_id': Query(
        "Task",
        projections=(Aggregate("count", P("id")), P("status_id")),
        where=is_("project_id", "x"),
        group_by=(P("status_id"),),
    ),
    'NoteComponent where (component_id is "a1"and note_id is "b1") or (component_id is "a2"and note_id is "b2")': Query(
        "NoteComponent",
        where=Or(
            (
                And((is_("component_id", "a1"), is_("note_id", "b1"))),
                And((is_("component_id", "a2"), is_("note_id", "b2"))),
            )
        ),
    ),
    'Task where custom_attributes any (key is "fps" and value is 25)': Query(
        "Task",
        where=Relation(P("custom_attributes"), Quantifier.ANY, And((is_("key", "fps"), is_("value", 25)))),
    ),
    "User where username is :name": Query(
        "User", where=Comparison(P("username"), Operator.IS, Parameter("name"))
    ),
}


@pytest.mark.parametrize("text", SPEC_EXAMPLES)
def test_spec_examples_parse_to_their_tree(text):
    assert parse(text) == SPEC_EXAMPLES[text]


@pytest.mark.parametrize("text", SPEC_EXAMPLES)
def test_spec_examples_survive_a_round_trip_through_canonical_text(text):
    tree = parse(text)
    assert parse(render(tree)) == tree
    assert render(parse(render(tree))) == render(tree)


@pytest.mark.parametrize(
    "spelling, operator",
    [
        ("is", Operator.IS),
        ("=", Operator.IS),
        ("is_not", Operator.IS_NOT),
        ("!=", Operator.IS_NOT),
        (">", Operator.GREATER),
        ("after", Operator.GREATER),
        ("greater_than", Operator.GREATER),
        ("<", Operator.LESS),
        ("before", Operator.LESS),
        ("less_than", Operator.LESS),
        (">=", Operator.GREATER_OR_EQUAL),
        ("<=", Operator.LESS_OR_EQUAL),
        ("like", Operator.LIKE),
        ("not_like", Operator.NOT_LIKE),
        ("IS_NOT", Operator.IS_NOT),
        ("After", Operator.GREATER),
    ],
)
def test_every_operator_and_alias(spelling, operator):
    assert parse(f'Task where name {spelling} "x"').where == Comparison(P("name"), operator, Literal("x"))
    # Symbols need no surrounding space.
    if not spelling[0].isalpha():
        assert parse(f'Task where name{spelling}"x"').where.operator is operator


@pytest.mark.parametrize(
    "written, value",
    [
        ('"double"', "double"),
        ("'single'", "single"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r'"back\\slash"', "back\\slash"),
        (r'"tab\tnew\nline\rret"', "tab\tnew\nline\rret"),
        (r'"C:\shots"', r"C:\shots"),  # an unknown escape keeps its backslash
        ('"a\ttab kept"', "a\ttab kept"),  # tabs inside strings are not expanded
        ('"multi\nline"', "multi\nline"),
        ('"ünïcødé ✓"', "ünïcødé ✓"),
        ('"5"', "5"),
        ('""', ""),
        ("25", 25),
        ("-3", -3),
        ("+7", 7),
        ("2.5", 2.5),
        ("-0.25", -0.25),
        ("1e3", 1000.0),
        ("1e999", "1e999"),  # not a finite number: stays the word it was
        ("true", True),
        ("FALSE", False),
        ("None", None),
        ("none", None),
        ("NOT_STARTED", "NOT_STARTED"),
        ("5671dcb0-66de-11e1-8e6e-f23c91df25eb", "5671dcb0-66de-11e1-8e6e-f23c91df25eb"),
        ("2024-05-01T10:00:00+02:00", "2024-05-01T10:00:00+02:00"),
        ("andrew", "andrew"),  # starts like a keyword, is not one
        ("None-thing", "None-thing"),
    ],
)
def test_value_forms(written, value):
    literal = parse(f"Task where name is {written}").where.value
    assert literal == Literal(value)


def test_a_parameter_is_a_value():
    assert parse("Task where name like :pattern").where.value == Parameter("pattern")


@pytest.mark.parametrize(
    "text, values",
    [
        ("Task where id in (a, b, c)", (Literal("a"), Literal("b"), Literal("c"))),
        ('Task where id in ("a",1, None)', (Literal("a"), Literal(1), Literal(None))),
        ("Task where id in ()", ()),
        ("Task where id in :ids", Parameter("ids")),
    ],
)
def test_in_lists(text, values):
    assert parse(text).where == Membership(P("id"), values)


def test_not_in_with_subquery():
    where = parse("Task where id not_in (select task_id from Timelog)").where
    assert where == Membership(P("id"), Subquery(P("task_id"), "Timelog"), negated=True)


def test_has_through_a_reference():
    where = parse('Shot where parent has (name is "sq010")').where
    assert where == Relation(P("parent"), Quantifier.HAS, is_("name", "sq010"))


def test_not_any_empty_means_the_collection_is_empty():
    assert parse("Task where not timelogs any ()").where == Not(Relation(P("timelogs"), Quantifier.ANY))


def test_and_binds_tighter_than_or_and_not_tightest():
    where = parse("Task where a is 1 or not b is 2 and c is 3").where
    assert where == Or((is_("a", 1), And((Not(is_("b", 2)), is_("c", 3)))))


def test_parentheses_keep_the_grouping_they_write():
    assert parse("Task where (a is 1 and b is 2) and c is 3").where == And(
        (And((is_("a", 1), is_("b", 2))), is_("c", 3))
    )
    assert parse("Task where ((a is 1))").where == is_("a", 1)


def test_keywords_are_case_insensitive_names_are_not():
    text = 'SELECT name FROM Task WHERE name IS "x" AND NOT id IN () ORDER BY name DESC OFFSET 1 LIMIT 2'
    assert parse(text) == parse('select name from Task where name is "x" and not id in () order by name desc offset 1 limit 2')
    assert parse("task").entity_type == "task"


@pytest.mark.parametrize(
    "text, offset, limit",
    [
        ("Task limit 5", None, 5),
        ("Task offset 5", 5, None),
        ("Task offset 5 limit 10", 5, 10),
        ("Task limit 10 offset 5", 5, 10),
        ("Task limit 0", None, 0),
    ],
)
def test_offset_and_limit_in_either_order(text, offset, limit):
    query = parse(text)
    assert (query.offset, query.limit) == (offset, limit)


def test_order_by_several_keys_and_group_by_several_paths():
    query = parse("select count(id), sum(bid), status_id, type_id from Task group by status_id, type_id "
                  "order by status_id asc, type_id desc, name")
    assert query.group_by == (P("status_id"), P("type_id"))
    assert query.order_by == (OrderKey(P("status_id")), OrderKey(P("type_id"), True), OrderKey(P("name")))
    assert [p.key for p in query.projections[:2]] == ["count_id", "sum_bid"]


@pytest.mark.parametrize("function", ["count", "sum", "avg", "min", "max", "COUNT"])
def test_aggregates(function):
    assert parse(f"select {function}(bid) from Task").projections == (Aggregate(function.lower(), P("bid")),)


def test_an_attribute_called_count_is_a_path():
    assert parse("select count from Stats").projections == (P("count"),)


def test_real_attribute_names_that_are_also_keywords():
    # AssetVersionLink has `from` and `to`; Membership has `group`; there is a type `Group`.
    assert parse("select from, to from AssetVersionLink").projections == (P("from"), P("to"))
    assert parse("select from from AssetVersionLink where from_id is x").projections == (P("from"),)
    assert parse("select from.id from AssetVersionLink").projections == (P("from.id"),)
    assert parse('Membership where group.name is "x" and user_id is y').where == And(
        (is_("group.name", "x"), is_("user_id", "y"))
    )
    assert parse("Group where name is x group by name order by name limit 1").group_by == (P("name"),)


def test_official_client_quirks():
    uuids = "5c60d1-1, 6d71e2-2, 7e82f3-3"
    assert parse(f"Task where id in ({uuids})").where.values == tuple(Literal(u) for u in uuids.split(", "))
    assert parse("Task where id is 5671dcb0-66de-11e1-8e6e-f23c91df25eb").where == is_(
        "id", "5671dcb0-66de-11e1-8e6e-f23c91df25eb"
    )
    assert parse("select name from Task offset 500 limit 500") == Query("Task", (P("name"),), offset=500, limit=500)
    assert parse("Task where status.state.short is NOT_STARTED").where == is_("status.state.short", "NOT_STARTED")


def test_whitespace_and_newlines_are_free():
    text = "\n  select name,\n\tstatus.name\nfrom Task\n where name is x\n\n"
    assert parse(text) == Query("Task", (P("name"), P("status.name")), is_("name", "x"))


def test_render_is_canonical():
    text = "SELECT name FROM Task WHERE name = 'it''s' LIMIT 5 OFFSET 2"
    with pytest.raises(QueryError):
        parse(text)  # SQL-style doubled quotes are not an escape here
    query = parse("SELECT name FROM Task WHERE name = 'x' AND bid AFTER 2 LIMIT 5 OFFSET 2")
    assert render(query) == 'select name from Task where name is "x" and bid > 2 offset 2 limit 5'


def test_sqls_not_equal_is_is_not_too():
    """accsyn's queries write SQL's ``<>``; it is ``is_not``, and renders as that."""
    from ftrack_like_api.query import parse, render

    assert parse('Task where bid <> 3') == parse('Task where bid != 3') == parse('Task where bid is_not 3')
    assert render(parse('Task where (name is "a" and bid <> 2) or bid<>3')) == 'Task where name is "a" and bid is_not 2 or bid is_not 3'
