"""The README's Python examples run as they stand."""

import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.rst"
BLOCKS = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", README.read_text())


@pytest.mark.parametrize("code", [textwrap.dedent(block) for block in BLOCKS], ids=lambda c: c.splitlines()[0][:40])
def test_a_readme_example_runs(code, tmp_path):
    pytest.importorskip("sqlalchemy", reason="the examples use the embedded mode")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 2
