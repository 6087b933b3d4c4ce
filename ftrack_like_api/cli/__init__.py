"""``ftrack-like``: run the server and manage a studio database from the command line.

The application layer: it uses the server (to serve and to manage) and the client
(``shell``), which never import each other.

The server's commands take ``--database URL`` (default: ``FTRACK_LIKE_DATABASE``, else a
SQLite file in the user data folder); the client commands act in the studio ``studio.py``
names, as its user. Errors are one readable line and a non-zero exit.

::

    ftrack-like init
    ftrack-like user add jo --role user
    ftrack-like key create --user jo --name nuke-publisher      # the key, alone on the last line
    ftrack-like user logout-everywhere jo                       # end jo's sign-in tokens
    ftrack-like upgrade                                         # after installing a new version
    ftrack-like serve --host 0.0.0.0 --port 8000 --workers 4
    ftrack-like serve --storage /mnt/studio/files --max-upload 50G  # the server location's files
    ftrack-like query 'select name, status.name from Task limit 5'
    ftrack-like listen --plugin-path plugins --name studio      # durable listeners (cli/events.py)
    ftrack-like upload plate.exr --version ID                   # files (cli/files.py)
    ftrack-like backup /backups/today                           # backup, restore, status (cli/ops.py)

The commands live by group, each module adding its own to the parser: ``account.py``
(login, logout, token), ``admin.py``
(init, upgrade, user, key, attribute), ``serve.py``, ``explore.py`` (query, shell,
demo), ``events.py`` (listen, events), ``files.py`` (upload, download) and ``ops.py``
(backup, restore, status);
``database.py`` says where the studio database is, ``studio.py`` which studio (and which
user) a client command reaches.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

from ..exceptions import Error
from ..version import __version__
from .database import default_database
from .serve import app_from_environment, default_concurrency

__all__ = ["app_from_environment", "default_concurrency", "default_database", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    # The server's modules load here, not when this module is imported, so that main() can
    # tell a client-only install which extra to add.
    from . import account, admin, events, explore, files, ops, serve, studio

    top = argparse.ArgumentParser(prog="ftrack-like", description="Work in a studio (sign in with `ftrack-like login "
                                  "URL`, then query, upload, listen …), or run its server and manage its database.")  # fmt: skip
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database", default=None, help="database URL (default: $FTRACK_LIKE_DATABASE or a SQLite file "
                                                        "in the user data folder)")  # fmt: skip
    # A client command's --database is one way among others to say where (studio.py): never a default.
    on_a_studio = argparse.ArgumentParser(add_help=False)
    on_a_studio.add_argument("--database", default=None, help="a database on this machine, opened here as admin "
                             "(instead of a server)")  # fmt: skip
    commands = top.add_subparsers(dest="command", required=True, metavar="command")

    # The clients of a studio: they take --server, and say which studio and user they act in (studio.py).
    clients = {explore.query, explore.shell, events.listen, events.tail, events.parked, events.replay, files.upload,
               files.download, *admin.ON_A_STUDIO}  # fmt: skip

    def command(name: str, handler: Any, help: str, parent: Any = commands) -> argparse.ArgumentParser:
        made = parent.add_parser(name, parents=[on_a_studio if handler in clients else common], help=help,
                                 description=help)  # fmt: skip
        made.set_defaults(handler=handler)
        if handler in clients:
            studio.add_arguments(made)
        return made

    account.add_commands(command, commands)
    admin.add_commands(command, commands)
    serve.add_commands(command)
    explore.add_commands(command)
    events.add_commands(command, commands)
    files.add_commands(command)
    ops.add_commands(command)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    try:
        top = parser()
    except ModuleNotFoundError as missing:
        return _needs_server_extra(missing)
    options, unknown = top.parse_known_args(argv)
    if unknown and not hasattr(options, "missing"):  # a server's command on a client-only install takes anything
        top.error(f"unrecognized arguments: {' '.join(unknown)}")
    if options.database is None and options.command != "demo" and getattr(options, "needs_database", True):
        options.database = default_database()
    try:
        return int(options.handler(options) or 0)
    except (Error, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)  # one line; a query error adds the line with its caret
        return 1
    except BrokenPipeError:
        # The reader went away (`ftrack-like query … | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as missing:  # uvicorn or another part of the server extra alone
        return _needs_server_extra(missing)
    except Exception as error:  # a bug of ours: one line here, the traceback only when asked for
        print(f"error: {type(error).__name__}: {error} (a bug: FTRACK_LIKE_DEBUG=1 shows where)", file=sys.stderr)
        if os.environ.get("FTRACK_LIKE_DEBUG"):
            raise
        return 1


def _needs_server_extra(missing: ModuleNotFoundError) -> int:
    """Say which extra to install when a package of the server extra is missing (a bug of ours raises)."""
    if not missing.name or missing.name.split(".")[0] == __package__.split(".")[0]:
        raise missing
    print(f"error: ftrack-like needs the server extra ({missing.name} is not installed): "
          "pip install 'ftrack-like-api[server]'", file=sys.stderr)  # fmt: skip
    return 1

