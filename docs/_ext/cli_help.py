"""``.. command-line-help::``: the ``--help`` of ``ftrack-like`` and every subcommand.

The text comes from the argparse parser itself (``ftrack_like_api.cli.parser()``) when
the docs are built, so the reference cannot drift from the program.
"""

from __future__ import annotations

import argparse
import os
from typing import Iterator

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

WIDTH = "88"  # argparse wraps to $COLUMNS: a fixed width makes every build the same


def commands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Each parser under ``parser``, depth first, with its program name (``ftrack-like user add``)."""
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for child in action.choices.values():
                if id(child) not in seen:  # aliases map several names to one parser
                    seen.add(id(child))
                    yield from commands(child)


def help_text(parser: argparse.ArgumentParser) -> str:
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return parser.format_help()
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


class CommandLineHelp(SphinxDirective):
    """One section per command, titled with its name, holding its ``--help``."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from ftrack_like_api.cli import parser

        lines: list[str] = []
        for name, command in commands(parser()):
            title = f"``{name}``"
            lines += [title, "~" * len(title), "", ".. code-block:: text", ""]
            lines += [f"    {line}" if line else "" for line in help_text(command).splitlines()]
            lines.append("")
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source="ftrack_like_api.cli.parser()"), container)
        return container.children


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("command-line-help", CommandLineHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
