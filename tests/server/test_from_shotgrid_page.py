"""docs/howto/from-shotgrid.rst runs as shown: each block of Python in a fresh interpreter, in order,
against a real server on 127.0.0.1 with files, as a script with the ``pipeline`` key (FTRACK_*)."""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "howto" / "from-shotgrid.rst"


@pytest.fixture(scope="module")
def storage(backend, tmp_path_factory):
    root = tmp_path_factory.mktemp("storage")
    backend.files.configure(root)
    return root


def test_the_shotgrid_page_runs_as_shown(server, backend, storage, tmp_path):
    pytest.importorskip("PIL", reason="the page makes its thumbnail with Pillow (the server extra)")
    blocks = [textwrap.dedent(b) for b in re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", PAGE.read_text())]
    assert len(blocks) == 4
    key = backend.auth.create_key("admin", "pipeline")  # ftrack-like key create --user admin --name pipeline
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("FTRACK_", "FTRACK_LIKE"))}
    environment.update(FTRACK_SERVER=server, FTRACK_API_USER="admin", FTRACK_API_KEY=key,
                       FTRACK_LIKE_CONFIG_DIR=str(tmp_path / "config"))  # fmt: skip
    for number, block in enumerate(blocks, 1):
        ran = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                             env=environment)  # fmt: skip
        assert ran.returncode == 0, f"block {number}:\n{ran.stderr}"
