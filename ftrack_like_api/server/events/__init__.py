"""Events: the log every change and every published event goes to, and the broker that says it grew.

- ``tables.py`` the log's tables (``event_log``, ``event_cursor``, ``event_parked``)
- ``log.py`` :class:`EventLog` (append, read, last, prune) and :class:`StoredEvent`
- ``broker.py`` :class:`Broker`: wakes waiting readers, in-process and across processes

Nothing here imports the engine at import time (the engine's storage defines these tables).
"""

from __future__ import annotations

from .broker import Broker
from .log import EventLog, StoredEvent

__all__ = ["Broker", "EventLog", "StoredEvent"]
