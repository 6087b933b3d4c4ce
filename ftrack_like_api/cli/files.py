"""``ftrack-like upload`` and ``ftrack-like download``: a version's files from and to the shell.

A client of a server (``FTRACK_SERVER``, ``FTRACK_API_USER``, ``FTRACK_API_KEY``), or of a
database in-process (``--database``), as the event commands are.

::

    ftrack-like upload renders/sh010_comp_v003.mov --version 5f0c…   # a FileComponent in the server location
    ftrack-like upload thumb.jpg --version 5f0c… --thumbnail          # … and the version's thumbnail
    ftrack-like upload big.exr --version 5f0c… --component 9e1d…      # resume a cut upload of that component
    ftrack-like download 9e1d… -o shots/                               # resumes a cut download by itself

Each prints what it made or wrote on its last line. A progress bar shows on a terminal
(``--quiet`` hides it).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import Any

from ..exceptions import FileTransferError
from ..symbol import SERVER_LOCATION_ID
from ..transport.files import DEFAULT_PART_SIZE

__all__ = ["add_commands"]


def upload(options: argparse.Namespace) -> int:
    from .events import client_session

    path = pathlib.Path(options.path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    with client_session(options) as session:
        version = session.get("AssetVersion", options.version)
        if version is None:
            raise ValueError(f"No AssetVersion {options.version} (or you may not see it)")
        location = _location(session, options.location)
        name, file_type = options.name or path.stem, path.suffix
        size = path.stat().st_size
        if location["id"] != SERVER_LOCATION_ID:
            component = _elsewhere(session, path, location, {"version_id": version["id"], "name": name})
        else:
            component = _component(session, options.component, version, name, file_type, size)
            print(f"uploading {path} ({size:,} bytes) as component {component['id']}", file=sys.stderr)
            try:
                session.transport.files().upload(component["id"], path.name, path, size, progress=not options.quiet,
                                                 part_size=options.part_size, parallel=options.parallel)  # fmt: skip
            except (FileTransferError, KeyboardInterrupt):
                print(f"the upload stopped: run the same command with --component {component['id']} to send the "
                      "rest", file=sys.stderr)  # fmt: skip
                raise
            if not session.query(f'select id from ComponentLocation where component_id is "{component["id"]}" '
                                 f'and location_id is "{location["id"]}"').first():  # fmt: skip
                session.create("ComponentLocation", {"component_id": component["id"], "location_id": location["id"],
                                                     "resource_identifier": component["id"]})  # fmt: skip
        if options.thumbnail:
            version["thumbnail_id"] = component["id"]
        session.commit()
        print(component["id"])
    return 0


def download(options: argparse.Namespace) -> int:
    from .events import client_session

    with client_session(options) as session:
        component = session.get("Component", options.component)
        if component is None:
            raise ValueError(f"No component {options.component} (or you may not see it)")
        target = _target(options.output, component)
        if target.exists() and not options.force:
            raise ValueError(f"{target} exists: --force replaces it")
        partial = target.with_name(target.name + ".part")  # what a cut download left, resumed from its end
        start = partial.stat().st_size if partial.exists() else 0
        with open(partial, "ab") as written:
            session.transport.files().download(component["id"], written, start=start, progress=not options.quiet)
        os.replace(partial, target)
        print(target)
    return 0


def _location(session: Any, name: str) -> Any:
    """The Location named ``name`` (``server`` is ftrack's server location, ``ftrack.server``)."""
    if name in ("server", "ftrack.server"):
        found = session.get("Location", SERVER_LOCATION_ID)
    else:
        found = session.query(f'Location where name is "{_quoted(name)}"').first()
    if found is None:
        raise ValueError(f"No location {name!r} on this server")
    return found


def _component(session: Any, given: str | None, version: Any, name: str, file_type: str, size: int) -> Any:
    """The FileComponent the file goes to: ``given`` (resuming its upload), else a new one, committed."""
    if given:
        component = session.get("FileComponent", given)
        if component is None or component["version_id"] != version["id"] or component["size"] != size:
            raise ValueError(f"Component {given} is not a file of {size:,} bytes on version {version['id']}")
        return component
    component = session.create("FileComponent", {"name": name, "file_type": file_type, "size": size,
                                                 "version_id": version["id"]})  # fmt: skip
    session.commit()
    return component


def _elsewhere(session: Any, path: pathlib.Path, location: Any, data: dict[str, Any]) -> Any:
    """A component made in another location through the session's locations (their accessors move the bytes)."""
    create_component = getattr(session, "create_component", None)
    if create_component is None:
        raise ValueError(f"This client stores files only in the server location, not in {location['name']!r}")
    return create_component(str(path), data=data, location=location)


def _target(output: str | None, component: Any) -> pathlib.Path:
    """Where a component's file goes: ``output``, or its name in ``output`` (a folder) or here."""
    name = f"{component['name']}{component['file_type'] or ''}".replace("\0", "")
    name = pathlib.PurePath(name.replace("\\", "/")).name or component["id"]  # never a path of the server's choosing
    if output is None:
        return pathlib.Path(name)
    chosen = pathlib.Path(output)
    return chosen / name if chosen.is_dir() else chosen


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def add_commands(command: Any) -> None:
    """Add ``upload`` and ``download`` to the CLI's parser (``command(name, handler, help)`` makes one)."""
    uploaded = command("upload", upload, "upload a file as a FileComponent of a version, into the server location "
                       "(FTRACK_SERVER, FTRACK_API_USER, FTRACK_API_KEY)")  # fmt: skip
    uploaded.add_argument("path")
    uploaded.add_argument("--version", required=True, metavar="ID", help="the AssetVersion the file belongs to")
    uploaded.add_argument("--thumbnail", action="store_true", help="make it the version's thumbnail too")
    uploaded.add_argument("--location", default="server", help="the location to store it in (default: server)")
    uploaded.add_argument("--name", help="the component's name (default: the file's name without its suffix)")
    uploaded.add_argument("--component", metavar="ID", help="send the rest of a cut upload to this component")
    uploaded.add_argument("--part-size", type=int, default=DEFAULT_PART_SIZE, metavar="BYTES",
                          help=f"send a larger file in parts of this size (default {DEFAULT_PART_SIZE:,})")  # fmt: skip
    uploaded.add_argument("--parallel", type=int, default=4, help="parts sent at once (default 4)")
    uploaded.add_argument("--quiet", action="store_true", help="no progress bar")
    downloaded = command("download", download, "download a component's file (a cut download resumes when run again)")
    downloaded.add_argument("component", metavar="COMPONENT_ID")
    downloaded.add_argument("-o", "--output", metavar="PATH", help="a file or a folder (default: its name, here)")
    downloaded.add_argument("--force", action="store_true", help="replace a file that is there")
    downloaded.add_argument("--quiet", action="store_true", help="no progress bar")
