"""Who a socket.io session belongs to: the handshake's credentials, bound to the session id.

ftrack's client proves who it is once, on the handshake (``GET /socket.io/1/`` with
``ftrack-user`` and ``ftrack-api-key``, or a bearer token, as ``/api`` takes them), and
then opens the websocket with nothing but the session id. With several workers the
websocket may reach another worker than the handshake did, so the session id carries its
own proof instead of living in one worker's memory::

    <nonce>.<expires>.<user id, base64>.<HMAC-SHA256 of the three, keyed by the credential's stored hash>

The stored hash of a key or token never leaves the server, so nobody forges a session
id without the credential itself (and whoever holds that may as well shake hands). A
session id opens one websocket (per worker), within :data:`SESSION_LIFETIME` seconds of
the handshake. The open socket keeps the credential's hash (never the secret): the
connection asks :meth:`Sessions.live` on each heartbeat, and a revoked key, an ended
token or a disabled user closes it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import secrets
import threading
import time
from typing import Any, Mapping

import sqlalchemy as sa

from ....auth.tables import hashed, utcnow
from ....auth.throttle import Refusal

__all__ = ["Credential", "SESSION_LIFETIME", "Sessions", "Visitor"]

#: Seconds a session id from a handshake may open its websocket.
SESSION_LIFETIME = 60


@dataclasses.dataclass(frozen=True)
class Credential:
    """The credential a session was opened with: its kind (``key`` or ``token``) and stored hash."""

    kind: str
    digest: str


@dataclasses.dataclass(frozen=True)
class Visitor:
    """Who opened a session, and with what."""

    user_id: str
    username: str
    credential: Credential


class Sessions:
    """Issues session ids on handshakes and redeems them when their websocket opens.

    Every method but :meth:`issue` reads the database: call it from a worker thread.
    """

    def __init__(self, auth: Any, lifetime: float = SESSION_LIFETIME) -> None:
        self.auth = auth
        self.lifetime = lifetime
        self._redeemed: dict[str, float] = {}  # nonce -> when it expires
        self._lock = threading.Lock()

    def authenticate(self, headers: Mapping[str, str], address: str) -> Visitor:
        """Who the handshake's headers name, as ``/api`` decides it; :class:`Refusal` (401, 429) otherwise."""
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            token = bearer[7:].strip()
            user_id, username = self.auth.verify_token(token)
            return Visitor(user_id, username, Credential("token", hashed(token)))
        username, secret = headers.get("ftrack-user", ""), headers.get("ftrack-api-key", "")
        user_id = self.auth.check_key(username, secret, address)
        return Visitor(user_id, username, Credential("key", hashed(secret)))

    def issue(self, visitor: Visitor) -> str:
        """A session id for ``visitor``, good for opening one websocket within the lifetime."""
        nonce = secrets.token_hex(16)
        expires = str(int(time.time() + self.lifetime))
        user = base64.urlsafe_b64encode(visitor.user_id.encode()).decode().rstrip("=")
        claim = f"{nonce}.{expires}.{user}"
        return f"{claim}.{_signature(visitor.credential, claim)}"

    def redeem(self, session_id: str) -> Visitor:
        """Who ``session_id`` was issued to; :class:`Refusal` when it is forged, spent, expired or its credential ended."""
        parts = session_id.split(".")
        if len(parts) != 4:
            raise Refusal("Not a session id: shake hands again (GET /socket.io/1/)")
        nonce, expires, user, signature = parts
        try:
            user_id = base64.urlsafe_b64decode(user + "=" * (-len(user) % 4)).decode()
            deadline = int(expires)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise Refusal("Not a session id: shake hands again (GET /socket.io/1/)") from None
        now = time.time()
        if deadline < now:
            raise Refusal("The session id expired: shake hands again (GET /socket.io/1/)")
        claim = f"{nonce}.{expires}.{user}"
        signed = [(name, c) for name, c in self._credentials(user_id) if hmac.compare_digest(_signature(c, claim), signature)]
        if not signed:
            raise Refusal("The session id was not accepted: shake hands again (GET /socket.io/1/)")
        username, credential = signed[0]
        with self._lock:
            self._redeemed = {n: t for n, t in self._redeemed.items() if t >= now}
            if nonce in self._redeemed:
                raise Refusal("The session id was used already: shake hands again (GET /socket.io/1/)")
            self._redeemed[nonce] = deadline
        return Visitor(user_id, username, credential)

    def live(self, visitor: Visitor) -> bool:
        """Whether the visitor's credential still lets them in (a key not revoked, a token not ended, a user active)."""
        return any(credential == visitor.credential for _, credential in self._credentials(visitor.user_id))

    def _credentials(self, user_id: str) -> list[tuple[str, Credential]]:
        """The user's live keys and tokens (none when the user is disabled), with their username."""
        auth = self.auth
        users, keys, tokens = auth.users, auth.keys, auth.tokens
        active = sa.and_(users.c.id == user_id, users.c.is_active.is_(True))
        with auth.engine.connect() as connection:
            found = connection.execute(
                sa.select(users.c.username, sa.literal("key").label("kind"), keys.c.secret_hash.label("digest"))
                .join(keys, keys.c.user_id == users.c.id).where(active, keys.c.revoked_at.is_(None))
                .union_all(
                    sa.select(users.c.username, sa.literal("token"), tokens.c.token_hash)
                    .join(tokens, tokens.c.user_id == users.c.id).where(active, tokens.c.expires_at > utcnow())
                )
            ).all()  # fmt: skip
        return [(str(row.username), Credential(str(row.kind), str(row.digest))) for row in found]


def _signature(credential: Credential, claim: str) -> str:
    return hmac.new(credential.digest.encode(), f"{credential.kind}.{claim}".encode(), hashlib.sha256).hexdigest()
