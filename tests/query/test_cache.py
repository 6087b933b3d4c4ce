"""Parsing is memoised, safe across threads, and leaves pyparsing's global switches alone."""

import dataclasses
import json
import subprocess
import sys
import threading

import pytest

from ftrack_like_api.query import build, parse


def test_the_same_text_is_parsed_once():
    text = "select name from Task where name is :name"
    parse.cache_clear()
    first = parse(text)
    again = parse(text)
    info = parse.cache_info()
    assert again is first
    assert (info.misses, info.hits) == (1, 1)


def test_the_cache_is_bounded():
    assert parse.cache_info().maxsize == build.CACHE_SIZE


def test_a_failed_parse_is_not_cached_as_a_result():
    parse.cache_clear()
    for _ in range(2):
        try:
            parse("Task where")
        except Exception:
            pass
    assert parse.cache_info().currsize == 0


def test_threads_parsing_at_once_get_what_one_thread_gets():
    texts = [f'select name, status.name from Task where name is "shot{i}" and (bid > {i} or id in (a, b)) limit {i}'
             for i in range(300)]
    parse.cache_clear()
    results: dict[int, list] = {}
    errors = []
    start = threading.Barrier(8)

    def worker(n):
        try:
            start.wait()
            results[n] = [parse(t) for t in (texts if n % 2 else reversed(texts))]
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    parse.cache_clear()
    expected = [parse(t) for t in texts]
    assert len(results) == 8
    for n, got in results.items():
        assert (got if n % 2 else list(reversed(got))) == expected


def test_importing_and_parsing_flip_no_pyparsing_global():
    probe = """
import json, pyparsing as pp
def state():
    return {
        "packrat": pp.ParserElement._packratEnabled,
        "left_recursion": pp.ParserElement._left_recursion_enabled,
        "whitespace": pp.ParserElement.DEFAULT_WHITE_CHARS,
        "default_name": repr(pp.ParserElement._literalStringClass),
        "diag": sorted(name for name in pp.__diag__._all_names if getattr(pp.__diag__, name)),
    }
before = state()
from ftrack_like_api.query import parse
from ftrack_like_api.event.expression import parse as parse_expression
parse("Task where name is x")
parse_expression("topic=ftrack.update")
print(json.dumps([before, state()]))
"""
    output = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    before, after = json.loads(output)
    assert before == after
    assert before["packrat"] is False


def test_importing_the_package_does_not_load_the_parser():
    probe = (
        "import sys, ftrack_like_api; "
        "print('pyparsing' in sys.modules, 'ftrack_like_api.query' in sys.modules, 'sqlalchemy' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert output.split() == ["False", "False", "False"]


def test_a_cached_query_is_immutable_and_hashable():
    query = parse("Task where name is x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.entity_type = "Shot"
    assert {query: 1}[parse("Task where name is x")] == 1
