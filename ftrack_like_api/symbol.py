"""Sentinels and well-known ids.

``NOT_SET`` stands for "no value known" (never fetched, or not given) where ``None`` is
a real value an attribute can hold.
"""

from __future__ import annotations

import enum
import os

__all__ = [
    "CHUNK_SIZE",
    "COMPONENT_ADDED_TO_LOCATION_TOPIC",
    "COMPONENT_REMOVED_FROM_LOCATION_TOPIC",
    "CONNECT_LOCATION_ID",
    "CUSTOM_ATTRIBUTE_TYPES",
    "NOT_SET",
    "ORIGIN_LOCATION_ID",
    "REVIEW_LOCATION_ID",
    "ROLES",
    "SERVER_LOCATION_ID",
    "State",
    "UNMANAGED_LOCATION_ID",
]


class _NotSet(enum.Enum):
    NOT_SET = "NOT_SET"

    def __repr__(self) -> str:
        return "NOT_SET"

    def __bool__(self) -> bool:
        return False


#: No value known: never fetched, or not given. Falsy, and only ever itself.
NOT_SET = _NotSet.NOT_SET


class State(enum.Enum):
    """Where an entity stands against the server."""

    #: As the server has it, as far as the session knows.
    UNCHANGED = "unchanged"
    #: Created in this session and not committed yet.
    CREATED = "created"
    #: Changed in this session and not committed yet.
    MODIFIED = "modified"
    #: Deleted in this session and not committed yet.
    DELETED = "deleted"


# The built-in locations, with the ids ftrack's own client knows them by.
#: ``ftrack.origin``: where a file is before it is added to a location.
ORIGIN_LOCATION_ID = "ce9b348f-8809-11e3-821c-20c9d081909b"
#: ``ftrack.unmanaged``: files left where they are, by their paths.
UNMANAGED_LOCATION_ID = "cb268ecc-8809-11e3-a7e2-20c9d081909b"
#: ``ftrack.review``: media for review.
REVIEW_LOCATION_ID = "cd41be70-8809-11e3-b98a-20c9d081909b"
#: ``ftrack.connect``: files known to ftrack Connect.
CONNECT_LOCATION_ID = "07b82a97-8cf9-11e3-9383-20c9d081909b"
#: ``ftrack.server``: files stored on the server.
SERVER_LOCATION_ID = "3a372bde-05bc-11e4-8908-20c9d081909b"

#: Published when a component is added to a location: ``data`` is ``{"component_id", "location_id"}``.
COMPONENT_ADDED_TO_LOCATION_TOPIC = "ftrack.location.component-added"
#: Published when a component is removed from a location: ``data`` is ``{"component_id", "location_id"}``.
COMPONENT_REMOVED_FROM_LOCATION_TOPIC = "ftrack.location.component-removed"

#: How many bytes a copy between locations reads at a time (``FTRACK_API_FILE_CHUNK_SIZE``, as ftrack's).
CHUNK_SIZE = int(os.environ.get("FTRACK_API_FILE_CHUNK_SIZE") or 0) or 1024 * 1024

#: The roles, as the command line names them, and their ``SecurityRole`` names (here, not in the
#: server, so that a client-only install's ``ftrack-like user add --role`` knows them).
ROLES = {"admin": "Administrator", "user": "User", "read-only": "Read-only"}

#: The types a custom attribute may be (``CustomAttributeType`` names; ``ftrack-like attribute add --type``).
CUSTOM_ATTRIBUTE_TYPES = ["text", "number", "boolean", "date", "enumerator", "dynamic enumerator", "expression",
                          "url", "notificationtype"]  # fmt: skip
