"""A location plugin as studios write them for ftrack's client: the studio's disk as a location.

Written for ftrack-python-api, with one line changed (the import). Put it on the
plugin path (``FTRACK_EVENT_PLUGIN_PATH``) and every session publishes to the studio's
disk by default, under ``STUDIO_DISK`` (``/mnt/projects`` unless set), in ftrack's
standard layout: ``<project>/<sequence>/<shot>/<asset>/v001/main.exr``.
"""

import logging
import os

import ftrack_like_api as ftrack_api  # was: import ftrack_api

log = logging.getLogger("studio.location")

LOCATION_NAME = "studio.disk"


def configure_location(event):
    """Set the studio's disk up as a location of the session the event comes from."""
    session = event["data"]["session"]
    location = session.ensure("Location", {"name": LOCATION_NAME})
    location.accessor = ftrack_api.accessor.disk.DiskAccessor(prefix=os.environ.get("STUDIO_DISK", "/mnt/projects"))
    location.structure = ftrack_api.structure.standard.StandardStructure()
    location.priority = 1  # before the built-in locations (lower is preferred)
    log.debug("%s is at %s", LOCATION_NAME, location.accessor.prefix)


def register(session, **kwargs):
    """Called by the session with itself: listen for its locations being set up."""
    if not isinstance(session, ftrack_api.Session):
        return  # an ftrack-connect style plugin host may pass something else
    session.event_hub.subscribe("topic=ftrack.api.session.configure-location", configure_location)
