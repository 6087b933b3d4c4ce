"""The demo studio: served and exercised end to end (``ftrack-like demo``).

It opens a studio database (a new SQLite file unless ``--database`` names one), starts
the HTTP server on 127.0.0.1 (an ephemeral port), gives ``admin`` an API key, and then,
as a pipeline script would, through a ``Session`` over HTTP: builds a production — a
project, sequences, shots, tasks, artists, assignments, versions, a note, metadata and
a custom attribute — in one commit, tours it with queries, changes it, and shows that a
commit with a mistake in it is refused whole and says where. Each step says what it does.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import tempfile
import time
from typing import Any, Iterator, Sequence

from .exceptions import ServerError
from .query import parse
from .server import Backend
from .session import Session

__all__ = ["build_production", "main", "serving"]

TOUR = [
    ("Tasks still to start, with who is assigned",
     "select name, parent.name, assignments.resource.username from Task "
     "where status.state.short is NOT_STARTED order by parent.name, name"),
    ("Shots of sq010 that are not omitted",
     'select name from Shot where parent.name is "sq010" and not status.name like "%Omit%" order by name'),
    ("Tasks assigned to jo", 'select name, parent.name from Task where assignments any (resource.username is "jo") '
                             "order by parent.name"),
    ("Everything under sq020, each as its own type",
     'select name from TypedContext where ancestors any (name is "sq020") order by name'),
    ("Versions of comp assets", 'select version, asset.name from AssetVersion where asset.name like "%comp" '
                                "order by asset.name, version limit 4"),
]  # fmt: skip


@contextlib.contextmanager
def serving(backend: Backend) -> Iterator[str]:
    """The HTTP server for ``backend`` on 127.0.0.1, an ephemeral port, in a thread; its URL."""
    from .server.app import create_app, serving as serving_app

    with serving_app(create_app(backend)) as url:
        yield url


def build_production(session: Session) -> dict[str, Any]:
    """Record the demo production in ``session`` (nothing is sent until commit); what was made."""
    schema = session.query('ProjectSchema where name is "VFX"').one()
    types = {t["name"]: t for t in session.query("select name from Type")}
    statuses = {s["name"]: s for s in session.query("select name from Status")}
    project = session.create("Project", {"name": "demo", "full_name": "The Demo", "project_schema": schema})
    artists = {name: session.create("User", {"username": name, "first_name": name.title()}) for name in ("jo", "sam", "kit")}
    number = session.query('CustomAttributeType where name is "number"').one()
    session.create("CustomAttributeConfiguration", {"key": "fps", "label": "FPS", "entity_type": "task", "type": number,
                                                    "object_type_id": "bad911de-3bd6-47b9-8b46-3476e237cb36", "default": 24})  # fmt: skip
    work = [("Compositing", "comp", "jo"), ("Animation", "anim", "sam"), ("Lighting", "light", "kit")]
    progress = ["Approved", "In progress", "Not started"]
    comp = session.query('AssetType where short is "comp"').one()
    shots = []
    for s, sequence_name in enumerate(("sq010", "sq020")):
        sequence = session.create("Sequence", {"name": sequence_name, "parent": project})
        for h in range(3):
            shot = session.create("Shot", {"name": f"{sequence_name}_sh{(h + 1) * 10:03d}", "parent": sequence})
            shots.append(shot)
            for t, (task_type, task_name, artist) in enumerate(work):
                task = session.create("Task", {"name": task_name, "parent": shot, "type": types[task_type],
                                               "status": statuses[progress[(s + h + t) % 3]], "bid": [2.0, 5.0, 3.0][t]})  # fmt: skip
                session.create("Appointment", {"type": "assignment", "context": task, "resource": artists[artist]})
                if task_name == "comp":
                    asset = session.create("Asset", {"name": f"{shot['name']}_comp", "parent": shot, "type": comp})
                    for _ in range(2):
                        session.create("AssetVersion", {"asset": asset, "task": task})
    session.create("Note", {"content": "Lovely sky, warmer please.", "parent_id": project["id"], "parent_type": "Project"})
    return {"project": project, "shots": shots}


def _selected(expression: str) -> dict[str, Any]:
    """The attribute tree a query selects: ``select name, parent.name`` → {name: {}, parent: {name: {}}}."""
    tree: dict[str, Any] = {}
    for projection in parse(expression).projections:
        level = tree
        for segment in getattr(projection, "segments", ()):
            level = level.setdefault(segment, {})
    return tree


def _show(value: Any, tree: dict[str, Any]) -> str:
    """What a query selected of an entity, references by what was selected of them."""
    if isinstance(value, (list, tuple)) or hasattr(value, "_items"):
        return "[" + ", ".join(_show(item, tree) for item in value) + "]"
    if hasattr(value, "entity_type"):
        shown = ", ".join(f"{name}={_show(value[name], below)}" for name, below in tree.items())
        return f"{value.entity_type}({shown})"
    return repr(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ftrack-like demo", description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="database URL (default: a new SQLite file in a temporary folder)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = options.database or f"sqlite:///{pathlib.Path(folder) / 'studio.db'}"
        started = time.perf_counter()
        with Backend.from_url(url) as backend, serving(backend) as server:
            key = backend.auth.create_key("admin", "demo")  # type: ignore[union-attr]
            print(f"Studio database {url} ({len(backend.schema.types)} entity types), "
                  f"served at {server} ({time.perf_counter() - started:.2f} s)")  # fmt: skip
            print("An API key for admin, named 'demo', and a Session over HTTP with it.")
            with Session(server_url=server, api_user="admin", api_key=key, schema_cache_path=False) as session:
                made = build_production(session)
                count = len(session.recorded_operations)
                start = time.perf_counter()
                session.commit()
                print(f"\nBuilt the production: {count} creates recorded, sent in one commit "
                      f"({time.perf_counter() - start:.2f} s)")  # fmt: skip
                for title, expression in TOUR:
                    print(f"\n{title}\n  {expression}")
                    selected = _selected(expression)
                    for entity in session.query(expression):
                        print(f"    {_show(entity, selected)}")
                calls = []
                send = session.transport.handle
                session.transport.handle = lambda batch: calls.append(batch) or send(batch)  # type: ignore[method-assign]
                shots = session.query("select name from Shot").all()
                statuses = sorted({shot["status"]["name"] for shot in shots})
                print(f"\nRead the status of {len(shots)} shots, never fetched: {len(calls) - 1} more round trip(s) "
                      f"for all of them -> {statuses}")  # fmt: skip
                shot = made["shots"][0]
                shot["custom_attributes"]["fps"] = 25
                shot["description"] = "hero shot"
                session.commit()
                print(f"Changed {shot['name']}: fps {shot['custom_attributes']['fps']}, description {shot['description']!r}")
                print("\nA commit with a mistake in it is refused whole, and says where:")
                session.create("Shot", {"name": "sq010_sh999", "parent": shot["parent"]})
                session.create("Task", {"name": "comp", "parent_id": "no-such-shot"})
                try:
                    session.commit()
                except ServerError as error:
                    print(f"  {error}")
                session.rollback()
                left = session.query('Shot where name is "sq010_sh999"').all()
                print(f"  after rollback: {len(left)} shots named sq010_sh999, {len(session.recorded_operations)} changes pending")
        print(f"\nDone in {time.perf_counter() - started:.2f} s.")
    return 0
