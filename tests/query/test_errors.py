"""A query that is not one fails with a QueryError that says where and why."""

import pytest

from ftrack_like_api.exceptions import Error, QueryError
from ftrack_like_api.query import parse


def error_for(text):
    with pytest.raises(QueryError) as raised:
        parse(text)
    return raised.value


@pytest.mark.parametrize(
    "text, column, expected",
    [
        ("", 1, "entity type"),
        ("Task where", 11, "condition"),
        ("Task where name is", 19, "value"),
        ('Task where name "x"', 17, "operator, 'in', 'not_in', 'has' or 'any'"),
        ("select name from", 17, "entity type"),
        ("select from Task", 8, "projection"),
        ("select a, from Task", 11, "projection"),
        ("select a ,\n from Task", 2, "projection"),
        ("Task where (a is 1", 19, "')'"),
        ("Task limit x", 12, "whole number"),
        ("Task limit -1", 12, "whole number"),
        ("Task where a in (1, 2", 22, "')'"),
        ("Task where a in 1", 17, "'(' or a parameter"),
        ("Task where a is 1 and", 22, "condition"),
        ('Task where a is 1 andd b is 2', 19, "end of query"),
        ("Task where a any (b is)", 23, "value"),
        ("Task order name", 12, "'by'"),
        ("Task where a is and", 17, "value"),
    ],
)
def test_the_error_names_the_spot_and_what_would_fit(text, column, expected):
    error = error_for(text)
    assert (error.line, error.column) == (text.count("\n", 0, error.position) + 1, column)
    assert error.position == text.rfind("\n", 0, error.position) + column
    assert error.expected == expected
    assert error.text == text
    assert f"Expected {expected}, found" in str(error)


def test_the_message_draws_a_caret_under_the_spot():
    error = error_for('Task where name "x"')
    assert str(error) == (
        "Expected operator, 'in', 'not_in', 'has' or 'any', found '\"x\"' at line 1, column 17 of the query:\n"
        '    Task where name "x"\n'
        "                    ^"
    )


def test_lines_and_columns_count_in_multi_line_queries():
    error = error_for('select name\nfrom Task\nwhere name is\n  "x" and')
    assert (error.line, error.column) == (4, 10)
    assert str(error).endswith('      "x" and\n             ^')


def test_a_tab_stays_a_tab_under_the_caret():
    error = error_for("Task\twhere\tname\t??")
    assert str(error).splitlines()[-1] == "    " + "    \t     \t    \t^"


def test_an_unclosed_string_points_at_its_opening_quote():
    error = error_for('Task where name is "comp and id is 1')
    assert (error.column, error.reason) == (20, "A string that opens here is not closed")


def test_a_long_line_is_shown_around_the_spot_only():
    ids = ", ".join(f"id{i}" for i in range(20_000))
    error = error_for(f"Task where id in ({ids}, ) and")
    shown = str(error).splitlines()[1]
    assert len(shown) < 200 and shown.lstrip().startswith("…")


def test_too_deep_nesting_is_a_query_error_not_a_crash():
    text = "Task where " + "(" * 2000 + "a is 1" + ")" * 2000
    error = error_for(text)
    assert "too deeply" in str(error)
    assert len(str(error)) < 400
    error = error_for("Task where " + "not " * 2000 + "a is 1")
    assert "too deeply" in str(error)


def test_one_except_clause_for_the_package_catches_a_query_error():
    with pytest.raises(Error) as raised:
        parse("Task where name is")
    assert raised.value.text == "Task where name is"  # the query error itself, with what it knows


def test_anything_but_text_is_a_type_error():
    with pytest.raises(TypeError, match="a query is text"):
        parse(b"Task")
