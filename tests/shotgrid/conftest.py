"""Fixtures for ShotGrid's endpoint: the official ``shotgun_api3`` in a virtual environment of its own."""

import os
import subprocess
import venv

import pytest

#: The client release line the endpoint is tested against.
SHOTGUN_API3 = "shotgun_api3>=3.10,<3.11"


@pytest.fixture(scope="session")
def shotgun_python(tmp_path_factory):
    """The python of a virtual environment with shotgun_api3 3.10.x installed from the package index."""
    folder = tmp_path_factory.mktemp("shotgun-api3")
    venv.create(folder, with_pip=True)
    python = str(folder / ("Scripts" if os.name == "nt" else "bin") / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", SHOTGUN_API3], capture_output=True, text=True)
    if installed.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"installing {SHOTGUN_API3} failed:\n{installed.stderr[-2000:]}")
        pytest.skip(f"{SHOTGUN_API3} could not be installed here: {installed.stderr.strip().splitlines()[-1:]}")
    return python
