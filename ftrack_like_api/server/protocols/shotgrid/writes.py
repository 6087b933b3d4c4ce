"""What a create or update writes beside the entity's own row, in the batch's transaction.

- metadata entries: the fields our model has no place for (``sg_cut_in``)
- the Asset a Version of ours hangs under: found, or made, under the linked entity
- multi-entity links (``Task.task_assignees``, ``Playlist.versions``): rows of the field's
  ``through`` type (an Appointment, a ListObject), set, added or removed as
  ``multi_entity_update_mode`` says
- a HumanUser's ``password_proxy``: the user's password (its sign-in tokens end with the old one)
- an uploaded file (a thumbnail, an attachment): a FileComponent in the server location
- custom attribute values (the ``sg_*`` fields ``schema_field_create`` made: :mod:`.custom`)
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from ....exceptions import ValidationError
from ....query import ast, render
from ....symbol import SERVER_LOCATION_ID
from ...auth.credentials import hash_password
from ...engine.batch import BatchContext
from . import paths
from .mapping import Field, SgType

__all__ = ["Writes", "among"]

#: How a multi-entity field's links change on update: set (the default), add or remove.
MODES = ("set", "add", "remove")


def among(keys: Any) -> ast.Membership:
    """``id in (…keys)``."""
    return ast.Membership(ast.Path.of("id"), tuple(ast.Literal(k) for k in keys))


def _is(path: str, value: Any) -> ast.Comparison:
    return ast.Comparison(ast.Path.of(path), ast.Operator.IS, ast.Literal(value))


class Writes:
    """The writes beside an entity's row, over one backend; ``check(batch, action, type)`` checks permissions."""

    def __init__(self, backend: Any, check: Callable[[BatchContext, str, str], None], custom: Any) -> None:
        self.backend, self.check, self.custom = backend, check, custom

    def rows(self, batch: BatchContext, query: ast.Query) -> list[dict[str, Any]]:
        return self.backend.reader.query(batch.connection, render(query))["data"]  # type: ignore[no-any-return]

    def first_id(self, batch: BatchContext, text: str) -> Any:
        """The id of the first row a query of ours finds, or None."""
        rows = self.backend.reader.query(batch.connection, text)["data"]
        return rows[0]["id"] if rows else None

    def later(self, batch: BatchContext, sg_type: SgType, key: str, later: dict[str, tuple[Field, Any]],
              modes: dict[str, Any], creating: bool) -> None:  # fmt: skip
        """Write what comes once the entity exists: multi-entity links, passwords and custom attributes."""
        self.custom.write(batch, sg_type, key, {f.key: v for f, v in later.values() if f.kind == "custom"})
        for name, (field, value) in later.items():
            if field.kind == "custom":
                continue
            if field.kind == "password":
                self.password(batch, key, value, f"{sg_type.name}.{name}")
            elif field.kind == "path":
                self.path(batch, field, key, value, creating, f"{sg_type.name}.{name}")
            elif field.kind == "publishes":
                self.files_onto(batch, key, value, "set" if creating else modes.get(name) or "set", f"{sg_type.name}.{name}")
            elif field.kind == "grants":
                self.grants(batch, key, value, "set" if creating else modes.get(name) or "set", f"{sg_type.name}.{name}")
            else:
                mode = modes.get(name) or "set"
                if mode not in MODES:
                    raise ValidationError(f"{sg_type.name}.{name}: multi_entity_update_mode is one of "
                                          f"{', '.join(MODES)}, not {mode!r}", "bad_value")  # fmt: skip
                self.links(batch, field, key, value, "set" if creating else mode)

    def links(self, batch: BatchContext, field: Field, key: str, targets: list[str], mode: str) -> None:
        """Set, add or remove the links of ``key``'s multi-entity ``field`` to ``targets`` (uuids)."""
        through = field.through
        kind, source, target, data = through["type"], through["from"], through["to"], dict(through.get("data", {}))
        where = [_is(source, key), *(_is(name, value) for name, value in data.items())]
        condition = where[0] if len(where) == 1 else ast.And(tuple(where))
        existing = self.rows(batch, ast.Query(kind, (ast.Path.of("id"), ast.Path.of(target)), condition))
        have: dict[str, list[str]] = {}
        for row in existing:
            have.setdefault(row[target], []).append(row["id"])
        wanted = list(dict.fromkeys(targets))
        if mode == "remove":
            gone = [row_id for linked in wanted for row_id in have.get(linked, ())]
            added: list[str] = []
        elif mode == "add":
            gone, added = [], [linked for linked in wanted if linked not in have]
        else:
            gone = [row_id for linked, ids in have.items() if linked not in wanted for row_id in ids]
            added = [linked for linked in wanted if linked not in have]
        if gone:
            self.check(batch, "delete", kind)
            for row_id in gone:
                self.backend.writer.delete(batch, kind, [row_id])
        for linked in added:
            self.check(batch, "create", kind)
            self.backend.writer.create(batch, kind, {"__entity_type__": kind, "id": str(uuid.uuid4()), source: key,
                                                     target: linked, **data})  # fmt: skip

    def files_onto(self, batch: BatchContext, version: str, components: list[str], mode: str, where: str) -> None:
        """A Version's ``published_files`` set or added: each file moves onto the version (ftrack keeps a file on
        one version). Removing is refused: a file needs a version to hang under."""
        if mode not in ("set", "add"):
            raise ValidationError(f"{where}: files are set or added here (each moves onto this version), not {mode!r}: "
                                  "set another version on the PublishedFile instead", "bad_value")  # fmt: skip
        for component in dict.fromkeys(components):
            self.check(batch, "update", "FileComponent")
            self.backend.writer.update(batch, "FileComponent", [component], {"version_id": version})

    def grants(self, batch: BatchContext, user: str, projects: list[str], mode: str, where: str) -> None:
        """Set, add or remove the projects ``user`` is granted (our roles' project grants, as ``ftrack-like user
        grant`` / ``revoke`` change them): administrators only; a user granted some projects sees only those."""
        if mode not in MODES:
            raise ValidationError(f"{where}: multi_entity_update_mode is one of {', '.join(MODES)}, not {mode!r}", "bad_value")
        self.check(batch, "update", "User")  # another user: administrators only
        roles, connection = self.backend.auth.roles, batch.connection
        held = {row["project_id"] for row in self.rows(batch, ast.Query(
            "UserSecurityRoleProject", (ast.Path.of("project_id"),), _is("user_security_role.user_id", user)))}  # fmt: skip
        wanted = list(dict.fromkeys(projects))
        gone = [p for p in wanted if p in held] if mode == "remove" else [] if mode == "add" else [p for p in held if p not in wanted]
        for project in gone:
            roles.revoke(connection, user, project)
        for project in (p for p in wanted if p not in held) if mode != "remove" else ():
            roles.grant(connection, user, project, None)

    def component(self, batch: BatchContext, component: str, name: str, file_type: str, size: int,
                  version: str | None = None) -> None:  # fmt: skip
        """A file already kept by the store as a FileComponent of ours in the server location (of a version's, if given)."""
        for kind in ("FileComponent", "ComponentLocation"):
            self.check(batch, "create", kind)
        writer = self.backend.writer
        writer.create(batch, "FileComponent", {"__entity_type__": "FileComponent", "id": component, "name": name,
                                               "file_type": file_type, "size": size, "version_id": version})  # fmt: skip
        writer.create(batch, "ComponentLocation", {"__entity_type__": "ComponentLocation", "id": str(uuid.uuid4()),
                                                   "component_id": component, "location_id": SERVER_LOCATION_ID,
                                                   "resource_identifier": component})  # fmt: skip

    def path(self, batch: BatchContext, field: Field, key: str, value: Any, creating: bool, where: str) -> None:
        """A component's file where it lies (``Values._path``): its resource identifier in a location of ours, the one
        a ``relative_path`` is within or ``field.key`` (``ftrack.unmanaged``). An update replaces where it was in the
        places a path can name (``field.key`` and the locations with a root); the server's, ``ftrack.origin``,
        ``ftrack.review`` and a studio's own locations keep theirs. None removes it from those places."""
        writer = self.backend.writer
        if not creating:
            places = tuple(ast.Literal(place) for place in sorted({str(field.key), *self.roots(batch)}))
            condition = ast.And((_is("component_id", key), ast.Membership(ast.Path.of("location_id"), places)))
            for row in self.rows(batch, ast.Query("ComponentLocation", (ast.Path.of("id"),), condition)):
                self.check(batch, "delete", "ComponentLocation")
                writer.delete(batch, "ComponentLocation", row["id"])
        if value is not None:
            location, identifier = value["location"], value["resource_identifier"]
            if location is None and value.get("local"):  # under a LocalStorage's root: kept there, by its path under it
                location, identifier = paths.within(identifier, self.roots(batch)) or (None, identifier)
            self.check(batch, "create", "ComponentLocation")
            writer.create(batch, "ComponentLocation", {"__entity_type__": "ComponentLocation", "id": str(uuid.uuid4()),
                                                       "component_id": key, "location_id": location or field.key,
                                                       "resource_identifier": identifier})  # fmt: skip

    def roots(self, batch: BatchContext) -> dict[str, dict[str, Any]]:
        """Our locations with a root (a LocalStorage's ``linux_path`` …): their metadata, by their ids (once a batch)."""
        def read() -> dict[str, dict[str, Any]]:
            keys = tuple(ast.Literal(k) for k, _ in paths.ROOTS)
            condition = ast.Relation(ast.Path.of("metadata"), ast.Quantifier.ANY, ast.Membership(ast.Path.of("key"), keys))
            rows = self.rows(batch, ast.Query("Location", (ast.Path.of("metadata.key"), ast.Path.of("metadata.value")), condition))
            return {row["id"]: {m["key"]: m["value"] for m in row.get("metadata") or ()} for row in rows}

        return batch.remember(("shotgrid roots",), read)  # type: ignore[no-any-return]

    def password(self, batch: BatchContext, user_id: str, password: Any, where: str) -> None:
        """Set (or, with None, remove) a user's password in the batch's transaction; their sign-ins end."""
        auth = self.backend.auth
        if password is not None and (not isinstance(password, str) or len(password) < 8):
            raise ValidationError(f"{where}: a password is a text of at least 8 characters", "weak_password")
        self.check(batch, "update", "User")
        connection = batch.connection
        connection.execute(auth.passwords.delete().where(auth.passwords.c.user_id == user_id))
        if password is not None:
            connection.execute(auth.passwords.insert().values(user_id=user_id, hash=hash_password(password)))
        auth.end_tokens(user_id, connection)

    def asset(self, batch: BatchContext, sg_type: SgType, parent: str | None) -> str | None:
        """The Asset a Version of ``sg_type`` hangs under on ``parent`` (a Shot, a project …): found, or made."""
        if parent is None or sg_type.asset is None:
            return None
        name = sg_type.asset["name"]
        found = self.first_id(batch, render(ast.Query("Asset", (ast.Path.of("id"),),
                                                      ast.And((_is("context_id", parent), _is("name", name))))))  # fmt: skip
        if found is not None:
            return found  # type: ignore[no-any-return]
        kind = self.first_id(batch, render(ast.Query("AssetType", (ast.Path.of("id"),), _is("name", sg_type.asset["type"]))))
        key = str(uuid.uuid4())
        self.check(batch, "create", "Asset")
        self.backend.writer.create(batch, "Asset", {"__entity_type__": "Asset", "id": key, "name": name, "context_id": parent,
                                                    "type_id": kind})  # fmt: skip
        return key

    def metadata(self, batch: BatchContext, sg_type: SgType, key: str, metadata: dict[str, Any], creating: bool) -> None:
        """Set, change or remove (None) the metadata entries of entity ``key``."""
        for name, value in metadata.items():
            exists = not creating and self.rows(batch, ast.Query(
                "Metadata", (ast.Path.of("key"),), ast.And((_is("parent_id", key), _is("key", name)))))  # fmt: skip
            if exists and value is None:
                self.backend.writer.delete(batch, "Metadata", [key, name])
            elif exists:
                self.backend.writer.update(batch, "Metadata", [key, name], {"value": value})
            elif value is not None:
                self.backend.writer.create(batch, "Metadata", {"__entity_type__": "Metadata", "parent_id": key, "key": name,
                                                               "value": value, "parent_type": sg_type.ours})  # fmt: skip
