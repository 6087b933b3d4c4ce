"""Fixtures for Aquarium's and Lagoon's routes: their official clients, each in a virtual environment of its own."""

import os
import subprocess
import venv

import pytest

#: The client releases the routes are tested against.
AQUARIUM = "aquarium-python-api==2.2.4"
LAGOON = "lagoon-python-api==0.0.2"


def _client(tmp_path_factory, requirement):
    folder = tmp_path_factory.mktemp(requirement.split("=")[0])
    venv.create(folder, with_pip=True)
    python = str(folder / ("Scripts" if os.name == "nt" else "bin") / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", requirement], capture_output=True, text=True)
    if installed.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"installing {requirement} failed:\n{installed.stderr[-2000:]}")
        pytest.skip(f"{requirement} could not be installed here: {installed.stderr.strip().splitlines()[-1:]}")
    return python


@pytest.fixture(scope="session")
def aquarium_python(tmp_path_factory):
    """The python of a virtual environment with aquarium-python-api installed from the package index."""
    return _client(tmp_path_factory, AQUARIUM)


@pytest.fixture(scope="session")
def lagoon_python(tmp_path_factory):
    """The python of a virtual environment with lagoon-python-api installed from the package index."""
    return _client(tmp_path_factory, LAGOON)
