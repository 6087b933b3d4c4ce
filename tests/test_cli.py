"""``ftrack-like`` without the server extra: its help lists every command; the server's say which extra to install."""

import os
import subprocess
import sys

import pytest


def without_sqlalchemy(tmp_path):
    """The environment of a client-only install: a stand-in that makes SQLAlchemy unimportable."""
    stand_in = tmp_path / "site" / "sqlalchemy"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'sqlalchemy'\", name='sqlalchemy')\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stand_in.parent), os.environ.get("PYTHONPATH", "")])}
    environment.pop("FTRACK_LIKE_DEBUG", None)
    return environment


@pytest.mark.parametrize("arguments", [["init"], ["serve", "--port", "0"]])
def test_without_the_server_extra_the_command_names_the_extra(tmp_path, arguments):
    database = tmp_path / "studio.db"
    environment = without_sqlalchemy(tmp_path)

    done = subprocess.run(
        [sys.executable, "-m", "ftrack_like_api.cli", *arguments, "--database", str(database)],
        env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: ftrack-like needs the server extra (sqlalchemy is not installed): pip install 'ftrack-like-api[server]'"
    ]
    assert not database.exists()


def test_without_the_server_extra_the_help_lists_every_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ftrack_like_api.cli", "--help"], env=without_sqlalchemy(tmp_path),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for command in ("login", "logout", "token", "query", "user", "serve", "init"):
        assert f"    {command} " in done.stdout or f"    {command}\n" in done.stdout, command


def help_of(capsys, *command):
    from ftrack_like_api.cli import main

    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse's line breaks undone


def test_the_help_says_a_client_command_takes_no_default_database(capsys):
    """A client command never falls back to a database: its --database help must not say it does."""
    assert "sign in with `ftrack-like login URL`" in help_of(capsys)
    for command in (["query"], ["shell"], ["events", "tail"], ["user", "list"], ["key", "create"], ["upload"]):
        said = help_of(capsys, *command)
        assert "--database DATABASE a database on this machine, opened here as admin (instead of a server)" in said
        assert "SQLite file in the user data folder" not in said, command
    for command in (["init"], ["serve"], ["backup"]):  # the server's own: the default database is theirs
        assert "SQLite file in the user data folder" in help_of(capsys, *command), command
