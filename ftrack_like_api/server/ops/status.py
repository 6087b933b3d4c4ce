"""``ftrack-like status``: what whoever is on call asks first, read from the database in one go.

The version and the database (its kind, revision and any upgrade it waits for), the
studio's size (rows of the main types, the event log, the server location's files), the
durable listeners (how far behind the log each is, what it parked) and the credentials
that end soon. :func:`status` gives it as a dict (``--json``); :func:`render` as a table.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...symbol import SERVER_LOCATION_ID
from ...version import __version__
from ..events.listeners import Listeners

if TYPE_CHECKING:
    from ..engine.backend import Backend

__all__ = ["MAIN_TYPES", "render", "status"]

#: The types whose rows ``status`` counts.
MAIN_TYPES = ["Project", "Sequence", "Shot", "AssetBuild", "Task", "AssetVersion", "Component", "Note", "User"]
#: Credentials ending within this long are listed.
SOON = datetime.timedelta(days=14)


def status(backend: Backend) -> dict[str, Any]:
    """What the database says of the studio now (see the module's text)."""
    from ..engine.upgrades import Upgrades

    upgrades = Upgrades()
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    with backend.engine.connect() as connection:
        revision = upgrades.current(connection)
        try:
            pending = [script.revision for script in upgrades.pending(connection)]
        except Exception as error:  # noqa: BLE001 - a newer version's revision: say so, do not fail
            pending = [f"unknown ({error})"]
        found: dict[str, Any] = {
            "version": __version__,
            "database": {"url": backend.engine.url.render_as_string(hide_password=True),
                         "kind": connection.dialect.name, "revision": revision, "head": upgrades.head,
                         "pending_upgrades": pending},  # fmt: skip
            "rows": _rows(backend, connection),
            "events": _events(backend, connection),
            "files": _files(backend, connection),
            "listeners": _listeners(backend, connection),
            "ending_soon": _ending(backend, connection, now),
        }
    return found


def render(found: dict[str, Any]) -> str:
    """``found`` as the lines ``ftrack-like status`` prints."""
    database = found["database"]
    lines = [f"ftrack_like_api {found['version']}",
             f"database   {database['url']} ({database['kind']}), revision {database['revision']}"
             + (f", waiting for {', '.join(database['pending_upgrades'])}: run `ftrack-like upgrade`"
                if database["pending_upgrades"] else " (up to date)"),
             "rows       " + ", ".join(f"{name} {count:,}" for name, count in found["rows"].items())]  # fmt: skip
    events = found["events"]
    lines.append(f"event log  last seq {events['last_seq']:,}, {events['kept']:,} kept"
                 + (f", oldest {events['oldest']}" if events["oldest"] else ""))  # fmt: skip
    files = found["files"]
    lines.append(f"files      {files['components']:,} component(s) in the server location, {files['bytes']:,} bytes")
    if found["listeners"]:
        lines.append("listeners  user / name                          behind   parked   cursor moved")
        for listener in found["listeners"]:
            lines.append(f"           {listener['user'] + ' / ' + listener['name']:<36} {listener['behind']:>6,} "
                         f"{listener['parked']:>8,}   {listener['updated']}")  # fmt: skip
    else:
        lines.append("listeners  none")
    for ending in found["ending_soon"]:
        lines.append(f"ending     {ending['what']} {ending['name']!r} of {ending['user']} on {ending['expires']}")
    return "\n".join(lines)


def _rows(backend: Backend, connection: sa.Connection) -> dict[str, int]:
    counts = {}
    for name in MAIN_TYPES:
        if name not in backend.schema:
            continue
        entity_type = backend.schema[name]
        table = backend.storage.table(entity_type)
        statement = sa.select(sa.func.count()).select_from(table)
        classifier = getattr(entity_type, "classifier", None)
        if classifier:  # a type sharing its table: only its rows
            statement = statement.where(*[table.c[column] == value for column, value in classifier.items()])
        counts[name] = int(connection.execute(statement).scalar() or 0)
    return counts


def _events(backend: Backend, connection: sa.Connection) -> dict[str, Any]:
    log = backend.storage.events["event_log"]
    first, last, oldest = connection.execute(sa.select(sa.func.min(log.c.seq), sa.func.max(log.c.seq),
                                                       sa.func.min(log.c.sent))).one()  # fmt: skip
    return {"last_seq": int(last or 0), "kept": (int(last) - int(first) + 1) if first is not None else 0,
            "oldest": oldest.isoformat(timespec="seconds") if oldest else None}  # fmt: skip


def _files(backend: Backend, connection: sa.Connection) -> dict[str, Any]:
    located = backend.storage.table(backend.schema["ComponentLocation"])
    components = backend.storage.table(backend.schema["Component"])
    count, size = connection.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(components.c.size), 0))
        .select_from(located.join(components, components.c.id == located.c.component_id))
        .where(located.c.location_id == SERVER_LOCATION_ID)
    ).one()
    return {"components": int(count or 0), "bytes": int(size or 0)}


def _listeners(backend: Backend, connection: sa.Connection) -> list[dict[str, Any]]:
    users = backend.storage.table(backend.schema["User"])
    _, positions = Listeners(backend.engine, backend.storage.events).positions(connection, users)
    return [{"user": p.username or p.user_id, "name": p.name, "seq": p.seq, "behind": p.behind, "parked": p.parked,
             "updated": p.updated.isoformat(timespec="seconds") if p.updated else None} for p in positions]  # fmt: skip


def _ending(backend: Backend, connection: sa.Connection, now: datetime.datetime) -> list[dict[str, Any]]:
    """Credentials with an end in the next :data:`SOON`: any table of named, expiring credentials."""
    users = backend.storage.table(backend.schema["User"])
    found = []
    for table in backend.storage.metadata.tables.values():
        columns = table.c
        if not {"expires_at", "user_id", "name"} <= set(columns.keys()):
            continue  # sign-in tokens (no name) end every 12 hours by design: not listed
        statement = (sa.select(columns.name, columns.expires_at, users.c.username)
                     .select_from(table.join(users, users.c.id == columns.user_id))
                     .where(columns.expires_at > now, columns.expires_at <= now + SOON))  # fmt: skip
        if "revoked_at" in columns:
            statement = statement.where(columns.revoked_at.is_(None))
        for name, expires, username in connection.execute(statement):
            found.append({"what": table.name.replace("_", " "), "name": name, "user": username,
                          "expires": expires.isoformat(timespec="minutes")})  # fmt: skip
    return sorted(found, key=lambda item: item["expires"])
