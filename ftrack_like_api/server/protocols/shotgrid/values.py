"""ShotGrid's values for a create or update as our entity's data (the writer's input).

A link ``{"type": "Sequence", "id": 4}`` becomes the uuid in our reference's column, a
status code our status's id, a name (``sg_asset_type: "Prop"``) the id of what has that
name, a date or datetime our wire value; what our model has no place for goes to the
entity's metadata (:mod:`.mapping`). Project-level parents: a Shot given a ``project`` and
no ``sg_sequence`` is a child of the project. Multi-entity links and passwords are written
once the entity exists: :meth:`Values.ours` hands them back as *later* (:mod:`.writes`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Callable, Mapping as MappingType

from ....exceptions import ValidationError
from ....query import ast, render
from ....schema import Schema
from .mapping import Field, Mapping, SgType

__all__ = ["ASSET_PARENT", "Values", "wire"]

#: Where :meth:`Values.ours` puts what a Version's asset hangs under (the caller finds or makes the asset).
ASSET_PARENT = "__asset_parent__"

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Values:
    """Turns ShotGrid's field values into our entity data, on one batch."""

    def __init__(self, mapping: Mapping, schema: Schema) -> None:
        self.mapping, self.schema = mapping, schema

    def ours(
        self,
        sg_type: SgType,
        data: MappingType[str, Any],
        uuid_of: Callable[[SgType, Any], str],
        find: Callable[[str], Any],
        creating: bool,
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, tuple[Any, Any]]]:
        """(our entity data, metadata by key, what is written after the entity: {field name: (field, value)})
        for ``data``.

        ``uuid_of(type, number)`` is the uuid of a linked entity (an error when none);
        ``find(query text)`` the id of the one row a query names, or None.
        """
        entity: dict[str, Any] = {}
        metadata: dict[str, str] = {}
        later: dict[str, tuple[Any, Any]] = {}
        parent_set = False
        project_parent: Any = None
        note_parent: dict[str, Any] = {}
        for name, value in data.items():
            field = sg_type.field(name)
            where = f"{sg_type.name}.{name}"
            if field.kind == "id" or field.read_only:
                raise ValidationError(f"{where} is not editable", "read_only")
            if field.kind == "thumbnail":
                if value is not None:
                    raise ValidationError(f"{where} is set by upload_thumbnail; here it takes None (no thumbnail)", "bad_value")
                if field.attr:
                    raise ValidationError(f"{where} is its {field.attr}'s thumbnail: set by upload_thumbnail", "read_only")
                entity["thumbnail_id"] = None
            elif field.kind == "metadata":
                metadata[str(field.key)] = None if value is None else _text(value, field.data_type)  # type: ignore[assignment]
            elif field.kind == "file":
                if value is not None or not field.key:
                    raise ValidationError(f"{where} is set by upload; here it takes None (no file)", "bad_value")
                metadata[field.key] = None  # type: ignore[assignment]
            elif field.kind == "full_name":
                if not (value is None or isinstance(value, str)):
                    raise ValidationError(f"{where} takes text, not {value!r}", "bad_value")
                first, _, rest = (value or "").strip().partition(" ")
                for attr, part in zip(field.attrs, (first, rest.strip())):
                    entity.setdefault(attr, part)
            elif field.kind in ("password", "custom"):
                later[name] = (field, value)
            elif field.kind == "path":
                later[name] = (field, self._path(value, uuid_of, where))
            elif field.kind in ("multi_entity", "grants", "publishes"):
                if not isinstance(value, list):
                    raise ValidationError(f"{where} takes a list of {{'type', 'id'}}, not {value!r}", "bad_value")
                later[name] = (field, [self._link(field, v, uuid_of, where) for v in value])
            elif field.kind == "note_links":  # ftrack's note has one parent: the first link is it
                note_parent = self._note_parent(field, value, uuid_of, where)
                parent_set = parent_set or bool(note_parent)
            elif field.kind == "publish":  # the version of the PublishedFile named (ftrack links versions)
                component = self._link(field, value, uuid_of, where)
                holding = ast.Relation(ast.Path.of("components"), ast.Quantifier.ANY,
                                       ast.Comparison(ast.Path.of("id"), ast.Operator.IS, ast.Literal(component)))  # fmt: skip
                entity[self._column(sg_type, field)] = None if component is None else self._named_by(
                    find, ast.Query("AssetVersion", (ast.Path.of("id"),), holding), f"{where}: its file is on no version")
            elif field.kind == "status":
                entity["status_id"] = None if value is None else self._named(find, "Status", self.mapping.status_name(value), where)
            elif field.kind == "named":
                entity[self._column(sg_type, field)] = None if value is None else self._named(find, field.target, value, where)  # type: ignore[arg-type]
            elif field.kind == "entity":
                linked = self._link(field, value, uuid_of, where)
                if linked is not None:
                    entity.update(field.sets)
                if field.parent:
                    project_parent = linked
                    continue
                if "." in field.attr:  # type: ignore[operator]  # through the entity's asset (Version.entity)
                    entity[ASSET_PARENT] = linked
                    parent_set = True
                    continue
                column = self._column(sg_type, field)
                parent_set = parent_set or column == "parent_id"
                entity[column] = linked
            elif field.values:
                if value not in field.values:
                    raise ValidationError(f"{where} is one of {', '.join(field.values)}, not {value!r}", "bad_value")
                entity[field.attr] = field.values[value]  # type: ignore[index]
            elif field.blank is not None and (value is None or (isinstance(value, str) and not value.strip())):
                entity[field.attr] = field.blank  # type: ignore[index]
            else:
                entity[field.attr] = wire(value, self.schema[sg_type.ours].attributes[field.attr].type)  # type: ignore[index]
        if creating:
            for name in data:
                field = sg_type.fields[name]
                if field.also and field.also not in entity:
                    entity[field.also] = entity.get(field.attr)  # type: ignore[arg-type]
            for field in sg_type.fields.values():
                if field.blank is not None and field.attr not in entity:
                    entity[field.attr] = field.blank  # type: ignore[index]
        entity.update(note_parent)  # after the loop: a ``project`` given beside it sets no parent_type over it
        if project_parent is not None and not parent_set:
            entity[ASSET_PARENT if sg_type.asset else "parent_id"] = project_parent
        if creating:
            for attr, spec in sg_type.defaults.items():
                if attr not in entity and f"{attr}_id" not in entity:
                    entity[f"{attr}_id"] = self._named(find, spec["__entity_type__"], spec["name"], sg_type.name)
        return entity, metadata, later

    def _path(self, value: Any, uuid_of: Callable[[SgType, Any], str], where: str) -> Any:
        """A ``path`` as where the file lies: ``{"location": our Location's id or None (``ftrack.unmanaged``),
        "resource_identifier"}`` (None: no file)."""
        if value is None:
            return None
        if isinstance(value, dict) and isinstance(value.get("relative_path"), str) and value["relative_path"].strip():
            storage = value.get("local_storage")
            if not isinstance(storage, dict) or storage.get("type") != "LocalStorage":
                raise ValidationError(f"{where}: a relative_path is within a local_storage {{'type': 'LocalStorage', 'id'}}, "
                                      f"not {storage!r}", "bad_value")  # fmt: skip
            return {"location": uuid_of(self.mapping.type("LocalStorage"), storage.get("id")),
                    "resource_identifier": value["relative_path"].strip().lstrip("/")}  # fmt: skip
        if isinstance(value, dict) and isinstance(value.get("local_path"), str) and value["local_path"].strip():
            return {"location": None, "resource_identifier": value["local_path"].strip(), "local": True}
        if isinstance(value, dict) and isinstance(value.get("url"), str) and value["url"].strip():
            url = value["url"].strip()  # a file:// url is its local path; another is kept as it is
            local = urllib.parse.unquote(urllib.parse.urlparse(url).path) if url.startswith("file:") else None
            return {"location": None, "resource_identifier": local or url, "local": local is not None}
        raise ValidationError(f"{where} takes {{'local_path'}}, {{'relative_path', 'local_storage'}}, {{'url'}} or None, "
                              f"not {value!r}", "bad_value")  # fmt: skip

    def _note_parent(self, field: Field, value: Any, uuid_of: Callable[[SgType, Any], str], where: str) -> dict[str, Any]:
        """A Note's ``note_links`` as its parent: the one entity linked (none: the note stays on its project)."""
        if value is None:
            value = []
        if not isinstance(value, list):
            raise ValidationError(f"{where} takes a list of {{'type', 'id'}}, not {value!r}", "bad_value")
        if len(value) > 1:
            raise ValidationError(f"{where} holds one entity here (a note has one parent, as ftrack's), not {len(value)}: "
                                  "link the others from a note of their own", "bad_value")  # fmt: skip
        if not value:
            return {}
        linked = self._link(field, value[0], uuid_of, where)
        return {"parent_id": linked, "parent_type": self.mapping.type(value[0]["type"]).ours}

    def _column(self, sg_type: SgType, field: Field) -> str:
        attribute = self.schema[sg_type.ours].attributes[field.attr]  # type: ignore[index]
        if field.parent:
            return "parent_id"
        return attribute.via[0] if attribute.via else f"{field.attr}_id"

    def _link(self, field: Field, value: Any, uuid_of: Callable[[SgType, Any], str], where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, dict) or "type" not in value or "id" not in value:
            raise ValidationError(f"{where} takes {{'type', 'id'}} or None, not {value!r}", "bad_value")
        if value["type"] not in field.types:
            raise ValidationError(f"{where} links to {', '.join(field.types)}, not {value['type']!r}", "bad_value")
        return uuid_of(self.mapping.type(value["type"]), value["id"])

    @staticmethod
    def _named_by(find: Callable[[str], Any], query: ast.Query, missing: str) -> str:
        found = find(render(query))
        if found is None:
            raise ValidationError(missing, "bad_value")
        return found  # type: ignore[no-any-return]

    @staticmethod
    def _named(find: Callable[[str], Any], ours: str, name: Any, where: str) -> str:
        query = ast.Query(ours, (ast.Path.of("id"),), ast.Comparison(ast.Path.of("name"), ast.Operator.IS, ast.Literal(name)))
        found = find(render(query))
        if found is None:
            raise ValidationError(f"{where}: there is no {ours} called {name!r}", "bad_value")
        return found


def _text(value: Any, data_type: str | None) -> str:
    """A value kept in metadata as text: JSON for checkboxes and tag lists, the value's text otherwise."""
    if data_type in ("checkbox", "tag_list") or isinstance(value, (list, dict, bool)):
        return json.dumps(value)
    return str(value)


def wire(value: Any, kind: str | None) -> Any:
    """A ShotGrid date or datetime as our wire value for an attribute of ``kind`` (a date is midnight UTC)."""
    if isinstance(value, str) and kind in ("datetime", "date"):
        if _DATETIME.match(value):
            return {"__type__": kind, "value": value[:19] + "+00:00" if kind == "datetime" else value[:10]}
        if _DATE.match(value):
            return {"__type__": kind, "value": value + "T00:00:00+00:00" if kind == "datetime" else value}
    return value
