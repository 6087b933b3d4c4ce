"""Sphinx configuration; CI builds with -W (warnings are errors)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "_ext"))

import ftrack_like_api  # noqa: E402

project = "ftrack_like_api"
author = "ftrack_like_api engineers"
copyright = "2026, ftrack_like_api engineers"
release = version = ftrack_like_api.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.doctest", "cli_help"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
exclude_patterns = ["_build", "_ext"]
html_theme = "alabaster"
html_static_path: list = []
