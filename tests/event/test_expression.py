"""Event subscription expressions: what they parse to and which events they match."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftrack_like_api.event.expression import And, Condition, Not, Or, match, parse, render
from ftrack_like_api.exceptions import ExpressionError, QueryError

EVENT = {
    "topic": "ftrack.update",
    "source": {"user": {"username": "jo"}, "id": "abc"},
    "data": {"user": {"name": "jo"}, "count": 5, "ratio": 0.5, "done": True, "note": None, "tags": ["a"]},
}


def test_the_spec_example():
    expression = parse("topic=ftrack.update and data.user.name=jo")
    assert expression == And((Condition(("topic",), "=", "ftrack.update"), Condition(("data", "user", "name"), "=", "jo")))
    assert match(expression, EVENT)


@pytest.mark.parametrize(
    "text, matches",
    [
        ("topic=ftrack.update", True),
        ("topic = ftrack.update", True),
        ('topic="ftrack.update"', True),
        ("topic='ftrack.update'", True),
        ("topic!=ftrack.update", False),
        ("topic=ftrack.*", True),
        ("topic=ftrack.up*", True),
        ("topic=other.*", False),
        ("topic!=other.*", True),
        ('topic="ftrack.update\\*"', False),  # an escaped star is a star
        ("topic=*", True),
        ("source.user.username=jo", True),
        ("data.count=5", True),
        ("data.count=5.0", True),
        ("data.count>4", True),
        ("data.count>=5", True),
        ("data.count<5", False),
        ("data.count<=5", True),
        ("data.count>abc", False),  # not a number: no order
        ("data.ratio<1", True),
        ("data.done=true", True),
        ("data.done=TRUE", True),
        ("data.done=false", False),
        ("data.note=None", True),
        ("data.note!=None", False),
        ("data.user.name>a", True),  # text orders as text
        ("data.user.name<a", False),
        ("data.user>a", False),  # a mapping has no order
        ("data.tags=a", True),  # a list: any of its elements
        ("data.tags=b", False),
        ("data.tags!=a", False),  # != : none of them equals
        ("data.missing=1", False),
        ("data.missing!=1", False),  # a missing key is no match, whatever the operator
        ("data.user.name.first=jo", False),
        ("not data.missing=1", True),
        ("topic=x or data.count=5", True),
        ("topic=x or data.count=6", False),
        ("(topic=x or data.count=5) and not source.user.username=bob", True),
        ("TOPIC=ftrack.update", False),  # keys are case-sensitive
        ("topic=ftrack.update AND NOT data.done=false", True),  # keywords are not
    ],
)
def test_matching(text, matches):
    assert match(parse(text), EVENT) is matches
    assert match(text, EVENT) is matches


def test_precedence_not_over_and_over_or():
    assert parse("a=1 or not b=2 and c=3") == Or(
        (Condition(("a",), "=", "1"), And((Not(Condition(("b",), "=", "2")), Condition(("c",), "=", "3"))))
    )


@pytest.mark.parametrize(
    "text, column, expected",
    [
        ("", 1, "condition"),
        ("topic", 6, "operator (= != < > <= >=)"),
        ("topic=", 7, "value"),
        ("topic=x and", 12, "condition"),
        ("(topic=x", 9, "')'"),
        ("topic=x y", 9, "end of expression"),
        ("topic=and", 7, "value"),
    ],
)
def test_errors_say_where_and_what(text, column, expected):
    with pytest.raises(ExpressionError) as raised:
        parse(text)
    assert (raised.value.column, raised.value.expected) == (column, expected)
    assert "of the expression:" in str(raised.value)


def test_an_unclosed_string_points_at_its_quote():
    with pytest.raises(ExpressionError, match="A string that opens here is not closed at line 1, column 7"):
        parse('topic="ftrack')


def test_a_caller_catching_query_errors_catches_a_bad_subscription():
    with pytest.raises(QueryError, match="is not closed"):
        parse('topic="ftrack')


keys = st.lists(st.from_regex(r"[A-Za-z0-9_$\-]{1,6}", fullmatch=True), min_size=1, max_size=3).map(tuple)
conditions = st.one_of(
    st.builds(Condition, keys, st.sampled_from(["=", "!=", "<", ">", "<=", ">="]), st.text()),
    st.builds(Condition, keys, st.sampled_from(["=", "!="]), st.text(), st.just(True)),
)
expressions = st.recursive(
    conditions,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=3).map(lambda e: And(tuple(e))),
        st.lists(children, min_size=2, max_size=3).map(lambda e: Or(tuple(e))),
    ),
    max_leaves=8,
)


@given(expressions)
def test_every_expression_survives_a_round_trip(expression):
    assert parse(render(expression)) == expression


@given(st.text())
def test_no_text_raises_anything_but_expression_error(text):
    try:
        expression = parse(text)
    except ExpressionError as error:
        assert error.text == text and str(error)
        assert not any(mark in (error.expected or "") for mark in ("Re:(", "W:(", "{", "Suppress:", "|")), error.reason
        return
    assert parse(render(expression)) == expression
    match(expression, EVENT)


@given(expressions, st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                                 lambda v: st.dictionaries(st.text(max_size=3), v, max_size=3), max_leaves=6))
def test_matching_any_event_answers_true_or_false(expression, event):
    assert match(expression, {"topic": event, "data": event}) in (True, False)


def test_a_key_through_a_list_reaches_each_element():
    """What ftrack.update carries: data.entities is a list; a condition on it matches any entity."""
    event = {"topic": "ftrack.update", "data": {"entities": [
        {"entityType": "task", "action": "update", "keys": ["statusid", "name"]},
        {"entityType": "show", "action": "add", "keys": []},
    ]}}  # fmt: skip
    assert match("data.entities.entityType=task", event)
    assert match("data.entities.entityType=show and data.entities.action=add", event)
    assert not match("data.entities.entityType=assetversion", event)
    assert match("data.entities.action!=remove", event) and not match("data.entities.action!=add", event)
    assert match("data.entities.keys=statusid", event)  # a list in a list
    assert not match("data.entities.missing=1", event) and not match("data.entities.missing!=1", event)
    assert not match("data.entities.entityType=task", {"data": {"entities": []}})
