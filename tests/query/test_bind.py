"""Bound parameters: values that stay values, whatever they contain."""

import datetime
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftrack_like_api.exceptions import ParameterError, QueryError
from ftrack_like_api.query import bind, parameters, parse, render
from ftrack_like_api.query.ast import Literal, Membership, Path


def test_a_bound_value_is_a_literal_in_the_tree():
    query = bind(parse("Task where name is :name and bid > :bid"), name="comp", bid=2.5)
    assert [c.value for c in query.where.operands] == [Literal("comp"), Literal(2.5)]


def test_values_can_come_as_a_mapping_too():
    assert bind(parse("User where username is :name"), {"name": "jo"}) == parse('User where username is "jo"')


@pytest.mark.parametrize(
    "hostile",
    [
        'x" or name like "%',
        "x') or (name is 'y",
        'say "hi"',
        "back\\slash\\",
        '\\" or 1 is 1 or "',
        "line\nbreak",
        ":other",
        "and",
        "",
    ],
)
def test_a_value_never_breaks_out_of_its_literal(hostile):
    text = render(bind(parse("Task where name is :name and id is :id"), name=hostile, id="1"))
    reparsed = parse(text)
    assert reparsed.where.operands[0].value == Literal(hostile)
    assert parameters(reparsed) == frozenset()


@given(st.text())
def test_any_text_value_round_trips(value):
    text = render(bind(parse("Task where name is :v"), v=value))
    assert parse(text).where.value == Literal(value)


def test_a_list_after_in_becomes_the_list():
    ids = [uuid.UUID(int=1), uuid.UUID(int=2)]
    query = bind(parse("Task where id in :ids"), ids=ids)
    assert query.where == Membership(Path.of("id"), tuple(Literal(str(i)) for i in ids))
    assert bind(parse("Task where id not_in :ids"), ids=()).where.values == ()
    assert bind(parse("Task where id in :ids"), ids=(n for n in range(3))).where.values == (
        Literal(0), Literal(1), Literal(2),
    )


def test_dates_and_datetimes_become_iso_text():
    utc = datetime.timezone.utc
    query = bind(
        parse("Task where start_date after :start and created_at <= :created"),
        start=datetime.date(2024, 5, 1),
        created=datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    )
    assert [c.value.value for c in query.where.operands] == ["2024-05-01", "2024-05-01T10:00:00+02:00"]
    assert bind(parse("Task where a is :a"), a=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc)).where.value == (
        Literal("2024-01-02T03:04:05+00:00")
    )


def test_parameters_in_subqueries_and_relations_are_bound():
    query = parse("Note where parent_id in (select id from Shot where name is :shot) and author has (username is :u)")
    assert parameters(query) == {"shot", "u"}
    bound = bind(query, shot="sh010", u="jo")
    assert parameters(bound) == frozenset()
    assert render(bound) == (
        'Note where parent_id in (select id from Shot where name is "sh010") and author has (username is "jo")'
    )


def test_a_missing_value_names_the_parameter():
    with pytest.raises(ParameterError, match=r"No value given for :name \(given: :nmae\)"):
        bind(parse("Task where name is :name"), nmae="x")


def test_a_value_the_query_does_not_use_is_a_mistake():
    with pytest.raises(ParameterError, match=r"Values given for :extra, which the query does not use"):
        bind(parse("Task where name is :name"), name="x", extra=1)


@pytest.mark.parametrize(
    "text, value, message",
    [
        ("Task where name is :v", object(), "Parameter :v is a object; expected str, int"),
        ("Task where name is :v", ["a"], "a list goes after 'in' or 'not_in'"),
        ("Task where id in :v", "abc", "takes a list of values"),
        ("Task where id in :v", 5, "takes a list of values"),
        ("Task where bid is :v", float("nan"), "finite numbers only"),
        ("Task where id in :v", [object()], "Parameter :v is a object"),
    ],
)
def test_a_value_that_cannot_be_one_is_refused(text, value, message):
    with pytest.raises(ParameterError, match=message):
        bind(parse(text), v=value)


def test_a_caller_catching_query_errors_catches_a_bad_parameter():
    with pytest.raises(QueryError, match="takes a list of values"):
        bind(parse("Task where id in :v"), v=5)


def test_binding_nothing_returns_the_same_query():
    query = parse("Task where name is x")
    assert bind(query) is query
