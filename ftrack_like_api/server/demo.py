"""A demo studio on the embedded backend: ``python -m ftrack_like_api.server``.

Builds a small production (a project, sequences, shots, tasks, artists, assignments, an
asset with versions, a note, metadata and a custom attribute) in one batch on a new
SQLite database, then tours it with queries, prints what each step does, and shows
that a batch with a mistake in it is refused whole and says where.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time
import uuid
from typing import Any, Sequence

from .backend import Backend

__all__ = ["build_production", "main"]


def _create(entity_type: str, /, **data: Any) -> dict[str, Any]:
    data.setdefault("id", str(uuid.uuid4()))
    return {"action": "create", "entity_type": entity_type, "entity_key": [data["id"]], "entity_data": data}


def _id(operation: dict[str, Any]) -> str:
    return operation["entity_key"][0]


def build_production(backend: Backend) -> list[dict[str, Any]]:
    """The operations of one batch that creates the demo production."""
    lookup = backend.execute(
        [
            {"action": "query", "expression": "select name from ProjectSchema"},
            {"action": "query", "expression": "select name from Type"},
            {"action": "query", "expression": "select name from Status"},
            {"action": "query", "expression": 'select name from CustomAttributeType where name is "number"'},
            {"action": "query", "expression": 'select short from AssetType where short is "comp"'},
        ],
        "admin",
    )
    schema_id = lookup[0]["data"][0]["id"]
    types = {t["name"]: t["id"] for t in lookup[1]["data"]}
    statuses = {s["name"]: s["id"] for s in lookup[2]["data"]}
    number, comp = lookup[3]["data"][0]["id"], lookup[4]["data"][0]["id"]
    operations = []
    project = _create("Project", name="demo", full_name="The Demo", project_schema_id=schema_id)
    operations.append(project)
    artists = {name: _create("User", username=name, first_name=name.title()) for name in ("jo", "sam", "kit")}
    operations += artists.values()
    fps = _create("CustomAttributeConfiguration", key="fps", label="FPS", entity_type="task", type_id=number)
    operations.append(fps)
    work = [("Compositing", "comp", "jo"), ("Animation", "anim", "sam"), ("Lighting", "light", "kit")]
    progress = ["Approved", "In progress", "Not started"]
    for s, sequence_name in enumerate(("sq010", "sq020")):
        sequence = _create("Sequence", name=sequence_name, parent_id=_id(project))
        operations.append(sequence)
        for h in range(3):
            shot = _create("Shot", name=f"{sequence_name}_sh{(h + 1) * 10:03d}", parent_id=_id(sequence))
            operations.append(shot)
            operations.append({"action": "create", "entity_type": "ContextCustomAttributeValue",
                               "entity_key": [_id(fps), _id(shot)],
                               "entity_data": {"configuration_id": _id(fps), "entity_id": _id(shot), "value": 24}})  # fmt: skip
            for t, (task_type, task_name, artist) in enumerate(work):
                status = statuses[progress[(s + h + t) % 3]]
                task = _create("Task", name=task_name, parent_id=_id(shot), type_id=types[task_type],
                               status_id=status, bid=[2.0, 5.0, 3.0][t])  # fmt: skip
                operations.append(task)
                operations.append(_create("Appointment", type="assignment", context_id=_id(task),
                                          resource_id=_id(artists[artist])))  # fmt: skip
                if task_name == "comp":
                    asset = _create("Asset", name=f"{shot['entity_data']['name']}_comp", context_id=_id(shot), type_id=comp)
                    operations.append(asset)
                    operations += [_create("AssetVersion", asset_id=_id(asset), task_id=_id(task)) for _ in range(2)]
    operations.append(_create("Note", content="Lovely sky, warmer please.", parent_id=_id(project), parent_type="Project"))
    operations.append({"action": "create", "entity_type": "Metadata", "entity_key": [_id(project), "client"],
                       "entity_data": {"parent_id": _id(project), "key": "client", "value": "Acme Pictures"}})  # fmt: skip
    return operations


TOUR = [
    ("Tasks still to start, with who is assigned",
     'select name, parent.name, assignments.resource.username from Task '
     'where status.state.short is NOT_STARTED order by parent.name, name'),
    ("Shots of sq010 that are not omitted", 'select name from Shot where parent.name is "sq010" and '
     'not status.name like "%Omit%" order by name'),
    ("Task counts and bids by status", "select count(id), sum(bid), status.name from Task group by status.name "
     "order by status.name"),
    ("Tasks assigned to jo", 'select name, parent.name from Task where assignments any (resource.username is "jo")'),
    ("Shots at 24 fps", 'select name from Shot where custom_attributes any (key is "fps" and value is 24) limit 3'),
    ("Versions of comp assets", "select version, asset.name from AssetVersion where asset.name like \"%comp\" "
     "order by asset.name, version limit 4"),
    ("Everything in the project, each as its own type", 'select name from TypedContext where project.name is demo '
     'and not object_type.name is "Task" order by name'),
]  # fmt: skip


_HIDDEN = ("__entity_type__", "id", "context_type", "object_type_id", "project_id", "asset_id", "context_id",
           "resource_type")


def _entities(value: Any, found: dict[tuple[str, Any], dict[str, Any]]) -> None:
    """Collect every full encoding in an answer, by type and id."""
    if isinstance(value, list):
        for item in value:
            _entities(item, found)
    elif isinstance(value, dict):
        if "__entity_type__" in value and len(value) > 2:
            found.setdefault((value["__entity_type__"], value.get("id")), value)
        for item in value.values():
            _entities(item, found)


def _describe(value: Any, full: dict[tuple[str, Any], dict[str, Any]]) -> str:
    """An entity as a person reads it; a reference shows the entity it refers to."""
    if isinstance(value, list):
        return "[" + ", ".join(_describe(item, full) for item in value) + "]"
    if isinstance(value, dict) and "__entity_type__" in value:
        entity = full.get((value["__entity_type__"], value.get("id")), value)
        shown = ", ".join(f"{k}={_describe(v, full)}" for k, v in entity.items() if k not in _HIDDEN)
        return f"{entity['__entity_type__']}({shown})"
    return repr(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftrack_like_api.server", description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="database URL (default: a new SQLite file in a temporary directory)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        url = options.database or f"sqlite:///{pathlib.Path(directory) / 'studio.db'}"
        start = time.perf_counter()
        backend = Backend.from_url(url)
        print(f"Opened {url}: {len(backend.schema.types)} entity types, seeded "
              f"({time.perf_counter() - start:.2f} s)")  # fmt: skip
        try:
            operations = build_production(backend)
            start = time.perf_counter()
            answer = backend.execute(operations, "admin")
            if not isinstance(answer, list):
                print(f"The demo production was refused: {answer['content']}", file=sys.stderr)
                return 1
            print(f"Created the demo production: {len(operations)} operations in one batch, "
                  f"{time.perf_counter() - start:.2f} s")  # fmt: skip
            for title, expression in TOUR:
                result = backend.execute([{"action": "query", "expression": expression}], "admin")
                print(f"\n{title}\n  {expression}")
                rows = result[0]["data"]  # type: ignore[index]
                full: dict[tuple[str, Any], dict[str, Any]] = {}
                _entities(rows, full)
                for row in rows:
                    print(f"    {_describe(row, full) if '__entity_type__' in row else row}")
            print("\nA batch with a mistake is refused whole, and says where:")
            shot = _create("Shot", name="sq010_sh999", parent_id=_id(operations[0]))
            broken = [shot, _create("Task", name="comp", parent_id=_id(shot), bid="a lot")]
            print(f"  {backend.execute(broken, 'admin')['content']}")  # type: ignore[index]
            left = backend.execute([{"action": "query", "expression": 'Shot where name is "sq010_sh999"'}], "admin")
            print(f"  Shots named sq010_sh999 afterwards: {len(left[0]['data'])}")  # type: ignore[index]
        finally:
            backend.close()
    return 0
