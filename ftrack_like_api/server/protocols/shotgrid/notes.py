"""A ShotGrid Note's ``note_links`` as ftrack keeps such a note: on one parent.

ftrack's note hangs under one entity (``parent_id`` and ``parent_type``, of any type: a
version, a shot, a task, a project); a ShotGrid note links a list of them and names its
project apart. A ``note_links`` given is the note's parent (its first and only entity: more is
refused, naming the field, as a note of ours has one parent), so our Session sees the note in
that entity's ``notes``; a note with none stays on its ``project``. Read, ``note_links`` is
the parent unless it is a project (``[]`` then): the parents of a page's notes are read after
the page, one statement per type of ours, with their names (:func:`fill_note_links`).
"""

from __future__ import annotations

from typing import Any, Callable

from ....exceptions import ValidationError

from ....query import ast, render
from .mapping import Mapping, SgType

__all__ = ["NOTE_LINK", "fill_note_links", "moved", "placed_on"]

#: Where a Note row gets its ``note_links`` entity, ``{"type", "id", "name"}``, once the page is read.
NOTE_LINK = "__shotgrid_note_link__"


def fill_note_links(
    mapping: Mapping,
    sg_type: SgType,
    rows: list[dict[str, Any]],
    fields: list[str],
    query: Callable[[str], list[dict[str, Any]]],
    name_attrs: Callable[[SgType], tuple[str, ...]],
    link_name: Callable[[SgType, dict[str, Any]], Any],
    numbers: Callable[[dict[str, str]], dict[str, int]],
) -> dict[str, int]:
    """Give each Note row whose ``note_links`` is asked its parent's link (``NOTE_LINK``), and each whose ``project``
    is asked, on an entity not a project, that entity's project (as its ``parent``, which reads as the project);
    the numbers of the entities found, by uuid."""
    links = next((f for f in sg_type.fields.values() if f.kind == "note_links"), None)
    project = sg_type.fields.get("project")
    through = project.through if project is not None and project.name in fields else {}
    if links is None or (links.name not in fields and not through):
        return {}
    linked_types = {mapping.type(t).ours: mapping.type(t) for t in links.types}
    named = list(name_attrs(mapping.type("Project")))
    wanted: dict[str, set[str]] = {}
    for row in rows:
        kind, key = row.get("parent_type"), row.get("parent_id")
        if kind in linked_types and isinstance(key, str):
            wanted.setdefault(kind, set()).add(key)
    found: dict[str, tuple[SgType, Any, str, Any]] = {}
    for kind, keys in wanted.items():
        linked = linked_types[kind]
        way = through.get(kind, through.get("TypedContext")) if through else None
        paths = (ast.Path.of("id"), *(ast.Path.of(n) for n in name_attrs(linked)),
                 *((ast.Path.of(f"{way}.{n}") for n in ("id", *named)) if way else ()))  # fmt: skip
        where = ast.Membership(ast.Path.of("id"), tuple(ast.Literal(k) for k in sorted(keys)))
        for parent in query(render(ast.Query(linked.ours, paths, linked.scoped(where)))):
            found[parent["id"]] = (linked, link_name(linked, parent), kind, _at(parent, way) if way else None)
    entities = {key: kind for key, (_, _, kind, _) in found.items()}
    entities.update({p["id"]: "Project" for (_, _, _, p) in found.values() if isinstance(p, dict)})
    known = numbers(entities) if entities else {}
    for row in rows:
        on = found.get(str(row.get("parent_id")))
        if on is None:
            continue
        if links.name in fields:
            row[NOTE_LINK] = {"type": on[0].name, "id": known[row["parent_id"]], "name": on[1]}
        if through and project is not None:
            row[str(project.attr)] = on[3]
    return known


def _at(row: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        row = row.get(name) if isinstance(row, dict) else None
    return row


def moved(
    sg_type: SgType,
    data: dict[str, Any],
    mode: str,
    current: Callable[[], tuple[str | None, str | None, str | None]],
    uuid_of: Callable[[SgType, Any], str],
    mapping: Mapping,
) -> dict[str, Any] | None:
    """An update's ``note_links`` as one parent allows: our parent's columns to write (None: as a ``set``, by
    :class:`.values.Values`). ``current()`` is (the note's parent, its type of ours, the project it is in).
    ``add`` links the note when it links none (the same entity again: no change); ``remove`` of the entity it links,
    or a ``set`` to none, puts it back on its project."""
    field = sg_type.fields.get("note_links")
    value = data.get("note_links")
    if field is None or field.kind != "note_links" or "note_links" not in data:
        return None
    where = f"{sg_type.name}.note_links"
    if not isinstance(value, list):
        raise ValidationError(f"{where} takes a list of {{'type', 'id'}}, not {value!r}", "bad_value")
    if mode == "set" and value:
        return None
    parent, kind, project = current()
    linking = kind is not None and kind != "Project"
    if mode == "add":
        if not linking:
            return None
        keys = [uuid_of(mapping.type(v.get("type")), v.get("id")) for v in value if isinstance(v, dict)]
        if any(k != parent for k in keys):
            raise ValidationError(f"{where} links one entity here (a note has one parent, as ftrack's): set it to "
                                  "move the note, or remove the one it links first", "bad_value")  # fmt: skip
        return {}
    if mode == "remove":
        keys = [uuid_of(mapping.type(v.get("type")), v.get("id")) for v in value if isinstance(v, dict)]
        if not linking or parent not in keys:
            return {}
    elif mode != "set":
        raise ValidationError(f"{where}: multi_entity_update_mode is one of set, add, remove, not {mode!r}", "bad_value")
    return {"parent_id": project, "parent_type": "Project"} if linking else {}


def placed_on(sg_type: SgType, key: str, query: Callable[[str], list[dict[str, Any]]]) -> tuple[str | None, str | None, str | None]:
    """(the parent of our note ``key``, its type of ours, the project the note is in): a statement, and one more for a
    note on an entity (its project, through the way ``project`` reads it)."""
    row = query(render(ast.Query("Note", (ast.Path.of("parent_id"), ast.Path.of("parent_type")), _among(key))))[0]
    parent, kind = row.get("parent_id"), row.get("parent_type")
    project = sg_type.fields.get("project")
    if kind == "Project" or parent is None or project is None or not project.through:
        return parent, kind, parent
    way = project.through.get(str(kind), project.through.get("TypedContext"))
    found = query(render(ast.Query(str(kind), (ast.Path.of(f"{way}.id"),), _among(parent))))
    return parent, kind, _at(found[0], f"{way}.id") if found else None


def _among(key: str) -> ast.Expression:
    return ast.Comparison(ast.Path.of("id"), ast.Operator.IS, ast.Literal(key))
