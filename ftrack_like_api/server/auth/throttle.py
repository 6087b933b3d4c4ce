"""Throttling: refusing a name that failed too often lately, and why a request was refused.

More than a few failed sign-ins or key checks for one user name *from one address* in a
quarter of an hour are refused for a while, from that address: an attacker elsewhere
cannot lock the owner out. Many more failures for one name from anywhere stop password
sign-ins for that name (guessing spread over many addresses); a right API key is still
let in from an address without failures, as a random 256-bit key cannot be guessed. The
counts live in the database, so every worker agrees.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa

from ..engine.storage import writing
from .tables import utcnow

__all__ = ["FAILURE_WINDOW", "MAX_FAILURES", "MAX_NAME_FAILURES", "Refusal", "Throttling"]

#: Failures for one user name from one address within FAILURE_WINDOW before further tries from there are refused.
MAX_FAILURES = 10

#: Failures for one user name from anywhere within FAILURE_WINDOW before password sign-ins for it are refused.
MAX_NAME_FAILURES = 100
#: The window failures are counted in.
FAILURE_WINDOW = datetime.timedelta(minutes=15)


class Refusal(Exception):
    """Why a request was not let in: ``reason`` for the client, ``status`` for HTTP, ``retry_after`` seconds,
    ``code`` the answer's ``error_code`` when it is not the status's own (``session_expired``)."""

    def __init__(self, reason: str, status: int = 401, retry_after: int | None = None, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after, self.code = reason, status, retry_after, code


class Throttling:
    """Failures counted per name and address (a part of :class:`.Authenticator`)."""

    engine: sa.Engine
    failures: sa.Table

    def check_throttle(self, username: str, address: str = "", signing_in: bool = False) -> None:
        """Refuse (429) while ``username`` has had too many failures from ``address`` lately.

        ``signing_in`` (a password, which could be guessed): also while the name has had
        many more failures from anywhere.
        """
        since = utcnow() - FAILURE_WINDOW
        failures = self.failures
        here = failures.c.address == address
        with self.engine.connect() as connection:
            recent = connection.execute(
                sa.select(sa.func.count(sa.case((here, 1))), sa.func.min(sa.case((here, failures.c.at))),
                          sa.func.count(), sa.func.min(failures.c.at))
                .where(failures.c.username == username, failures.c.at > since)
            ).one()  # fmt: skip
        oldest = recent[1] if recent[0] >= MAX_FAILURES else recent[3] if signing_in and recent[2] >= MAX_NAME_FAILURES else None
        if oldest is not None:
            wait = int((oldest + FAILURE_WINDOW - utcnow()).total_seconds()) + 1
            raise Refusal(f"Too many failed attempts; try again in {wait} s", status=429, retry_after=wait)

    def failed(self, username: str, address: str = "") -> None:
        now = utcnow()
        with writing(self.engine) as connection:
            connection.execute(self.failures.delete().where(self.failures.c.at < now - FAILURE_WINDOW))
            connection.execute(
                self.failures.insert().values(id=str(uuid.uuid4()), username=username, address=address, at=now)
            )
