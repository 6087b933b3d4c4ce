"""``ftrack-like`` without the server extra: it says which extra to install."""

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("arguments", [["init"], ["serve", "--port", "0"], ["--help"]])
def test_without_the_server_extra_the_command_names_the_extra(tmp_path, arguments):
    # A stand-in that makes SQLAlchemy unimportable, as on a client-only install.
    stand_in = tmp_path / "site" / "sqlalchemy"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'sqlalchemy'\", name='sqlalchemy')\n")
    database = tmp_path / "studio.db"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stand_in.parent), os.environ.get("PYTHONPATH", "")])}
    environment.pop("FTRACK_LIKE_DEBUG", None)

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
