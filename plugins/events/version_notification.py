"""A notification event when a version is published: ``studio.notify.version-published``.

Whoever wants to tell a supervisor (mail, chat, a dashboard) subscribes to that topic;
this plugin only says it, once per new ``AssetVersion``, with what a message needs::

    {"version_id": …, "version": 3, "asset": "bg_plate", "published_by": "jo", "parents": [...]}
"""

import logging

from ftrack_like_api.event.base import Event

log = logging.getLogger(__name__)

TOPIC = "studio.notify.version-published"


def register(session, notify_topic=TOPIC):
    def published(event):
        for entity in event["data"].get("entities", []):
            if entity.get("entityType") != "assetversion" or entity.get("action") != "add":
                continue
            version = session.query(
                f'select version, asset.name from AssetVersion where id is "{entity["entityId"]}"'
            ).first()
            if version is None:
                continue
            user = event["data"].get("user") or {}
            session.event_hub.publish(
                Event(
                    notify_topic,
                    data={
                        "version_id": version["id"],
                        "version": version["version"],
                        "asset": version["asset"]["name"],
                        "published_by": user.get("name"),
                        "parents": entity.get("parents", []),
                    },
                )  # fmt: skip
            )
            log.info("version %s of %s published: told %s", version["version"], version["asset"]["name"], notify_topic)

    session.event_hub.subscribe("topic=ftrack.update", published)
