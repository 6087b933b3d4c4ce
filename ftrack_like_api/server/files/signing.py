"""Signed, expiring tokens: the upload URLs' and the download links' only credential.

A token is ``<payload>.<signature>``, both base64url: the payload is JSON naming what it
allows (``purpose``, and the upload, part, component, user and size limit it is for) and
until when (``exp``, Unix seconds); the signature is HMAC-SHA256 over the payload. The
secret lives in the database's ``ftrack_like_meta`` table, made on first use, so every
worker (and every machine) serving one database checks every other's tokens. Anything
wrong — a changed byte, another purpose, a time past — is a :class:`TokenRefused`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import Any, Mapping

import sqlalchemy as sa

from ...exceptions import Error

__all__ = ["SECRET_KEY", "Signer", "TokenRefused", "new_secret"]

#: The ``ftrack_like_meta`` key holding the secret.
SECRET_KEY = "files_signing_secret"


class TokenRefused(Error):
    """A token that is not one this server signed, is for something else, or has expired."""


def new_secret() -> str:
    """A new signing secret, as the meta table keeps it (hex)."""
    return secrets.token_hex(32)


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks tokens with the database's secret (read, or made, on first use)."""

    def __init__(self, engine: sa.Engine, meta: sa.Table) -> None:
        self.engine, self.meta = engine, meta
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    def secret(self) -> bytes:
        """The database's signing secret; the first worker to need one makes it."""
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    self._secret = self._load()
        return self._secret

    def _load(self) -> bytes:
        meta = self.meta
        read = sa.select(meta.c.value).where(meta.c.key == SECRET_KEY)
        with self.engine.connect() as connection:
            found = connection.execute(read).scalar()
        if found is None:  # a database made without one: the first worker to need it makes it
            with self.engine.connect().execution_options(ftrack_writes=True) as connection, connection.begin():
                try:
                    with connection.begin_nested():
                        connection.execute(meta.insert().values(key=SECRET_KEY, value=new_secret()))
                except sa.exc.IntegrityError:
                    pass  # another worker made it meanwhile: theirs counts
                found = connection.execute(read).scalar()
        return bytes.fromhex(str(found))

    def sign(self, purpose: str, claims: Mapping[str, Any], lifetime: float) -> str:
        """A token for ``purpose`` carrying ``claims`` (JSON values), good for ``lifetime`` seconds."""
        payload = _encode(json.dumps({**claims, "purpose": purpose, "exp": int(time.time() + lifetime)},
                                     separators=(",", ":"), sort_keys=True).encode())  # fmt: skip
        return f"{payload}.{self._signature(payload)}"

    def verify(self, token: object, purpose: str) -> dict[str, Any]:
        """The claims of a good ``token`` for ``purpose``; else :class:`TokenRefused`."""
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
            raise TokenRefused("Not a token of this server")
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._signature(payload)):
            raise TokenRefused("Not a token of this server")
        try:
            claims = json.loads(_decode(payload))
        except ValueError:
            raise TokenRefused("Not a token of this server") from None
        if not isinstance(claims, dict) or claims.get("purpose") != purpose:
            raise TokenRefused("The token is not for this")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            raise TokenRefused("The token has expired: ask for a new one")
        return claims

    def _signature(self, payload: str) -> str:
        return _encode(hmac.new(self.secret(), payload.encode(), hashlib.sha256).digest())
