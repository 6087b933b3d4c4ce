"""How-to pages whose code blocks run as shown, each in a fresh interpreter in a folder of its own."""

import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def blocks(page):
    return [textwrap.dedent(b) for b in re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", (DOCS / page).read_text())]


@pytest.mark.parametrize("page", ["howto/testing.rst", "howto/open-session.rst"])
def test_the_python_of_the_page_runs(page, tmp_path):
    pytest.importorskip("sqlalchemy", reason="the pages record from an embedded studio")
    found = blocks(page)
    assert found
    ran = subprocess.run([sys.executable, "-c", "\n".join(found)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
