"""``python -m ftrack_like_api.query``: check a query and see what it means.

::

    python -m ftrack_like_api.query 'Task where name is :n and status.name = Approved' -p n='comp "v2"'

prints the canonical text and the tree; a query that is not one prints the error
with a caret and exits with status 2. With no query, the examples of the
documentation are shown.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import sys
from typing import Sequence

from ..exceptions import QueryError
from . import ast, bind, parse, render

__all__ = ["EXAMPLES", "main", "tree"]

EXAMPLES = (
    'select name from Task where project.name is "tutorial" order by name desc offset 10 limit 5',
    'Shot where parent.name is "sq010" and (status.name is "Approved" or not status.name like "%Omit%")',
    "Task where assignments any (resource.username is jo) and timelogs any ()",
    "select count(id), status_id from Task where project_id is :project group by status_id",
)


def tree(node: object, indent: str = "") -> list[str]:
    """An indented outline of an AST node, one line per node."""
    if isinstance(node, (ast.Path, ast.Literal, ast.Parameter, enum.Enum)):
        return [f"{indent}{_leaf(node)}"]
    if isinstance(node, tuple):
        return [line for item in node for line in tree(item, indent)]
    lines = [f"{indent}{type(node).__name__}"]
    for field in dataclasses.fields(node):  # type: ignore[arg-type]
        value = getattr(node, field.name)
        if value is None or value == () or value is False:
            continue
        if isinstance(value, (ast.Path, ast.Literal, ast.Parameter, enum.Enum, str, int)):
            lines.append(f"{indent}  {field.name}: {_leaf(value)}")
        else:
            lines.append(f"{indent}  {field.name}:")
            lines.extend(tree(value, indent + "    "))
    return lines


def _leaf(value: object) -> str:
    if isinstance(value, ast.Literal):
        return f"{render(value)} ({type(value.value).__name__})"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return render(value) if isinstance(value, (ast.Path, ast.Parameter)) else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ftrack_like_api.query", description="Parse a query; print its canonical text and tree."
    )
    parser.add_argument("query", nargs="?", help="query text; without it, the documentation's examples")
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE",
        help="bind :NAME to VALUE (a string; repeat for several)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the bound canonical text as a JSON string only")
    options = parser.parse_args(argv)

    values = {}
    for item in options.param:
        name, equals, value = item.partition("=")
        if not equals:
            parser.error(f"--param takes NAME=VALUE, not {item!r}")
        values[name] = value

    texts = [options.query] if options.query is not None else list(EXAMPLES)
    for text in texts:
        try:
            query = parse(text)
            if options.query is not None:
                query = bind(query, values)
        except QueryError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if options.json:
            print(json.dumps(render(query)))
            continue
        print(render(query))
        print("\n".join(tree(query, "  ")))
        print()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `| head` closed the pipe: nothing left to say
        sys.stderr.close()
        sys.exit(0)
