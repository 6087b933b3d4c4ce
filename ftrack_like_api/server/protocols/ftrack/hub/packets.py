"""socket.io 0.9's packets, as ftrack's hub writes them: ``code:id:endpoint:data``.

``code`` is one digit (:class:`Kind`); ``id`` is empty or a number, with a trailing ``+``
when the sender wants the acknowledgement to carry data (ftrack's client always asks
that way); ``endpoint`` is empty for ftrack; ``data`` is the rest of the text, colons and
all. An event's data is ``{"name": …, "args": […]}``; an acknowledgement's is
``<id>+<JSON list>``. Anything else is a :class:`PacketError`, which closes the one
connection that sent it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from typing import Any

__all__ = ["Kind", "MAX_MESSAGE", "MAX_PACKET", "NAMESPACE", "Packet", "PacketError", "acknowledgement", "decode",
           "encode", "event", "event_of"]  # fmt: skip

#: The event name ftrack's client sends and expects: ``5:::{"name": "ftrack.event", "args": [event]}``.
NAMESPACE = "ftrack.event"

#: The longest packet read, in characters: a longer one closes its connection.
MAX_PACKET = 1024 * 1024
#: The largest websocket message the server reads, in bytes (uvicorn's ``ws_max_size``, set
#: by ``serve`` and :func:`~ftrack_like_api.server.app.serving`): a packet of
#: :data:`MAX_PACKET` ASCII characters and some room. A larger one closes its socket (1009,
#: "message too big") before it is read whole; uvicorn's default would take 16 MiB first.
MAX_MESSAGE = MAX_PACKET + 64 * 1024

_PACKET = re.compile(r"([0-8]):([0-9]{0,15})(\+?):([^:]*)(?::(.*))?\Z", re.DOTALL)


class PacketError(Exception):
    """A packet that is not socket.io 0.9's, or whose data is not what its kind carries."""


class Kind(enum.IntEnum):
    """What a packet is: its first character."""

    DISCONNECT = 0
    CONNECT = 1
    HEARTBEAT = 2
    MESSAGE = 3
    JSON = 4
    EVENT = 5
    ACK = 6
    ERROR = 7
    NOOP = 8


@dataclasses.dataclass(frozen=True)
class Packet:
    """One packet; ``id`` is None when the sender wants no acknowledgement."""

    kind: Kind
    id: int | None = None
    #: Whether the acknowledgement should carry data (the id was written ``N+``).
    wants_data: bool = False
    endpoint: str = ""
    data: str = ""


def decode(text: str) -> Packet:
    """The packet written as ``text``; :class:`PacketError` when it is not one."""
    if len(text) > MAX_PACKET:
        raise PacketError(f"a packet of {len(text)} characters (at most {MAX_PACKET})")
    found = _PACKET.match(text)
    if found is None:
        raise PacketError(f"not a socket.io packet: {text[:40]!r}")
    code, identifier, plus, endpoint, data = found.groups()
    if plus and not identifier:
        raise PacketError(f"an acknowledgement request without an id: {text[:40]!r}")
    return Packet(Kind(int(code)), int(identifier) if identifier else None, bool(plus), endpoint, data or "")


def encode(packet: Packet) -> str:
    """The text of ``packet``: ``code:id:endpoint`` and ``:data`` when there is data."""
    identifier = "" if packet.id is None else f"{packet.id}{'+' if packet.wants_data else ''}"
    head = f"{int(packet.kind)}:{identifier}:{packet.endpoint}"
    return f"{head}:{packet.data}" if packet.data else head


def event(name: str, *args: Any) -> str:
    """An event packet, ``5:::{"name": name, "args": [...]}``, that asks for no acknowledgement."""
    return encode(Packet(Kind.EVENT, data=json.dumps({"name": name, "args": list(args)}, separators=(",", ":"))))


def acknowledgement(identifier: int, *args: Any) -> str:
    """The acknowledgement of packet ``identifier``: ``6:::<id>+[args]``."""
    return encode(Packet(Kind.ACK, data=f"{identifier}+{json.dumps(list(args), separators=(',', ':'))}"))


def event_of(packet: Packet) -> tuple[str, list[Any]]:
    """An event packet's name and arguments; :class:`PacketError` when its data is not an event."""
    try:
        payload = json.loads(packet.data)
    except (ValueError, RecursionError):
        raise PacketError("an event whose data is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        raise PacketError('an event is {"name": …, "args": […]}')
    args = payload.get("args", [])
    if not isinstance(args, list):
        raise PacketError("an event's args are a list")
    return payload["name"], args

