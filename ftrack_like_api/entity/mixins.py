"""Behaviour some entity types carry beyond their attributes, as ftrack's client gives them.

A script written for ftrack-python-api calls ``user.start_timer(task)`` or
``project["project_schema"].get_statuses("Task", type_id)``; these mixins give our
entity classes the same methods, so it runs unchanged. :func:`~.factory.build_types`
puts each mixin before the class built for its type (a plugin's class can still replace
it), so subtypes inherit it.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from ..exceptions import NoResultFoundError
from .component import AssetVersionMixin, ComponentMixin
from .location import LocationMixin

if TYPE_CHECKING:
    from .base import Entity

    _Mixin = Entity  # what the methods may use of self; the mixin itself stands on object
else:
    _Mixin = object

__all__ = ["MIXINS", "ProjectSchemaMixin", "UserMixin"]


class UserMixin(_Mixin):
    """Timers and the API key, as ftrack's ``User``."""

    __slots__ = ()

    def start_timer(self: Entity, context: Entity | None = None, comment: str = "", name: str | None = None,
                    force: bool = False) -> Entity:  # fmt: skip
        """Start a timer on ``context`` and commit; ``force`` stops a running one first (into a timelog).

        A user has one timer at a time: a second one is refused by the server
        (``ServerError``, ``DuplicateEntryError``) and the session keeps it pending, to roll back.
        """
        if force:
            try:
                self.stop_timer()  # type: ignore[attr-defined]
            except NoResultFoundError:
                pass
        timer = self.session.create("Timer", {"user": self, "context": context, "name": name, "comment": comment})
        self.session.commit()
        return timer

    def stop_timer(self: Entity) -> Entity:
        """Stop the running timer into a ``Timelog`` (its duration in seconds) and commit; NoResultFoundError if none runs."""
        timer = self.session.query("select start, context_id, comment, name from Timer where user_id is :user",
                                   user=self["id"]).one()  # fmt: skip
        start = timer["start"]
        now = datetime.datetime.now(start.tzinfo or datetime.timezone.utc)
        if start.tzinfo is None:  # stored in UTC
            now = now.replace(tzinfo=None)
        timelog = self.session.create("Timelog", {
            "user_id": self["id"], "context_id": timer["context_id"], "comment": timer["comment"],
            "start": start, "duration": int((now - start).total_seconds()), "name": timer["name"],
        })  # fmt: skip
        self.session.delete(timer)
        self.session.commit()
        return timelog

    def reset_api_key(self: Entity) -> str:
        """A new API key named ``api_key`` for this user (the old one revoked): yourself, or anyone as an admin."""
        return str(self.session.reset_remote("api_key", self)["api_key"])


class ProjectSchemaMixin(_Mixin):
    """The statuses and types a project schema allows, as ftrack's ``ProjectSchema``."""

    __slots__ = ()

    def get_statuses(self: Entity, schema: str, type_id: str | None = None) -> list[Entity]:
        """The statuses of ``schema`` (``Task``, ``AssetVersion``, ``Shot`` …); for a Task, those of
        its type's workflow where the schema overrides it (``type_id``)."""
        if schema == "Task":
            if type_id is not None:
                for override in self["_overrides"]:
                    if override["type_id"] == type_id:
                        return list(override["workflow_schema"]["statuses"])
            return list(self["_task_workflow"]["statuses"])
        if schema == "AssetVersion":
            return list(self["_version_workflow"]["statuses"])
        return [row["task_status"] for row in self._schema_items(schema, "SchemaStatus", "task_status")]  # type: ignore[attr-defined]

    def get_types(self: Entity, schema: str) -> list[Entity]:
        """The types of ``schema`` (``Task``, ``Shot``, ``AssetBuild`` …)."""
        if schema == "Task":
            return list(self["_task_type_schema"]["types"])
        return [row["task_type"] for row in self._schema_items(schema, "SchemaType", "task_type")]  # type: ignore[attr-defined]

    def _schema_items(self: Entity, schema: str, link: str, attribute: str) -> list[Any]:
        entity_class = self.session.types.get(schema)
        if entity_class is None:
            raise ValueError(f"Schema {schema} does not exist")
        object_type = entity_class.schema.classifier.get("object_type_id")
        if object_type is None:
            raise ValueError(f"Schema {schema} has no statuses or types: it is not a kind of TypedContext")
        for item in self["_schemas"]:
            if item["type_id"] == object_type:
                return self.session.query(f"select {attribute} from {link} where schema_id is :schema",
                                          schema=item["id"]).all()  # fmt: skip
        raise ValueError(f"The project schema {self['name']!r} says nothing of {schema}")


#: The mixin for each entity type that has one.
MIXINS: dict[str, type] = {"User": UserMixin, "ProjectSchema": ProjectSchemaMixin, "Location": LocationMixin,
                           "Component": ComponentMixin, "AssetVersion": AssetVersionMixin}  # fmt: skip
