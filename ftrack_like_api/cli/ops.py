"""``ftrack-like backup``, ``restore`` and ``status``: a studio's database and files, out and back in, and how it is.

::

    ftrack-like status --database postgresql://…     # version, revision, sizes, listeners' lag
    ftrack-like backup /backups/2026-12-06 --database postgresql://… --storage /mnt/studio/files
    ftrack-like restore /backups/2026-12-06 --database sqlite:////srv/studio/studio.db

A backup is taken while the servers run (see :mod:`ftrack_like_api.server.ops.backup`); a
restore builds a new studio, on either kind of database, from it.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

__all__ = ["add_commands"]


def _storage(options: argparse.Namespace, backend: Any) -> Any:
    """The store the server keeps its files in: ``--storage``, else what ``serve`` would use."""
    if options.storage:
        backend.files.configure(options.storage)
    try:
        return backend.files.store
    except Exception:  # noqa: BLE001 - NoStorage: no files kept (a PostgreSQL server started without --storage)
        return None


def backup(options: argparse.Namespace) -> int:
    from ..server.engine.backend import Backend
    from ..server.engine.upgrades import Upgrades
    from ..server.ops.backup import BackupError
    from ..server.ops.backup import backup as make_backup

    with Backend.from_url(options.database) as backend:
        with backend.engine.connect() as connection:
            revision = Upgrades().current(connection)
        say = (lambda what: print(f"  {what}", file=sys.stderr)) if options.verbose else None
        try:
            manifest = make_backup(backend.engine, backend.storage.metadata, pathlib.Path(options.destination),
                                   _storage(options, backend), revision, say)  # fmt: skip
        except BackupError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    rows = sum(t["rows"] for t in manifest["tables"].values())
    files = manifest["files"]
    print(f"backed up {options.database} at revision {revision} to {options.destination}: {rows:,} rows in "
          f"{len(manifest['tables'])} tables, {files['count']} file(s) ({files['bytes']:,} bytes), event log at seq "
          f"{manifest.get('events', {}).get('last_seq', 0)}")  # fmt: skip
    if files["missing"]:
        print(f"warning: {len(files['missing'])} file(s) were removed while the backup ran (their components were "
              "deleted since the snapshot): listed in the manifest", file=sys.stderr)  # fmt: skip
    return 0


def restore(options: argparse.Namespace) -> int:
    from ..server.ops.backup import BackupError
    from ..server.ops.restore import restore as run_restore

    say = (lambda what: print(f"  {what}", file=sys.stderr)) if options.verbose else None
    try:
        done = run_restore(pathlib.Path(options.source), options.database, options.storage, options.replace, say)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if options.json:
        print(json.dumps(done, indent=2))
    else:
        print(f"restored {options.source} into {options.database}: {sum(done['tables'].values()):,} rows, "
              f"{done['files']} file(s), at revision {done['revision']}")  # fmt: skip
    return 0


def status(options: argparse.Namespace) -> int:
    from ..server.engine.backend import Backend
    from ..server.ops.status import render
    from ..server.ops.status import status as read_status

    with Backend.from_url(options.database) as backend:
        found = read_status(backend)
    print(json.dumps(found, indent=2) if options.json else render(found))
    return 0


def add_commands(command: Any) -> None:
    """Add ``backup``, ``restore`` and ``status`` to the CLI's parser (``command(name, handler, help)`` makes one)."""
    made = command("status", status, "the version, the database's revision and pending upgrades, sizes, durable "
                   "listeners' lag and parked events, credentials ending soon")  # fmt: skip
    made.add_argument("--json", action="store_true", help="as JSON")
    made = command("backup", backup, "write a consistent backup of the database and its files to a new folder, "
                   "while the servers run")  # fmt: skip
    made.add_argument("destination", metavar="DEST", help="a new (or empty) folder")
    made.add_argument("--storage", metavar="DIR", help="where the server keeps its files, as given to serve "
                      "(default: as serve would: $FTRACK_LIKE_STORAGE, else beside a SQLite file)")  # fmt: skip
    made.add_argument("--verbose", action="store_true", help="say each step")
    made = command("restore", restore, "build a studio database (and its files) from a backup folder")
    made.add_argument("source", metavar="SOURCE", help="a folder `ftrack-like backup` wrote")
    made.add_argument("--storage", metavar="DIR", help="where the restored files go (a folder or s3://…; default: "
                      "as serve would keep them: $FTRACK_LIKE_STORAGE, else beside a SQLite file)")  # fmt: skip
    made.add_argument("--replace", action="store_true", help="overwrite a database that holds a studio already")
    made.add_argument("--json", action="store_true", help="say what was restored as JSON")
    made.add_argument("--verbose", action="store_true", help="say each step")
