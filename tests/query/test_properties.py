"""Properties over generated input: every AST round-trips; no text breaks the parser."""

import string

from hypothesis import assume, example, given
from hypothesis import strategies as st

from ftrack_like_api.exceptions import QueryError
from ftrack_like_api.query import ast, parse, render
from ftrack_like_api.query.grammar import RESERVED_WORDS

KEYWORDS = set(RESERVED_WORDS) | {"asc", "desc", "is", "is_not", "like", "not_like", "after", "before",
                                  "greater_than", "less_than", "true", "false", "none"}

# Any identifier, including keywords and real attribute names that are keywords
# (`from`, `group`). Only `not` cannot start a condition: `not x` is a negation.
identifiers = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    st.sampled_from(sorted(KEYWORDS | {"from", "group", "Group", "count", "id", "name"})),
)
segments = identifiers.filter(lambda name: name.lower() != "not")
type_names = identifiers.filter(lambda name: name.lower() not in KEYWORDS)
paths = st.lists(segments, min_size=1, max_size=4).map(lambda parts: ast.Path(tuple(parts)))

literals = st.one_of(
    st.text(),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.:+", min_size=1),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
).map(ast.Literal)
parameters = identifiers.map(ast.Parameter)
values = st.one_of(literals, parameters)


def conditions(children):
    subqueries = st.builds(ast.Subquery, paths, type_names, st.none() | children)
    return st.one_of(
        st.builds(ast.Comparison, paths, st.sampled_from(ast.Operator), values),
        st.builds(
            ast.Membership,
            paths,
            st.one_of(st.lists(values, max_size=4).map(tuple), subqueries, parameters),
            st.booleans(),
        ),
        st.builds(ast.Relation, paths, st.sampled_from(ast.Quantifier), st.none() | children),
    )


expressions = st.recursive(
    conditions(st.nothing()),
    lambda children: st.one_of(
        conditions(children),
        st.builds(ast.Not, children),
        st.lists(children, min_size=2, max_size=4).map(lambda ops: ast.And(tuple(ops))),
        st.lists(children, min_size=2, max_size=4).map(lambda ops: ast.Or(tuple(ops))),
    ),
    max_leaves=12,
)
projections = st.one_of(paths, st.builds(ast.Aggregate, st.sampled_from(ast.AGGREGATE_FUNCTIONS), paths))
counts = st.none() | st.integers(min_value=0, max_value=10**12)
queries = st.builds(
    ast.Query,
    type_names,
    st.lists(projections, max_size=4).map(tuple),
    st.none() | expressions,
    st.lists(paths, max_size=3).map(tuple),
    st.lists(st.builds(ast.OrderKey, paths, st.booleans()), max_size=3).map(tuple),
    counts,
    counts,
)


@given(queries)
def test_every_query_survives_a_round_trip_through_text(query):
    text = render(query)
    assert parse(text) == query
    assert render(parse(text)) == text


def check_parse(text):
    """Parse or fail with a well-formed QueryError; anything else fails the test."""
    try:
        query = parse(text)
    except QueryError as error:
        assert error.text == text
        if error.position is not None:
            assert 0 <= error.position <= len(text)
            assert error.line >= 1 and error.column >= 1
        # Every rule is named: no message shows pyparsing's description of an element.
        assert not any(mark in (error.expected or "") for mark in ("Re:(", "W:(", "{", "Suppress:", "|")), error.reason
        return None
    assert parse(render(query)) == query
    return query


@given(st.text())
@example("\x00")
@example('Task where name is "\\')
@example("Task where a in (select")
@example(":")
def test_no_text_raises_anything_but_query_error(text):
    check_parse(text)


TOKENS = [
    "select", "from", "where", "and", "or", "not", "in", "not_in", "has", "any", "group", "by", "order",
    "asc", "desc", "offset", "limit", "is", "is_not", "=", "!=", ">", "<", ">=", "<=", "like", "not_like",
    "after", "count", "(", ")", ",", ".", "Task", "name", "status.name", "id", '"x"', "'y'", '"', "'", "\\",
    "5", "-1", "2.5", "1e999", "None", "true", ":p", ":", "*", "\t", "\n",
]  # fmt: skip


@given(st.lists(st.sampled_from(TOKENS), max_size=30), st.lists(st.sampled_from(["", " ", "  "]), max_size=30))
def test_token_soup_parses_or_fails_cleanly(tokens, gaps):
    text = "".join(token + (gaps[i] if i < len(gaps) else " ") for i, token in enumerate(tokens))
    check_parse(text)


@given(queries, st.data())
def test_mutated_queries_parse_or_fail_cleanly(query, data):
    text = render(query)
    assume(text)
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 3))
    insert = data.draw(st.sampled_from(["", "(", ")", '"', "'", ",", " and", " or ", "not ", ".", "\\", "="]))
    check_parse(text[:at] + insert + text[at + cut :])
