"""``python -m ftrack_like_api.query``: the command that shows what a query means."""

import json
import subprocess
import sys

from ftrack_like_api.query.__main__ import EXAMPLES, main


def test_prints_canonical_text_and_tree(capsys):
    assert main(["Task where name = x and bid > 2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'Task where name is "x" and bid > 2'
    assert "            value: 2 (int)" in out


def test_binds_parameters_safely(capsys):
    assert main(["Task where name is :n", "-p", 'n=a" or name like "%', "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == 'Task where name is "a\\" or name like \\"%"'


def test_a_bad_query_exits_2_with_the_error(capsys):
    assert main(["Task where name is"]) == 2
    assert capsys.readouterr().err.startswith("error: Expected value, found the end of the query at line 1, column 19")


def test_without_a_query_it_shows_the_examples(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(example.split(" where ")[0] in out for example in EXAMPLES)


def test_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "ftrack_like_api.query", "Task limit 1 offset 2"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("Task offset 2 limit 1\n")
