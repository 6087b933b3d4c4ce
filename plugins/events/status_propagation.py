"""Status propagation: when every task of a shot is approved, approve the shot.

Run it as a durable listener::

    ftrack-like listen --plugin-path plugins/events/status_propagation.py --name status-propagation

It reads ``ftrack.update`` events as ftrack's listeners do: each entity changed, with
``entityType`` (``task`` for every TypedContext), ``entityId``, ``keys`` (the attributes
changed: ``statusid`` for a status) and ``parents``; the ids it reads go into its queries
as bound values, never into their text. The change it makes is itself an
``ftrack.update``, which it hears too and ignores (a shot has no tasks below it changing).
"""

import logging

log = logging.getLogger(__name__)

#: The status a shot gets once every task below it has it.
APPROVED = "Approved"


def register(session, approved=APPROVED):
    def propagate(event):
        for entity in event["data"].get("entities", []):
            keys = entity.get("keys") or []
            if entity.get("entityType") != "task" or not ({"statusid", "status_id"} & set(keys)):
                continue
            task = session.query("select parent_id from Task where id is :id", id=entity["entityId"]).first()
            if task is None:  # not a Task (a shot's own status changed), or gone since
                continue
            shot = session.query("select status.name from Shot where id is :id", id=task["parent_id"]).first()
            if shot is None:
                continue
            tasks = session.query("select status.name from Task where parent_id is :id", id=shot["id"]).all()
            if tasks and all(t["status"]["name"] == approved for t in tasks) and shot["status"]["name"] != approved:
                shot["status"] = session.query("Status where name is :name", name=approved).one()
                session.commit()
                log.info("every task of %s is %s: so is the shot", shot["id"], approved)

    session.event_hub.subscribe("topic=ftrack.update", propagate)
