"""``ftrack-like login``, ``logout`` and ``token …``: sign in once, and personal access tokens.

A client of a server, as a script is: these never open a database.

::

    ftrack-like login https://studio.example --user jo      # asks for the password; Session() now acts as jo
    ftrack-like token create --name laptop --expires 90d     # the token, alone on the last line
    ftrack-like token list
    ftrack-like token revoke --name laptop
    ftrack-like logout                                       # ended on the server, forgotten here
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import os
import re
import sys
from typing import Any

__all__ = ["add_commands", "parse_expiry"]

#: ``--expires``' units.
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str) -> datetime.timedelta | None:
    """``90d``, ``12h``, ``2w`` … as a time span; ``never`` as None."""
    if text.strip().lower() == "never":
        return None
    found = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text.lower())
    if not found or int(found.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an expiry: a number and a unit (90d, 12h, 2w), or never")
    return datetime.timedelta(**{UNITS[found.group(2)]: int(found.group(1))})


def login(options: argparse.Namespace) -> int:
    from ..account import check_server_url
    from ..account import login as sign_in
    from ..credential_store import CredentialStore

    check_server_url(options.server)  # before asking for a password
    try:
        username = options.user or input("User name: ").strip()
        if not username:
            raise EOFError
    except EOFError:  # a script with nothing on standard input, or Ctrl-D
        raise ValueError("No user name: give --user NAME") from None
    if options.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise ValueError("No password on standard input: --password-stdin reads it from the first line")
    else:
        try:
            password = getpass.getpass(f"Password for {username} on {options.server}: ")
        except EOFError:
            raise ValueError("No password: type it, or pipe it with --password-stdin") from None
    kept = sign_in(options.server, username, password)
    until = f" until {kept.expires_at:%Y-%m-%d %H:%M} UTC" if kept.expires_at else ""
    where = CredentialStore().where(kept.server_url)
    print(f"signed in to {kept.server_url} as {kept.username}{until}; the token is kept in {where}")
    return 0


def logout(options: argparse.Namespace) -> int:
    from ..account import logout as sign_out

    kept = sign_out(options.server)
    if kept is None:
        raise ValueError(f"Not signed in to {options.server}" if options.server else "Not signed in anywhere")
    print(f"signed out of {kept.server_url} ({kept.username}): the token is ended and forgotten")
    return 0


def token_create(options: argparse.Namespace) -> int:
    from ..account import create_token

    made = create_token(_server(options), options.name, options.expires)
    until = f"expires {made['expires_at'][:16].replace('T', ' ')} UTC" if made.get("expires_at") else "never expires"
    print(f"personal token {made['name']!r} ({until}; shown once, keep it secret — use it as an API key):")
    print(made["token"])
    return 0


def token_list(options: argparse.Namespace) -> int:
    from ..account import list_tokens

    tokens = list_tokens(_server(options))
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    for token in tokens:
        state = "revoked" if token["revoked_at"] else "expired" if token["expires_at"] and token["expires_at"] <= now else "live"
        expires = f"expires {token['expires_at'][:10]}" if token["expires_at"] else "never expires"
        used = f"used {token['last_used_at'][:16].replace('T', ' ')}" if token["last_used_at"] else "never used"
        print(f"{token['name']:30} {state:8} made {token['created_at'][:10]}, {expires}, {used}")
    print(f"({len(tokens)} token{'s' if len(tokens) != 1 else ''})")
    return 0


def token_revoke(options: argparse.Namespace) -> int:
    from ..account import revoke_token

    revoke_token(_server(options), options.name)
    print(f"revoked personal token {options.name!r}: it no longer works")
    return 0


def _server(options: argparse.Namespace) -> str | None:
    """``--server``, else FTRACK_SERVER, else None: the server signed in to last."""
    return options.server or os.environ.get("FTRACK_SERVER") or None


def add_commands(command: Any, commands: Any) -> None:
    """Add ``login``, ``logout`` and ``token`` to the CLI's parser."""
    logged_in = command("login", login, "sign in to a server once: the token is kept (the credential store, or a file "
                        "only you can read) and Session() uses it")  # fmt: skip
    logged_in.add_argument("server", metavar="SERVER", help="the server's URL: https://studio.example")
    logged_in.add_argument("--user", help="your user name (asked for if not given)")
    logged_in.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    logged_out = command("logout", logout, "sign out: end the kept token on the server and forget it")
    logged_out.add_argument("server", metavar="SERVER", nargs="?", help="default: the server signed in to last")
    tokens = commands.add_parser("token", help="your personal access tokens (signed in)").add_subparsers(
        dest="action", required=True)  # fmt: skip

    def server(made: argparse.ArgumentParser) -> argparse.ArgumentParser:
        made.add_argument("--server", metavar="URL", help="default: $FTRACK_SERVER, else the server signed in to last")
        return made

    created = server(command("create", token_create, "make a personal token, used wherever an API key is (printed "
                             "alone on the last line, once)", tokens))  # fmt: skip
    created.add_argument("--name", required=True, help="where it is used: laptop, render-farm")
    created.add_argument("--expires", type=parse_expiry, default=None, metavar="AGE",
                         help="90d, 12h, 2w … or never (default never: until revoked)")  # fmt: skip
    listed = server(command("list", token_list, "list your personal tokens (never the tokens themselves)", tokens))
    revoked = server(command("revoke", token_revoke, "revoke one of your personal tokens by name", tokens))
    revoked.add_argument("--name", required=True)
    for made in (logged_in, logged_out, created, listed, revoked):
        made.set_defaults(needs_database=False)
