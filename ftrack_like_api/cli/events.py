"""``ftrack-like listen`` and ``ftrack-like events …``: durable listeners and the event log, from the command line.

A client of a server (or of a database, in embedded mode), as a script is: ``studio.py``
says which studio and which user (``--server``, ``FTRACK_SERVER`` and ``FTRACK_API_*``,
the kept sign-in, or ``--database``).

::

    ftrack-like listen --plugin-path plugins --name studio-listeners     # until Ctrl-C / SIGTERM
    ftrack-like events tail 'topic=ftrack.update'                        # the live stream, one JSON line each
    ftrack-like events parked --name studio-listeners                    # what kept failing
    ftrack-like events replay --plugin-path plugins --name studio-listeners
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from ..exceptions import EventHubConnectionError
from .studio import client_session

__all__ = ["add_commands", "client_session"]

log = logging.getLogger(__name__)


def _logging(options: argparse.Namespace) -> None:
    logging.basicConfig(level=getattr(logging, str(options.log_level).upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a new embedded database says nothing worth reading


def _stop_on_signals(stop: Any) -> None:
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Not in the handler itself: it runs inside the main thread's read of the stream it closes.
            signal.signal(signum, lambda *_: threading.Thread(target=stop, daemon=True).start())


def listen(options: argparse.Namespace) -> int:
    from ..event.listener import Listener

    _logging(options)
    with client_session(options) as session:
        if not session.plugins:
            print(f"error: no plugin registered from {', '.join(options.plugin_path)}", file=sys.stderr)
            return 1
        listener = Listener(session.event_hub, options.name, attempts=options.attempts, backoff=options.backoff)
        _stop_on_signals(listener.stop)
        log.info("listening as %s with %d plugin(s); Ctrl-C stops", options.name, len(session.plugins))
        listener.run()
        log.info("stopped at %s: %d event(s) handled, %d parked", listener.seq, listener.handled, listener.parked)
    return 0


def tail(options: argparse.Namespace) -> int:
    """Print the matching events as they come, until stopped; through server restarts, from where it was."""
    with client_session(options) as session:
        channel = session.event_hub.channel
        subscriptions = [(options.expression, {"id": session.event_hub.id})]
        stopped = threading.Event()
        streams: list[Any] = []

        def stop() -> None:
            stopped.set()
            for stream in streams:
                stream.close()

        _stop_on_signals(stop)
        seq, backoff = options.after, 0.1
        while not stopped.is_set():
            try:
                stream = channel.stream(seq, subscriptions)
                streams[:] = [stream]
                if stopped.is_set():
                    stream.close()
                    break
                for line in stream:
                    backoff = 0.1
                    if "heartbeat" in line:
                        seq = max(seq or 0, int(line["heartbeat"]))
                    else:
                        print(json.dumps(line), flush=True)
                        seq = int(line["seq"])
                if not stopped.is_set():
                    log.info("the server ended the stream; connecting again from %s", seq)
                    stopped.wait(0.1)
            except EventHubConnectionError as error:
                if stopped.is_set():
                    break
                log.warning("the server does not answer (%s); again from %s in %.1f s", error, seq, backoff)
                stopped.wait(backoff)
                backoff = min(backoff * 2, 10.0)
    return 0


def parked(options: argparse.Namespace) -> int:
    with client_session(options) as session:
        found = session.event_hub.channel.parked(options.name)
    if options.json:
        print(json.dumps(found, indent=2))
        return 0
    for item in found:
        event = item["event"] or {}
        error = item["error"].strip().splitlines()
        print(f"{item['cursor']}  seq {item['seq']}  {event.get('topic', '(no longer in the log)')}  {item['event_id']}  "
              f"attempts {item['attempts']}  parked {item['parked_at']}")  # fmt: skip
        print(f"    {error[-1] if error else ''}")
    print(f"({len(found)} parked)")
    return 0


def replay(options: argparse.Namespace) -> int:
    from ..event.listener import Listener

    _logging(options)
    with client_session(options) as session:
        done, failed = Listener(
            session.event_hub, options.name, attempts=options.attempts, backoff=options.backoff
        ).replay()
    print(f"{done} replayed, {failed} failed again (still parked)")
    return 0 if not failed else 1


def add_commands(command: Any, commands: Any) -> None:
    """Add ``listen`` and ``events`` to the CLI's parser (``command(name, handler, help, parent)`` makes one)."""

    def retries(made: argparse.ArgumentParser) -> None:
        made.add_argument("--attempts", type=int, default=3, help="tries of a failing callback before the event is "
                          "parked (default 3)")  # fmt: skip
        made.add_argument("--backoff", type=float, default=0.5, metavar="SECONDS",
                          help="wait before the second try, doubling (default 0.5)")  # fmt: skip
        made.add_argument("--log-level", default="info", help="default info")

    listened = command("listen", listen, "run plugins as a durable listener: events from its server-kept cursor, "
                       "each once, in order (FTRACK_SERVER, FTRACK_API_USER, FTRACK_API_KEY)")  # fmt: skip
    listened.add_argument("--plugin-path", action="append", required=True, metavar="DIR",
                          help="a folder (or file) of plugins defining register(session); repeatable")  # fmt: skip
    listened.add_argument("--name", required=True, help="the listener's name: its cursor is kept under it")
    retries(listened)
    events = commands.add_parser("events", help="the event log: tail it, list and replay parked events").add_subparsers(
        dest="action", required=True)  # fmt: skip
    tailed = command("tail", tail, "print the live events (one JSON line each) that EXPRESSION matches", events)
    tailed.add_argument(
        "expression", nargs="?", default="topic=*", help="a subscription expression (default: every event)"
    )
    tailed.add_argument(
        "--after", type=int, default=None, metavar="SEQ", help="from this sequence number (default: now)"
    )
    parked_ = command("parked", parked, "list the events listeners parked", events)
    parked_.add_argument("--name", help="only this listener's")
    parked_.add_argument("--json", action="store_true")
    replayed = command("replay", replay, "run a listener's parked events again with its plugins", events)
    replayed.add_argument("--plugin-path", action="append", required=True, metavar="DIR")
    replayed.add_argument("--name", required=True, help="the listener whose parked events to replay")
    retries(replayed)
