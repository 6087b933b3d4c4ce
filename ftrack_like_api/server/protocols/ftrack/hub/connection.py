"""One websocket of ftrack's hub: what the client sends, what the log sends it, and its heartbeat.

Three tasks per connection, ended together:

- the **reader** takes the client's packets: heartbeats, subscribe and unsubscribe
  (acknowledged ``{"success": true}``, or ``false`` with a ``message`` saying what is wrong:
  a subscription that does not parse says where), and events to publish (into the log
  through :meth:`Backend.publish`, acknowledged once stored);
- the **feeder** follows the log from where the connection opened: it waits on the
  broker, takes what came after its own cursor from the worker's
  :class:`~ftrack_like_api.server.events.tail.Tail` (one read of the log for every socket,
  only what its user may read) and sends the events a
  subscriber wants. A slow client holds only its own feeder back; it catches up from the log;
- the **heartbeat** sends ``2::`` every ``heartbeat`` seconds, closes the connection when the
  client has said nothing for ``timeout`` seconds, and asks again whether the credentials
  still let the user in (a revoked key, an ended token, a disabled user close it) and what
  they may read; a client that has taken no packet for ``timeout`` seconds (it does not read) is
  closed too.

A packet that is not socket.io's, or too long, or an event that is not ftrack's, closes
this connection (logged with its reason), never another.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Mapping

import anyio
import anyio.abc
from starlette.websockets import WebSocket, WebSocketDisconnect

from .....event.expression import parse
from .....exceptions import Error, ExpressionError
from ....auth.permissions import PermissionDenied
from ....draining import REASON
from ....events.published import from_client
from ....gate import Busy
from ..answers import log_failure
from .packets import MAX_PACKET, NAMESPACE, Kind, Packet, PacketError, acknowledgement, decode, encode, event_of
from .sessions import Visitor
from .subscribers import Subscribers, SubscriberError
from .outgoing import outgoing

if TYPE_CHECKING:
    from ....auth.permissions import Principal
    from .endpoint import EventHub

__all__ = ["Connection"]

log = logging.getLogger(__name__)

#: Close codes (RFC 6455): a policy violation (malformed packets, revoked credentials), a message too big.
POLICY, TOO_BIG = 1008, 1009
#: The server stops: the client connects again (to whichever server answers).
RESTART = 1012


class Closing(Exception):
    """Why a connection ends: the close code and the reason logged."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class Connection:
    """A client's websocket: subscribers, cursor into the log, and the three tasks."""

    def __init__(self, hub: EventHub, websocket: WebSocket, visitor: Visitor, principal: Principal, cursor: int) -> None:
        self.hub, self.websocket, self.visitor, self.principal = hub, websocket, visitor, principal
        self.cursor = cursor
        self.subscribers = Subscribers()
        self.heard = time.monotonic()
        self.sent = 0
        self._sending = anyio.Lock()
        self._sending_since: float | None = None  # when the packet being sent started
        self._ending: Closing | None = None
        #: The client's hub id (its events' ``source.id``): where its place is kept over a restart.
        self.hub_id: str | None = None
        self._resumed = False
        self._tasks: anyio.abc.TaskGroup
        self.name = f"{visitor.username}@{websocket.client.host if websocket.client else '-'}"

    async def run(self) -> None:
        """Serve the connection until either side closes it."""
        try:
            await self.websocket.accept()
            await self.send(encode(Packet(Kind.CONNECT)))
        except (WebSocketDisconnect, OSError):  # uvicorn's ClientDisconnected is an OSError
            log.info("hub %s left before the socket opened", self.name)
            return
        log.info("hub %s connected from seq %d", self.name, self.cursor)
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self._guarded, self._feed)
            tasks.start_soon(self._guarded, self._beat)
            tasks.start_soon(self._guarded, self._read)
        ending = self._ending or Closing(1000, "the server stopped")
        (log.info if ending.code in (1000, RESTART) else log.warning)("hub %s closed: %s", self.name, ending.reason)
        with anyio.CancelScope(shield=True):
            if ending.code == RESTART and self.hub_id is not None:
                try:  # its next socket, on whichever server, carries on from here
                    await self.hub.database(self.hub.keep_place, self.visitor, self.hub_id, self.cursor)
                except Exception:  # noqa: BLE001 - stopping: the client will start from where the log is
                    log.warning("hub %s: its place could not be kept", self.name, exc_info=True)
            await self._close(ending.code)

    async def _guarded(self, task: Any) -> None:
        """Run ``task``; its end, whatever the reason, ends the connection (the first reason is kept)."""
        try:
            await task()
        except Closing as closing:
            self._end(closing)
        except (WebSocketDisconnect, OSError, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._end(Closing(1000, "the client left"))  # OSError: uvicorn's ClientDisconnected, sending
        except Exception as failure:
            error_id = log_failure(failure, f"hub {self.name}: an unexpected failure")
            self._end(Closing(1011, f"an unexpected failure (error id {error_id})"))

    def _end(self, closing: Closing) -> None:
        if self._ending is None:
            self._ending = closing
        self._tasks.cancel_scope.cancel()

    async def send(self, text: str) -> None:
        """Send one packet (the heartbeat closes a connection whose client takes none for ``timeout`` s)."""
        async with self._sending:
            self._sending_since = time.monotonic()
            await self.websocket.send_text(text)
            self._sending_since = None

    async def _close(self, code: int) -> None:
        """Say goodbye (``0::``) when the server ends it, and close; a client that reads nothing is not waited for."""
        with anyio.move_on_after(1):
            try:
                if code in (POLICY, TOO_BIG):
                    await self.websocket.send_text(encode(Packet(Kind.DISCONNECT)))
                await self.websocket.close(code)
            except Exception:  # noqa: BLE001 - the socket is gone already: nothing left to tell
                pass

    # --- reader ---------------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise Closing(1000, "the client left")
            text = message.get("text")
            if text is None:
                raise Closing(POLICY, "a binary message (socket.io 0.9 sends text)")
            self.heard = time.monotonic()
            if len(text) > MAX_PACKET:
                raise Closing(TOO_BIG, f"a packet of {len(text)} characters (at most {MAX_PACKET})")
            try:
                packet = decode(text)
                if packet.kind is Kind.EVENT:
                    await self._event(packet)
            except PacketError as error:
                raise Closing(POLICY, f"a malformed packet: {error}") from None
            if packet.kind is Kind.DISCONNECT:
                raise Closing(1000, "the client said goodbye")
            if packet.kind is Kind.ERROR:
                log.info("hub %s reported an error: %s", self.name, packet.data[:200])

    async def _event(self, packet: Packet) -> None:
        name, args = event_of(packet)
        if name != NAMESPACE or len(args) != 1 or not isinstance(args[0], dict):
            raise PacketError(f'an event other than ftrack\'s ({{"name": "{NAMESPACE}", "args": [event]}})')
        sent = args[0]
        topic = sent.get("topic")
        data: Mapping[str, Any] = sent["data"] if isinstance(sent.get("data"), Mapping) else {}
        if topic == "ftrack.meta.subscribe":
            await self._resume(sent.get("source"))
            answer = self._subscribe(data.get("subscriber"), data.get("subscription"))
        elif topic == "ftrack.meta.unsubscribe":
            answer = self._unsubscribe(data.get("subscriber"))
        else:
            answer = await self._publish(sent)
        if packet.id is not None:
            await self.send(acknowledgement(packet.id, answer))

    async def _resume(self, source: Any) -> None:
        """At the first subscription: a hub whose server stopped under it carries on from where it was."""
        if self._resumed:
            return
        self._resumed = True
        hub_id = source.get("id") if isinstance(source, Mapping) else None
        if not isinstance(hub_id, str) or not 0 < len(hub_id) <= 200:
            return
        self.hub_id = hub_id
        try:
            kept = await self.hub.database(self.hub.take_place, self.visitor, hub_id)
        except Busy:
            return
        if kept is not None and kept < self.cursor:
            log.info("hub %s resumes from seq %d (its server stopped at it)", self.name, kept)
            self.cursor = kept

    def _subscribe(self, subscriber: Any, subscription: Any) -> dict[str, Any]:
        try:
            self.subscribers.add(subscriber, subscription)
        except ExpressionError as error:
            return {"success": False, "message": str(error), "error_code": "bad_expression", "position": error.position}
        except SubscriberError as error:
            return {"success": False, "message": str(error)}
        return {"success": True}

    def _unsubscribe(self, subscriber: Any) -> dict[str, Any]:
        try:
            self.subscribers.remove(subscriber)
        except SubscriberError as error:
            return {"success": False, "message": str(error)}
        return {"success": True}

    async def _publish(self, sent: dict[str, Any]) -> dict[str, Any]:
        """Store ``sent`` in the log as the connection's user: the answer its acknowledgement carries."""
        try:
            # Who published is who the credentials say, whatever the event claims; no reserved topic.
            published = from_client(sent, self.visitor.user_id, self.visitor.username)
        except PermissionDenied as denied:
            log.warning("hub %s (%s) refused: %s", self.name, self.visitor.username, denied)
            return {"success": False, "message": str(denied), "exception": "PermissionError",
                    "error_code": denied.code}  # fmt: skip
        except Error as error:
            return {"success": False, "message": str(error)}
        published.setdefault("id", uuid.uuid4().hex)
        target = published.get("target") or ""
        if not isinstance(target, str):
            return {"success": False, "message": "An event's target is an expression (text)"}
        try:
            if target:
                parse(target)  # a target nobody can be named by is refused here, not dropped later
            stored = await self.hub.database(self.hub.backend.publish, published, self.visitor.user_id)
        except (Error, Busy) as error:  # ExpressionError, ValidationError: what is wrong with it; Busy: come back
            return {"success": False, "message": str(error)}
        log.debug("hub %s published %s as seq %d", self.name, stored.topic, stored.seq)
        return {"success": True}

    # --- feeder ---------------------------------------------------------------------------------

    async def _feed(self) -> None:
        broker = self.hub.backend.broker
        while True:
            if self.hub.draining.started:  # checked just before waiting: nothing else would wake the wait
                raise Closing(RESTART, REASON)
            latest = await broker.wait(self.cursor, self.hub.heartbeat)
            if latest <= self.cursor:
                continue
            topics = self.subscribers.topics
            if topics is not None and not topics:
                self.cursor = latest  # nobody listens yet: nothing to read
                continue
            try:
                found, through, _ = await self.hub.tail.read(self.cursor, self.principal, latest,
                                                             sorted(topics) if topics is not None else None)  # fmt: skip
            except Busy:
                await anyio.sleep(0.1)  # the database is busy: the log keeps what is to send
                continue
            for entry in found:
                going = entry.form(outgoing)
                if self.subscribers.wants(going.wire):
                    await self.send(going.packet)
                    self.sent += 1
                self.cursor = entry.seq
            self.cursor = max(self.cursor, through)

    # --- heartbeat ------------------------------------------------------------------------------

    async def _beat(self) -> None:
        while True:
            await anyio.sleep(self.hub.heartbeat)
            silent = time.monotonic() - self.heard
            if silent > self.hub.timeout:
                raise Closing(POLICY, f"no heartbeat for {silent:.0f} s")
            self._check_reading()
            try:
                live, principal = await self.hub.database(self.hub.visit, self.visitor)
            except Busy:
                live, principal = True, self.principal  # asked again next beat
            if not live:
                raise Closing(POLICY, "the credentials no longer let the user in")
            self.principal = principal
            with anyio.move_on_after(self.hub.timeout):
                await self.send(encode(Packet(Kind.HEARTBEAT)))
            self._check_reading()

    def _check_reading(self) -> None:
        """Close a connection whose client has taken no packet for ``timeout`` seconds: it does not read."""
        since = self._sending_since
        if since is not None and time.monotonic() - since > self.hub.timeout:
            raise Closing(POLICY, f"the client took no packet for {self.hub.timeout:.0f} s")
