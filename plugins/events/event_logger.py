"""An event logger: every event, one JSON line each, to a file (or to the log).

``register(session, event_log=PATH)`` or ``FTRACK_LIKE_EVENT_LOG=PATH``; without either,
each event is a line of the ``event_logger`` logger at INFO. ``subscription`` narrows it
(default: every event but replies). Only the log's events are written: not the ones a
session publishes to its own process (``synchronous=True``, such as the
``ftrack.api.session.construct-entity-type`` of each of its 116 entity types).
"""

import json
import logging
import os

log = logging.getLogger("event_logger")


def register(session, event_log=None, subscription="not topic=ftrack.meta.reply"):
    path = event_log or os.environ.get("FTRACK_LIKE_EVENT_LOG")

    def write(event):
        if event.seq is None:
            return  # this process's own, never in the log
        line = json.dumps({"seq": event.seq, "id": event["id"], "topic": event["topic"], "data": event["data"]},
                          default=str)  # fmt: skip
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
        else:
            log.info("%s", line)

    session.event_hub.subscribe(subscription, write, priority=1000)
