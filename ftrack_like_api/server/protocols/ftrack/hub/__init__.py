"""ftrack's event hub, socket.io 0.9, so ftrack's own client (``session.event_hub``) connects unchanged.

- ``packets.py``: socket.io 0.9's packets, ``code:id:endpoint:data``
- ``sessions.py``: the handshake's credentials bound to a session id that any worker can check
- ``subscribers.py``: a connection's subscribers and which events they want (evaluated on the server)
- ``outgoing.py``: an event as the sockets send it (read once for all of them by the worker's
  :class:`~ftrack_like_api.server.events.tail.Tail`, shared with the ``/events`` streams)
- ``connection.py``: one websocket — the client's packets, the events the log sends it, heartbeats
- ``endpoint.py``: the routes, ``GET /socket.io/1/`` and ``/socket.io/1/websocket/<session id>``

Every event travels through the event log (:mod:`ftrack_like_api.server.events`): what a
client publishes is appended with :meth:`Backend.publish`, and every connection reads the
log from its own cursor, woken by the broker, so events committed through another worker
arrive too.
"""

from __future__ import annotations

from .endpoint import HEARTBEAT, TIMEOUT, EventHub
from .packets import MAX_MESSAGE

__all__ = ["EventHub", "HEARTBEAT", "MAX_MESSAGE", "TIMEOUT"]
