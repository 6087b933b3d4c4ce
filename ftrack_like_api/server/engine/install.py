"""Open a database for a backend: build, seed and stamp a new one, or upgrade an older one.

Moved out of :mod:`.backend` (which runs batches) unchanged.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa

from ..auth.permissions import Roles
from .seed import ADMIN_USERNAME, seed, seed_id
from .storage import Storage
from .upgrades import Upgrades, check_references, locked

__all__ = ["RETRIES", "install"]

log = logging.getLogger(__name__)

#: Tries at building a new database that another process may be building at the same time.
RETRIES = 5


def install(engine: sa.Engine, storage: Storage, versioned: bool) -> None:
    """Build, seed and stamp a new database, or run the additive upgrades an older one needs.

    ``versioned``: the schema is the shipped one, whose upgrades are Alembic's revisions.
    """
    roles = Roles(storage)
    upgrades = Upgrades() if versioned else None
    for attempt in range(RETRIES):
        try:
            with engine.connect().execution_options(ftrack_writes=True) as connection:
                with locked(connection):
                    new = storage.install(connection)
                    ran = []
                    if new:
                        seed(connection, storage)
                        roles.install(connection)
                        roles.set_role(connection, seed_id("user", ADMIN_USERNAME), "admin")
                        if upgrades is not None:
                            upgrades.stamp(connection)
                    elif upgrades is not None:
                        ran = upgrades.upgrade(connection, automatic=True)
                    if new or ran:
                        check_references(connection)
                    if upgrades is None or upgrades.ahead is None:  # a newer version's notes stay as they are
                        storage.record(connection)
                with connection.begin():
                    storage.optimize(connection)
            return
        except sa.exc.DBAPIError as error:
            # Two processes opening one new database at once: one builds it, the other tries again.
            if attempt == RETRIES - 1:
                raise
            log.info("database install raced another process, trying again: %s", error.orig)
            time.sleep(0.2 * (attempt + 1))
