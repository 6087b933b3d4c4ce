"""``ftrack-like query``, ``shell`` and ``demo``: look into a studio, or try one out.

``query`` and ``shell`` are clients of the studio ``studio.py`` names, acting as its user.
"""

from __future__ import annotations

import argparse
import code
import json
from typing import Any

from .database import needing_the_server
from .studio import client_session, open_studio

__all__ = ["add_commands"]


def query(options: argparse.Namespace) -> int:
    if options.explain:
        return explain(options)
    with client_session(options) as session:
        rows = session.call([{"action": "query", "expression": options.expression}])[0]["data"]
    if options.json:
        print(json.dumps(rows, indent=2))
        return 0
    flat = [_flattened(row) for row in rows]
    columns = list(dict.fromkeys(key for row in flat for key in row))
    widths = {c: max([len(c)] + [len(str(row.get(c, ""))) for row in flat]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in flat:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


def _flattened(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A row's columns, nested ones by their path (``status.name``); a list by how many it holds."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if key == "__entity_type__":
            continue
        if isinstance(value, dict) and "__type__" not in value:
            flat.update(_flattened(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            flat[f"{prefix}{key}"] = f"[{len(value)}]"
        elif isinstance(value, dict):  # a tagged value: a datetime, a date
            flat[f"{prefix}{key}"] = value.get("value", value)
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def explain(options: argparse.Namespace) -> int:
    """Run the query, and print each SQL statement it became with the database's plan for it: on a
    database here, or on a server for its administrators (``POST /admin/explain``)."""
    with open_studio(options) as studio:
        answer = studio.explain(options.expression)
    statements = answer["statements"]
    for number, statement in enumerate(statements, 1):
        print(f"-- statement {number} of {len(statements)}, parameters {statement['parameters']}")
        print(statement["sql"] + ";")
        print("-- plan:")
        for line in statement["plan"]:
            print("--   " + line)
    rows = answer["rows"]
    print(f"({rows} row{'s' if rows != 1 else ''})")
    return 0


def shell(options: argparse.Namespace) -> int:
    session = client_session(options)
    banner = f"ftrack_like_api shell: `session` is connected to {session.server_url} as {session.api_user}."
    code.interact(banner=banner, local={"session": session}, exitmsg="")
    session.close()
    return 0


def demo(options: argparse.Namespace) -> int:
    from ..demo import main as run_demo

    # The demo builds in a new temporary database unless one is named: never in the studio's.
    arguments = ["--sequences", str(options.sequences), "--shots", str(options.shots)]
    return run_demo(arguments + (["--database", options.database] if options.database else []))


def add_commands(command: Any) -> None:
    """Add ``query``, ``shell`` and ``demo`` to the CLI's parser (``command(name, handler, help)`` makes one)."""
    asked = command("query", query, "run a query; print a table, or JSON")
    asked.add_argument("expression")
    asked.add_argument("--json", action="store_true")
    asked.add_argument("--explain", action="store_true", help="print the SQL each query became and the database's plan")
    command("shell", shell, "a Python shell with a connected `session`")
    said = "serve a demo studio and exercise it through a Session over HTTP"
    try:
        from ..demo import add_arguments as demo_arguments
    except ModuleNotFoundError as missing:  # a client-only install
        return needing_the_server(command, "demo", said, missing)
    demo_arguments(command("demo", demo, said))
