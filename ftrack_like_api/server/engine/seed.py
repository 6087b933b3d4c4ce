"""What a studio needs on day one, written into a new database.

States, statuses, task types, priorities, object types, workflows and a default
project schema, asset types, note and list categories, custom attribute types, the
built-in locations, and an ``admin`` user. Ids are fixed — ftrack's own where the
official client expects them (object types, the ``None`` priority, locations), and
name-derived uuids elsewhere — so every new database agrees with every other.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Iterable

import sqlalchemy as sa

from ... import symbol
from ..files.signing import SECRET_KEY, new_secret
from .storage import Storage

__all__ = ["ADMIN_USERNAME", "seed"]

ADMIN_USERNAME = "admin"
_NAMESPACE = uuid.UUID("6f1d1c84-6d6b-4f4e-9a52-6b2f1f0c9a10")

OBJECT_TYPES = {
    # name: (id, sort, is_taskable, is_time_reportable, is_leaf, is_typeable, is_schedulable, icon)
    "Folder": ("3c133785-51cb-11e3-980a-20c9d0831e59", 0, True, False, False, False, False, "folder"),
    "Episode": ("22139355-61da-4c8f-9db4-3abc870166bc", 1, True, False, False, False, False, "episode"),
    "Sequence": ("e5139355-61da-4c8f-9db4-3abc870166bc", 2, True, False, False, False, False, "sequence"),
    "Shot": ("bad911de-3bd6-47b9-8b46-3476e237cb36", 3, True, False, False, False, False, "shot"),
    "Asset Build": ("4be63b64-5010-42fb-bf1f-428af9d638f0", 4, True, False, False, True, False, "box"),
    "Task": ("11c137c0-ee7e-4f9c-91c5-8c77cec22b2c", 5, False, True, True, True, True, "task"),
    "Milestone": ("01decdd1-51cb-11e3-9d5b-20c9d0831e59", 6, False, False, True, False, True, "milestone"),
}
STATES = {  # short: (name, id)
    "NOT_STARTED": ("Not started", "6c59abf8-4dbf-11e1-9902-f23c91df25eb"),
    "IN_PROGRESS": ("In progress", None),
    "BLOCKED": ("Blocked", None),
    "DONE": ("Done", None),
}
STATUSES = [  # name, state, color
    ("Not started", "NOT_STARTED", "#CCCCCC"),
    ("Ready to start", "NOT_STARTED", "#AEEA00"),
    ("In progress", "IN_PROGRESS", "#3498DB"),
    ("Pending review", "IN_PROGRESS", "#F39C12"),
    ("Revise", "IN_PROGRESS", "#E74C3C"),
    ("On Hold", "BLOCKED", "#9B59B6"),
    ("Approved", "DONE", "#2ECC71"),
    ("Completed", "DONE", "#27AE60"),
    ("Omitted", "DONE", "#7F8C8D"),
    ("Pending", "IN_PROGRESS", "#F1C40F"),  # ftrack's; last, where upgrade 0009 puts it
    ("Viewed", "IN_PROGRESS", "#5DADE2"),  # ShotGrid's stock Version statuses (vwd, na): where upgrade 0014 puts them
    ("N/A", "DONE", "#BDC3C7"),
]
TASK_WORKFLOW = ["Not started", "Ready to start", "In progress", "Pending review", "Revise", "On Hold", "Approved", "Omitted"]
VERSION_WORKFLOW = ["Pending review", "Revise", "Approved", "Omitted", "Viewed", "N/A"]
CONTAINER_WORKFLOW = ["Not started", "In progress", "On Hold", "Completed", "Omitted"]
TYPES = [  # name, color, billable
    ("Generic", "#7F8C8D", True), ("Concept", "#E67E22", True), ("Modeling", "#2980B9", True),
    ("Texture", "#8E44AD", True), ("Lookdev", "#9B59B6", True), ("Rigging", "#16A085", True),
    ("Layout", "#D35400", True), ("Animation", "#C0392B", True), ("Tracking", "#2C3E50", True),
    ("Roto", "#34495E", True), ("Paint", "#95A5A6", True), ("FX", "#E74C3C", True),
    ("Lighting", "#F1C40F", True), ("Rendering", "#F39C12", True), ("Compositing", "#1ABC9C", True),
    ("Editing", "#3498DB", True), ("Production", "#BDC3C7", False), ("Character", "#E91E63", True),
    ("Prop", "#795548", True), ("Environment", "#4CAF50", True), ("Vehicle", "#607D8B", True),
    ("Deliverable", "#00BCD4", True),
]  # fmt: skip
ASSET_BUILD_TYPES = ["Character", "Prop", "Environment", "Vehicle"]
PRIORITIES = [  # name, value, color, fixed id
    ("None", 0, "#CCCCCC", "9661b320-3a0c-11e2-81c1-0800200c9a66"),
    ("Low", 1, "#2ECC71", None), ("Medium", 2, "#F1C40F", None),
    ("High", 3, "#E67E22", None), ("Urgent", 4, "#E74C3C", None),
]  # fmt: skip
ASSET_TYPES = [
    ("Geometry", "geo"), ("Image", "img"), ("Animation", "anim"), ("Camera", "cam"), ("Scene", "scene"),
    ("Rig", "rig"), ("Texture", "txt"), ("Render", "render"), ("Comp", "comp"), ("Audio", "audio"),
    ("Upload", "upload"), ("Cache", "cache"),
]  # fmt: skip
LOCATIONS = [  # name, label, id (the ids ftrack's client knows)
    ("ftrack.origin", "Origin", symbol.ORIGIN_LOCATION_ID),
    ("ftrack.unmanaged", "Unmanaged", symbol.UNMANAGED_LOCATION_ID),
    ("ftrack.review", "Review", symbol.REVIEW_LOCATION_ID),
    ("ftrack.connect", "Connect", symbol.CONNECT_LOCATION_ID),
    ("ftrack.server", "Server", symbol.SERVER_LOCATION_ID),
]
CUSTOM_ATTRIBUTE_TYPES = symbol.CUSTOM_ATTRIBUTE_TYPES
USER_TYPES = [("user", "ac9fa5aa-4361-11e0-b7cc-0019bb4983d8"), ("service", None)]
NOTE_CATEGORIES = ["Default", "Internal", "External Note", "Client feedback"]
LIST_CATEGORIES = ["Default", "Dailies", "Client review"]


#: Rows renamed to ftrack's spelling keep the id their first name gave them (upgrades 0009 and 0015 rename them).
FORMER_NAMES = {("status", "On Hold"): "On hold", ("note category", "External Note"): "External"}


def seed_id(kind: str, name: str) -> str:
    """The fixed id of a seeded row."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{FORMER_NAMES.get((kind, name), name)}"))


def seed(connection: sa.Connection, storage: Storage) -> None:
    """Write the day-one data into a new database (one transaction, the caller's)."""
    tables = storage.tables
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def insert(table: str, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if rows:
            connection.execute(tables[table].insert(), rows)

    insert("user_type", [{"id": fixed or seed_id("user type", name), "name": name} for name, fixed in USER_TYPES])
    admin = seed_id("user", ADMIN_USERNAME)
    insert("resource", [{"id": admin, "resource_type": "user", "username": ADMIN_USERNAME, "first_name": "Studio",
                         "last_name": "Admin", "is_active": True, "require_details_update": False,
                         "user_type_id": USER_TYPES[0][1]}])  # fmt: skip
    insert("object_type", [
        {"id": oid, "name": name, "sort": sort, "icon": icon, "is_taskable": taskable, "is_time_reportable": reportable,
         "is_leaf": leaf, "is_typeable": typeable, "is_statusable": True, "is_schedulable": schedulable,
         "is_prioritizable": True}
        for name, (oid, sort, taskable, reportable, leaf, typeable, schedulable, icon) in OBJECT_TYPES.items()
    ])  # fmt: skip
    states = {short: fixed or seed_id("state", short) for short, (_, fixed) in STATES.items()}
    insert("state", [{"id": states[short], "name": name, "short": short} for short, (name, _) in STATES.items()])
    statuses = {name: seed_id("status", name) for name, _, _ in STATUSES}
    insert("status", [
        {"id": statuses[name], "name": name, "state_id": states[state], "color": color, "sort": sort, "is_active": True}
        for sort, (name, state, color) in enumerate(STATUSES)
    ])  # fmt: skip
    types = {name: seed_id("type", name) for name, _, _ in TYPES}
    insert("type", [
        {"id": types[name], "name": name, "color": color, "sort": sort, "is_billable": billable}
        for sort, (name, color, billable) in enumerate(TYPES)
    ])  # fmt: skip
    insert("priority", [
        {"id": fixed or seed_id("priority", name), "name": name, "value": value, "color": color, "sort": value}
        for name, value, color, fixed in PRIORITIES
    ])  # fmt: skip

    workflows = {name: seed_id("workflow", name) for name in ("Task", "Version", "Container")}
    insert("workflow_schema", [{"id": wid, "name": f"{name} workflow"} for name, wid in workflows.items()])
    for name, members in (("Task", TASK_WORKFLOW), ("Version", VERSION_WORKFLOW), ("Container", CONTAINER_WORKFLOW)):
        insert("workflow_schema_status", [
            {"workflow_schema_id": workflows[name], "status_id": statuses[s], "sort": i} for i, s in enumerate(members)
        ])  # fmt: skip
    task_types = seed_id("task type schema", "Default")
    insert("task_type_schema", [{"id": task_types, "name": "Default task types"}])
    insert("task_type_schema_type", [
        {"task_type_schema_id": task_types, "type_id": types[name], "sort": i}
        for i, (name, _, _) in enumerate(TYPES) if name not in ASSET_BUILD_TYPES
    ])  # fmt: skip
    project_schema = seed_id("project schema", "VFX")
    insert("project_schema", [{
        "id": project_schema, "name": "VFX", "task_workflow_schema_id": workflows["Task"],
        "asset_version_workflow_schema_id": workflows["Version"], "task_type_schema_id": task_types,
    }])  # fmt: skip
    insert("project_schema_object_type", [
        {"project_schema_id": project_schema, "object_type_id": oid} for oid, *_ in OBJECT_TYPES.values()
    ])  # fmt: skip
    # Containers (shots, sequences, …) follow the container workflow; asset builds have types.
    for name, (oid, *_) in OBJECT_TYPES.items():
        if name == "Task":
            continue
        schema = seed_id("object type schema", f"VFX:{name}")
        insert("schema", [{"id": schema, "project_schema_id": project_schema, "object_type_id": oid}])
        insert("schema_status", [
            {"schema_id": schema, "status_id": statuses[s], "sort": i} for i, s in enumerate(CONTAINER_WORKFLOW)
        ])  # fmt: skip
        kinds = ASSET_BUILD_TYPES if name == "Asset Build" else ["Generic"]
        insert("schema_type", [{"schema_id": schema, "type_id": types[t], "sort": i} for i, t in enumerate(kinds)])

    insert("asset_type", [{"id": seed_id("asset type", short), "name": name, "short": short, "component": "main"}
                          for name, short in ASSET_TYPES])  # fmt: skip
    insert("location", [{"id": lid, "name": name, "label": label, "description": f"Built-in location {name}"}
                        for name, label, lid in LOCATIONS])  # fmt: skip
    insert("custom_attribute_type", [{"id": seed_id("custom attribute type", n), "name": n, "core": True}
                                     for n in CUSTOM_ATTRIBUTE_TYPES])  # fmt: skip
    categories = [{"id": seed_id("note category", n), "name": n, "sort": i} for i, n in enumerate(NOTE_CATEGORIES)]
    insert("note_category", categories)
    if "note_label" in tables:  # a schema of before (65 types) has no labels
        insert("note_label", categories)  # every category is a label too (engine/notes.py)
    insert("list_category", [{"id": seed_id("list category", n), "name": n} for n in LIST_CATEGORIES])
    connection.execute(storage.meta.insert().values(key="seeded_at", value=now.isoformat()))
    # The secret of the files' signed URLs (made here, not in a batch that needs it: SQLite's write lock).
    connection.execute(storage.meta.insert().values(key=SECRET_KEY, value=new_secret()))
