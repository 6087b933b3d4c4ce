"""ShotGrid's fields as our projections, our rows as ShotGrid records, and ShotGrid's values as ours.

A record is ``{"type": "Shot", "id": 12, "code": "sh010", "sg_sequence": {"type": "Sequence",
"id": 4, "name": "sq010"}, …}``: links are ``{"type", "id", "name"}``, ids integers
(:mod:`.ids`), datetimes ``2024-05-01T10:00:00Z`` in UTC, dates ``2024-05-01``, statuses
their short codes. A deep field (``entity.Shot.sg_sequence.Sequence.code``) is None unless
each entity on the way is of the type it names.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Iterator

from urllib.parse import quote

from ...engine.computed import BASE_URL, LINK_TOKEN

from ....exceptions import ValidationError
from . import paths
from .mapping import Field, Mapping, SgType
from .notes import NOTE_LINK
from .publishes import published, published_paths

__all__ = ["Records", "attachment_url", "attribute", "deep_fields", "entity_mentions", "sg_value"]


def entity_mentions(value: Any) -> Iterator[dict[str, Any]]:
    """Every entity in an engine answer ``value``, at any depth: each dict holding ``__entity_type__`` and ``id``."""
    waiting = [value]  # what is left to walk, next last (dicts and lists only: a scalar holds no entity)
    while waiting:
        item = waiting.pop()
        if isinstance(item, dict):
            if "__entity_type__" in item and "id" in item:
                yield item
            item = item.values()
        elif not isinstance(item, list):
            continue
        waiting.extend(reversed([v for v in item if isinstance(v, (dict, list))]))  # in the order met, as before


def deep_fields(field: str) -> list[str]:
    """``entity.Shot.code`` as [``entity``, ``Shot``, ``code``]; a plain field as [field]."""
    return field.split(".")


class Records:
    """Projections for fields, and records from the rows a query answered."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping

    # --- fields -> projections -----------------------------------------------------------------

    def projections(self, sg_type: SgType, fields: Iterable[str]) -> list[str]:
        """Our dotted projections that answer ``fields`` of ``sg_type`` (``id`` always)."""
        wanted = {"id"}
        for name in fields:
            if name == "type":
                continue
            wanted.update(self._paths(sg_type, deep_fields(name), ""))
        return sorted(wanted)

    def _paths(self, sg_type: SgType, parts: list[str], prefix: str) -> list[str]:
        field = sg_type.fields.get(parts[0])
        if field is None:
            if prefix:  # a deep field naming nothing: answered None, as ShotGrid does
                return []
            raise ValidationError(f"{sg_type.name}.{'.'.join(parts)} doesn't exist", "unknown_field")
        if len(parts) > 1:
            if field.kind != "entity" or len(parts) < 3 or parts[1] not in field.types:
                return []
            return self._paths(self.mapping.type(parts[1]), parts[2:], f"{prefix}{field.attr}.")
        return [prefix + p for p in self._field_paths(field)]

    def _field_paths(self, field: Field) -> list[str]:
        if field.kind == "id":
            return ["id"]
        if field.kind == "status":
            return ["status.name"]
        if field.kind == "metadata":
            return ["metadata.key", "metadata.value"]
        if field.kind == "thumbnail":  # its own, or (attr) that of the entity it names: a PublishedFile's version
            return [f"{field.attr}.thumbnail_url" if field.attr else "thumbnail_url"]
        if field.kind == "named":
            return [f"{field.attr}.name"]
        if field.kind == "full_name":
            return [*field.attrs, *((field.fallback,) if field.fallback else ())]
        if field.kind in ("password", "unserved"):
            return []
        if field.kind in ("path", "storage"):
            return list(paths.PROJECTIONS)
        if field.kind in ("publish", "publishes"):
            return published_paths(field)
        if field.kind == "file":
            return ["metadata.key", "metadata.value"] if field.key else ["name", "file_type"]
        if field.kind == "custom":
            return ["custom_attributes"]
        if field.kind == "grants":
            names = {n for t in field.types for n in self.name_attrs(self.mapping.type(t))}
            return [f"{field.attr}.{field.link}.project.{n}" for n in ("id", *sorted(names))]
        if field.kind == "multi_entity":
            prefix = f"{field.attr}.{field.link}." if field.link else f"{field.attr}."
            names = {n for t in field.types for n in self.name_attrs(self.mapping.type(t))}
            return [prefix + n for n in ("id", *sorted(names))]
        if field.kind == "note_links":
            return ["parent_id", "parent_type"]
        if field.kind == "entity":
            names = {n for t in field.types for n in self.name_attrs(self.mapping.type(t))}
            read = [f"{attr}.{n}" for attr in (field.attr, field.fallback) if attr for n in ("id", *sorted(names))]
            return [*read, "parent_id", "parent_type"] if field.through else read  # a note's project: through its parent
        return [field.attr]  # type: ignore[list-item]

    def name_attrs(self, sg_type: SgType) -> tuple[str, ...]:
        """Our attributes that give a link to ``sg_type`` its ``name`` (a HumanUser's first and last names, and its login;
        a Version's metadata, where its ``code`` is kept — read in the statement that reads the metadata telling it)."""
        named, told = sg_type.fields.get(sg_type.name_field), self.mapping.discriminators(sg_type.ours)
        if sg_type.named_by_metadata is not None:
            return tuple(dict.fromkeys(("metadata.key", "metadata.value", *told)))
        if named is not None and named.kind == "scalar":
            return (named.attr, *told)  # type: ignore[return-value, arg-type]
        if named is not None and named.kind == "full_name":
            return (*named.attrs, *((named.fallback,) if named.fallback else ()), *told)
        return told

    def link_name(self, sg_type: SgType, row: dict[str, Any]) -> Any:
        """The ``name`` of a link to ``row``, an entity of ``sg_type`` (None for a Task with no content; a Version's
        ``code``, from its metadata)."""
        named = sg_type.fields.get(sg_type.name_field)
        if named is None or (named.kind not in ("scalar", "full_name") and sg_type.named_by_metadata is None):
            return None
        return self.value(named, row, {})

    # --- rows -> records -----------------------------------------------------------------------

    def uuids(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        """Every entity in ``rows`` that ShotGrid names by a number: its uuid and our type."""
        found: dict[str, str] = {}
        for value in entity_mentions(rows):
            kind = value["__entity_type__"]
            if isinstance(kind, str) and isinstance(value["id"], str) and self.mapping.of_ours(kind) is not None:
                found[value["id"]] = kind
        return found

    def files(self, sg_type: SgType, rows: list[dict[str, Any]], fields: Iterable[str]) -> dict[str, str]:
        """The uploaded files (components of ours) ``rows``' file fields hold: their uuids and our type."""
        found: dict[str, str] = {}
        for name in fields:
            field = sg_type.fields.get(name)
            if field is not None and field.kind == "file":
                for row in rows:
                    kept = _file(field, row)
                    if kept is not None:
                        found[kept["id"]] = "FileComponent"
        return found

    def record(self, sg_type: SgType, row: dict[str, Any], fields: Iterable[str], numbers: dict[str, int]) -> dict[str, Any]:
        """The ShotGrid record of one row (``numbers``: uuid to integer id)."""
        return self.recorder(sg_type, fields)(row, numbers)

    def recorder(self, sg_type: SgType, fields: Iterable[str]) -> Callable[[dict[str, Any], dict[str, int]], dict[str, Any]]:
        """A function from a row and ``numbers`` to its record of ``fields``: what depends only on the fields (each
        deep field's way, each field's kind) worked out once for a page, not once a row. It serves the rows of one
        answer (a deep field's value is kept by the entity it is read from, while the rows hold them)."""
        type_name = sg_type.name
        getters = [(name, self._getter(sg_type, deep_fields(name))) for name in fields if name not in ("type", "id")]

        def record(row: dict[str, Any], numbers: dict[str, int]) -> dict[str, Any]:
            made = {"type": type_name, "id": numbers.get(row["id"])}
            for name, get in getters:
                made[name] = get(row, numbers)
            return made

        return record

    def _getter(self, sg_type: SgType, parts: list[str]) -> Callable[[dict[str, Any], dict[str, int]], Any]:
        """The value at ``parts`` (a field, or a deep field's way) from a row of ``sg_type`` as ShotGrid gives it."""
        field = sg_type.fields.get(parts[0])
        if field is None:
            return _none
        if len(parts) > 1:  # a deep field: None unless each entity on the way is of the type it names
            target = self.mapping.types.get(parts[1]) if len(parts) >= 3 else None
            if target is None:
                return _none
            inner, attr, ours = self._getter(target, parts[2:]), str(field.attr), target.ours
            plain = "." not in attr
            seen: dict[int, Any] = {}  # by linked entity: many rows link the few entities of a page

            def deep(row: dict[str, Any], numbers: dict[str, int]) -> Any:
                linked = row.get(attr) if plain else attribute(row, attr)
                if not isinstance(linked, dict) or linked.get("__entity_type__") != ours:
                    return None
                found = seen.get(id(linked), seen)
                if found is seen:
                    found = seen[id(linked)] = inner(linked, numbers)
                return found

            return deep
        if field.kind == "scalar" and field.blank is None and not field.values:
            attr, data_type = str(field.attr), field.data_type
            if "." not in attr:
                return lambda row, numbers: sg_value(row.get(attr), data_type)
        value = self.value
        return lambda row, numbers: value(field, row, numbers)

    def value(self, field: Field, row: dict[str, Any], numbers: dict[str, int]) -> Any:
        """``field``'s value in ``row`` as ShotGrid gives it."""
        if field.kind == "id":
            return numbers.get(row.get("id"))  # type: ignore[arg-type]
        if field.kind == "status":
            status = row.get("status")
            name = status.get("name") if isinstance(status, dict) else None
            return self.mapping.status_codes.get(name, name) if name is not None else None
        if field.kind == "metadata":
            for item in row.get("metadata") or ():
                if isinstance(item, dict) and item.get("key") == field.key:
                    return _typed(field, item.get("value"))
            return None
        if field.kind == "thumbnail":
            link = attribute(row, f"{field.attr}.thumbnail_url" if field.attr else "thumbnail_url")
            return link.get("url") if isinstance(link, dict) else None
        if field.kind == "named":
            linked = attribute(row, field.attr)  # type: ignore[arg-type]
            return linked.get("name") if isinstance(linked, dict) else None
        if field.kind == "full_name":  # the names joined, or (none) its fallback: a HumanUser's login
            return " ".join(str(row[a]) for a in field.attrs if row.get(a)) or (row.get(field.fallback) if field.fallback else None)
        if field.kind in ("password", "unserved"):
            return None
        if field.kind == "path":
            return paths.answer(field, row, numbers)
        if field.kind == "storage":
            return paths.storage(row, numbers)
        if field.kind in ("publish", "publishes"):
            return published(field, row, lambda item: self.link(item, numbers))
        if field.kind == "custom":
            for item in row.get("custom_attributes") or ():
                if isinstance(item, dict) and item.get("key") == field.key:
                    value = item.get("value")
                    return None if value == "" and field.data_type != "text" else value
            return None
        if field.kind == "file":
            kept = _file(field, row)
            number = numbers.get(kept["id"]) if kept else None
            if kept is None or number is None:
                return None
            return {"type": "Attachment", "id": number, "name": kept.get("name"), "url": attachment_url(number, kept["id"]),
                    "content_type": kept.get("content_type"), "link_type": "upload"}  # fmt: skip
        if field.kind == "grants":  # each project once, whichever role grants it
            granted = [self.link(item.get("project"), numbers) for role in row.get(field.attr) or ()  # type: ignore[arg-type]
                       for item in (role.get(field.link) or () if isinstance(role, dict) else ()) if isinstance(item, dict)]
            return list({g["id"]: g for g in granted if g is not None}.values())
        if field.kind == "multi_entity":
            items = [self.link(item.get(field.link) if field.link and isinstance(item, dict) else item, numbers)
                     for item in row.get(field.attr) or ()]  # type: ignore[arg-type]  # fmt: skip
            return [item for item in items if item is not None and item["type"] in field.types]
        if field.kind == "note_links":  # the note's parent, unless a project: found after the page (:mod:`.notes`)
            linked = row.get(NOTE_LINK)
            return [] if linked is None else [linked]
        if field.kind == "entity":
            for attr in (field.attr, field.fallback):
                linked = self.link(attribute(row, attr), numbers) if attr else None
                if linked is not None and linked["type"] in field.types:
                    return linked
            return None
        value = attribute(row, field.attr)  # type: ignore[arg-type]
        if field.blank is not None and value == field.blank:
            return None
        if field.values:
            return next((code for code, ours in field.values.items() if ours == value), None)
        return sg_value(value, field.data_type)

    def link(self, linked: Any, numbers: dict[str, int]) -> dict[str, Any] | None:
        """``{"type", "id", "name"}`` of a linked entity of ours (None: no link, or of a type not served)."""
        if not isinstance(linked, dict):
            return None
        target = self.mapping.of_ours(str(linked.get("__entity_type__")), linked)
        if target is None:
            return None
        return {"type": target.name, "id": numbers.get(linked.get("id")), "name": self.link_name(target, linked)}  # type: ignore[arg-type]


def _none(row: dict[str, Any], numbers: dict[str, int]) -> None:
    return None


def attachment_url(number: int, component: str) -> str:
    """Where an Attachment's file is downloaded from: a signed ``/component/get`` link when the request signs
    links (it needs no cookie), else ``/file_serve/attachment/<id>`` (with the ``_session_id`` cookie)."""
    base, sign = BASE_URL.get().rstrip("/"), LINK_TOKEN.get()
    if sign is not None:
        return f"{base}/component/get?id={component}&token={quote(sign(component))}"
    return f"{base}/file_serve/attachment/{number}"


def _file(field: Field, row: dict[str, Any]) -> dict[str, Any] | None:
    """``{"id": component uuid, "name", "content_type"}`` of a file field in ``row`` (None: no file)."""
    if not field.key:
        return {"id": row["id"], "name": f"{row.get('name') or ''}{row.get('file_type') or ''}", "content_type": None}
    for item in row.get("metadata") or ():
        if isinstance(item, dict) and item.get("key") == field.key and item.get("value"):
            try:
                kept = json.loads(item["value"])
            except ValueError:
                return None
            return kept if isinstance(kept, dict) and isinstance(kept.get("id"), str) else None
    return None


def attribute(row: Any, dotted: str) -> Any:
    """The value at ``asset.parent`` in a row (None where the way is broken)."""
    for name in dotted.split("."):
        if not isinstance(row, dict):
            return None
        row = row.get(name)
    return row


def sg_value(value: Any, data_type: str | None = None) -> Any:
    """A wire value of ours as ShotGrid's: datetimes ``…Z`` in UTC, dates (and ShotGrid's date fields) ``YYYY-MM-DD``."""
    if isinstance(value, dict) and value.get("__type__") in ("datetime", "date"):
        text = str(value.get("value"))
        if value["__type__"] == "date" or data_type == "date":
            return text[:10]
        return text[:19] + "Z"
    return value


def _typed(field: Field, text: Any) -> Any:
    if text is not None and field.data_type in ("checkbox", "tag_list"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    if text is None or field.data_type not in ("number", "float", "duration"):
        return text
    try:
        number = float(text)
    except (TypeError, ValueError):
        return text
    return int(number) if number.is_integer() and field.data_type != "float" else number
