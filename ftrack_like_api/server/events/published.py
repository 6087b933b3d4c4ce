"""What a client may publish, and how its event is filed: one rule for ``POST /events`` and ftrack's hub.

Some topics only the server publishes: ``ftrack.update`` (what a commit changed) and
``ftrack.meta.*`` (the hub's own protocol). A listener trusts an ``ftrack.update`` to say
what really changed, and ftrack's listeners do not look at ``source.user``; so a client that
publishes one is refused (:class:`PermissionDenied`, ftrack's ``PermissionError``), as is any
``ftrack.meta.*`` topic but a reply (``ftrack.meta.reply``, which every client sends).

What a client may publish gets its ``source.user`` from its credentials, whatever the event
claims, and goes under no project (a ``project_id`` it sends is dropped).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...exceptions import ValidationError
from ..auth.permissions import PermissionDenied

__all__ = ["CLIENT_META_TOPICS", "RESERVED_TOPICS", "from_client", "reserved"]

#: Topics only the server publishes; and every ``ftrack.meta.*`` topic but :data:`CLIENT_META_TOPICS`.
RESERVED_TOPICS = frozenset({"ftrack.update"})
#: The ``ftrack.meta.*`` topics a client publishes itself.
CLIENT_META_TOPICS = frozenset({"ftrack.meta.reply"})


def reserved(topic: Any) -> bool:
    """Whether only the server may publish events of ``topic``."""
    if not isinstance(topic, str):
        return False  # not a topic at all: the log says what is wrong with it
    return topic in RESERVED_TOPICS or (topic.startswith("ftrack.meta.") and topic not in CLIENT_META_TOPICS)


def from_client(
    event: Mapping[str, Any], user_id: str | None, username: str, source: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``event`` as the log takes it from a client: PermissionDenied for a topic the server reserves.

    Its source's ``user`` is ``{"id": user_id, "username": username}``; ``source``, when
    given, says how the client signed in (``{"apiKey": {"name": …}}`` or
    ``{"signedIn": True}``) and replaces what the event claims of it. ``project_id`` is dropped.
    """
    topic = event.get("topic")
    if reserved(topic):
        raise PermissionDenied(
            f"Only the server publishes {topic!r} events (ftrack.update and ftrack.meta.* but "
            f"{', '.join(sorted(CLIENT_META_TOPICS))}): a client may not",
            "reserved_topic",
        )
    claimed = event.get("source")
    if claimed is not None and not isinstance(claimed, Mapping):
        raise ValidationError("An event's source is an object", "bad_event")
    stamped = {**(claimed or {}), "user": {"id": user_id, "username": username}}
    if source is not None:
        stamped.pop("apiKey", None)
        stamped.pop("signedIn", None)
        stamped.update(source)
    published = {**event, "source": stamped}
    published.pop("project_id", None)  # a publisher does not file its events under a project
    return published
