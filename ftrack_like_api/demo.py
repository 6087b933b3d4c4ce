"""The demo studio: served and exercised end to end (``ftrack-like demo``).

It opens a studio database (a new SQLite file unless ``--database`` names one), starts
the HTTP server on 127.0.0.1 (an ephemeral port), gives ``admin`` an API key, and then,
as a pipeline script would, through a ``Session`` over HTTP: builds a production — a
project, sequences, shots, tasks, artists, assignments, versions, a note, metadata and
a custom attribute — in one commit, tours it with queries, changes it (and a callback
subscribed to ``ftrack.update`` hears of the change), shows that a commit with a
mistake in it is refused whole and says where, and publishes a version's frames and
thumbnail to the server location, then reads them back through signed links. Each step
says what it does.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import pathlib
import sys
import tempfile
import time
from typing import Any, Callable, Iterator, Sequence, TextIO

from .exceptions import Error, ServerError
from .query import parse
from .server import Backend
from .session import Session
from .symbol import SERVER_LOCATION_ID

__all__ = ["ProgressBar", "add_arguments", "build_production", "main", "serving"]

TOUR = [
    ("Tasks still to start, with who is assigned",
     "select name, parent.name, assignments.resource.username from Task "
     "where status.state.short is NOT_STARTED order by parent.name, name"),
    ("Shots of sq010 that are not omitted",
     'select name from Shot where parent.name is "sq010" and not status.name like "%Omit%" order by name'),
    ("Tasks assigned to jo", 'select name, parent.name from Task where assignments any (resource.username is "jo") '
                             "order by parent.name"),
    ("Everything under sq020, each as its own type",
     'select name from TypedContext where ancestors any (name is "sq020") order by name'),
    ("Versions of comp assets", 'select version, asset.name from AssetVersion where asset.name like "%comp" '
                                "order by asset.name, version limit 4"),
]  # fmt: skip


#: Creates sent per commit when the production is big; the default one is a single commit.
COMMIT_EVERY = 5000
#: Rows of each tour query printed.
SHOWN = 8
#: A 4 x 4 orange PNG, the demo's thumbnail.
THUMBNAIL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGM4UaEBRwzEcQBTUhaBGaoOzwAAAABJRU5ErkJggg=="
)


@contextlib.contextmanager
def serving(backend: Backend) -> Iterator[str]:
    """The HTTP server for ``backend`` on 127.0.0.1, an ephemeral port, in a thread; its URL."""
    from .server.app import create_app, serving as serving_app

    with serving_app(create_app(backend)) as url:
        yield url


class ProgressBar:
    """A one-line progress bar on a terminal; elsewhere (a log, a pipe) only its last line.

    ::

        bar = ProgressBar(200, "shots", stream=sys.stdout)
        bar.update(50, "3 commits")   # Building  [######··················]  50/200 shots  3 commits
        bar.close()
    """

    def __init__(self, total: int, unit: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(1, total)
        self.unit = unit
        self.stream = stream or sys.stdout
        self.width = width
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._line = ""
        self._shown = 0.0

    def update(self, done: int, note: str = "") -> None:
        filled = self.width * min(done, self.total) // self.total
        self._line = f"  [{'#' * filled}{'·' * (self.width - filled)}] {done:,}/{self.total:,} {self.unit}  {note}"
        now = time.monotonic()
        if self.live and (now - self._shown > 0.05 or done >= self.total):
            self._shown = now
            self.stream.write("\r" + self._line.ljust(79))
            self.stream.flush()

    def close(self) -> None:
        self.stream.write(("\r" + self._line.ljust(79) if self.live else self._line) + "\n")
        self.stream.flush()


def build_production(
    session: Session,
    sequences: int = 2,
    shots: int = 3,
    commit_every: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Build the demo production through ``session``: what was made, and how many commits it took.

    ``sequences`` × ``shots`` shots of three tasks each (assigned, with a comp asset of two
    versions per shot). Creates are recorded and sent once ``commit_every`` of them are
    pending, so the default production is one commit; what is left at the end stays
    pending for the caller to commit. ``progress(shots_done, commits)`` is called per shot.
    """
    schema = session.query('ProjectSchema where name is "VFX"').one()
    types = {t["name"]: t for t in session.query("select name from Type")}
    statuses = {s["name"]: s for s in session.query("select name from Status")}
    project = session.create("Project", {"name": "demo", "full_name": "The Demo", "project_schema": schema})
    artists = {name: session.create("User", {"username": name, "first_name": name.title()}) for name in ("jo", "sam", "kit")}
    number = session.query('CustomAttributeType where name is "number"').one()
    session.create("CustomAttributeConfiguration", {"key": "fps", "label": "FPS", "entity_type": "task", "type": number,
                                                    "object_type_id": "bad911de-3bd6-47b9-8b46-3476e237cb36", "default": 24})  # fmt: skip
    work = [("Compositing", "comp", "jo"), ("Animation", "anim", "sam"), ("Lighting", "light", "kit")]
    stages = ["Approved", "In progress", "Not started"]
    comp = session.query('AssetType where short is "comp"').one()
    made: list[Any] = []
    commits = creates = 0
    for s in range(sequences):
        sequence = session.create("Sequence", {"name": f"sq{(s + 1) * 10:03d}", "parent": project})
        for h in range(shots):
            shot = session.create("Shot", {"name": f"{sequence['name']}_sh{(h + 1) * 10:03d}", "parent": sequence})
            made.append(shot)
            for t, (task_type, task_name, artist) in enumerate(work):
                task = session.create("Task", {"name": task_name, "parent": shot, "type": types[task_type],
                                               "status": statuses[stages[(s + h + t) % 3]], "bid": [2.0, 5.0, 3.0][t]})  # fmt: skip
                session.create("Appointment", {"type": "assignment", "context": task, "resource": artists[artist]})
                if task_name == "comp":
                    asset = session.create("Asset", {"name": f"{shot['name']}_comp", "parent": shot, "type": comp})
                    for _ in range(2):
                        session.create("AssetVersion", {"asset": asset, "task": task})
            pending = len(session.recorded_operations)
            if pending >= commit_every:
                session.commit()
                commits += 1
                creates += pending
            if progress:
                progress(len(made), commits)
    session.create("Note", {"content": "Lovely sky, warmer please.", "parent_id": project["id"], "parent_type": "Project"})
    creates += len(session.recorded_operations)
    return {"project": project, "shots": made, "commits": commits, "creates": creates}


def _listen(session: Session, entity_id: str) -> list[dict[str, Any]]:
    """Subscribe to the ``ftrack.update`` events about ``entity_id``: the list they are put in."""
    heard: list[dict[str, Any]] = []

    def on_update(event: Any) -> None:
        heard.extend(e for e in event["data"].get("entities", []) if e.get("entityId") == entity_id)

    session.event_hub.subscribe("topic=ftrack.update", on_update)
    session.event_hub.connect()
    return heard


def _heard(session: Session, heard: list[dict[str, Any]], timeout: float = 10.0) -> None:
    """Run the event hub's callbacks until ``heard`` has something (at most ``timeout`` seconds); say what."""
    deadline = time.monotonic() + timeout
    while not heard and time.monotonic() < deadline:
        session.event_hub.wait(0.05)
    session.event_hub.disconnect()
    if not heard:
        print(f"  (no ftrack.update about it within {timeout:g} s)")
    for entity in heard:
        print(f"  a callback subscribed to ftrack.update heard: {entity['action']} {entity['entity_type']} "
              f"{sorted(entity.get('changes', {}))}")  # fmt: skip


def _selected(expression: str) -> dict[str, Any]:
    """The attribute tree a query selects: ``select name, parent.name`` → {name: {}, parent: {name: {}}}."""
    tree: dict[str, Any] = {}
    for projection in parse(expression).projections:
        level = tree
        for segment in getattr(projection, "segments", ()):
            level = level.setdefault(segment, {})
    return tree


def _show(value: Any, tree: dict[str, Any]) -> str:
    """What a query selected of an entity, references by what was selected of them."""
    if isinstance(value, (list, tuple)) or hasattr(value, "_items"):
        return "[" + ", ".join(_show(item, tree) for item in value) + "]"
    if hasattr(value, "entity_type"):
        shown = ", ".join(f"{name}={_show(value[name], below)}" for name, below in tree.items())
        return f"{value.entity_type}({shown})"
    return repr(value)


def _publish(session: Session, folder: pathlib.Path, shot: Any) -> None:
    """Publish three frames and a thumbnail on a version of ``shot`` to the server location; read them back."""
    import requests

    renders = folder / "renders"
    renders.mkdir()
    for frame in (1001, 1002, 1003):
        (renders / f"{shot['name']}.{frame}.exr").write_bytes(frame.to_bytes(4, "big") * 1024)
    (renders / "thumbnail.png").write_bytes(THUMBNAIL)
    version: Any = session.query("AssetVersion where asset.parent.id is :shot order by version desc",
                                 shot=shot["id"]).first()
    server: Any = session.get("Location", SERVER_LOCATION_ID)  # a Location: its methods come from a mixin
    sequence = session.create_component(f"{renders}/{shot['name']}.%04d.exr [1001-1003]",
                                        {"name": "main", "version": version}, location=server)  # fmt: skip
    version.create_thumbnail(renders / "thumbnail.png")
    print(f"  {sequence['name']}: {len(sequence['members'])} frames, {sequence['size']:,} bytes, uploaded to "
          f"{server['name']} on {version['asset']['name']} v{version['version']}, and a thumbnail")  # fmt: skip
    first = sequence["members"][0]
    url = server.get_url(first)
    body = requests.get(url, timeout=30).content
    same = body == (renders / f"{shot['name']}.1001.exr").read_bytes()
    print(f"  read back through a signed link ({'the same bytes' if same else 'DIFFERENT BYTES'}, no key in it):")
    print(f"    {url.split('?')[0]}?…")
    thumbnail = session.query("select thumbnail_url from AssetVersion where id is :v", v=version["id"]).one()
    image = requests.get(thumbnail["thumbnail_url"]["url"], params={"size": 64}, timeout=30)
    if image.ok:
        print(f"  its thumbnail_url serves a {image.headers.get('content-type')} of {len(image.content):,} bytes")
    else:
        print(f"  its thumbnail_url answered {image.status_code}: {image.text}")


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's own options (``ftrack-like demo`` adds ``--database`` itself)."""
    parser.add_argument("--sequences", type=_positive, default=2, help="sequences to build (default 2)")
    parser.add_argument("--shots", type=_positive, default=3, help="shots per sequence, 3 tasks each (default 3)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ftrack-like demo", description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="database URL (default: a new SQLite file in a temporary folder)")
    add_arguments(parser)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = options.database or f"sqlite:///{pathlib.Path(folder) / 'studio.db'}"
        started = time.perf_counter()
        with Backend.from_url(url) as backend, serving(backend) as server:
            if options.database:  # a database of the user's: the demo's files go to its temporary folder
                backend.files.configure(pathlib.Path(folder) / "files")
            key = backend.auth.create_key("admin", "demo")  # type: ignore[union-attr]
            print(f"Studio database {url} ({len(backend.schema.to_ftrack())} entity types), "
                  f"served at {server} ({time.perf_counter() - started:.2f} s)")  # fmt: skip
            print("An API key for admin, named 'demo', and a Session over HTTP with it.")
            with Session(server_url=server, api_user="admin", api_key=key, schema_cache_path=False) as session:
                if session.query('Project where name is "demo"').first() is not None:
                    raise Error(f"{url} has a demo production already: run the demo without --database "
                                f"(a new database each time), or name another one")  # fmt: skip
                total = options.sequences * options.shots
                print(f"\nBuilding the production: {options.sequences} sequence(s) of {options.shots} shot(s), "
                      f"3 tasks each, recorded in the session and sent {COMMIT_EVERY:,} creates at most per commit")  # fmt: skip
                bar = ProgressBar(total, "shots")
                start = time.perf_counter()
                made = build_production(session, options.sequences, options.shots, commit_every=COMMIT_EVERY,
                                        progress=lambda done, commits: bar.update(done, f"{commits} commit(s)"))  # fmt: skip
                session.commit()
                commits = made["commits"] + 1
                bar.update(total, f"{commits} commit(s)")
                bar.close()
                sent = "sent in one commit" if commits == 1 else f"sent in {commits} commits"
                print(f"Built the production: {len(made['shots']):,} shots, {made['creates']:,} creates recorded, "
                      f"{sent} ({time.perf_counter() - start:.2f} s)")  # fmt: skip
                for title, expression in TOUR:
                    print(f"\n{title}\n  {expression}")
                    selected = _selected(expression)
                    found = session.query(expression).all()
                    for entity in found[:SHOWN]:
                        print(f"    {_show(entity, selected)}")
                    if len(found) > SHOWN:
                        print(f"    … and {len(found) - SHOWN:,} more")
                calls = []
                send = session.transport.handle

                def counted(batch: Any) -> Any:
                    calls.append(batch)
                    return send(batch)

                session.transport.handle = counted  # type: ignore[method-assign]
                shots = session.query("select name from Shot").all()
                statuses = sorted({shot["status"]["name"] for shot in shots})
                print(f"\nRead the status of {len(shots)} shots, never fetched: {len(calls) - 1} more round trip(s) "
                      f"for all of them -> {statuses}")  # fmt: skip
                shot = made["shots"][0]
                heard = _listen(session, shot["id"])
                shot["custom_attributes"]["fps"] = 25
                shot["description"] = "hero shot"
                session.commit()
                print(f"Changed {shot['name']}: fps {shot['custom_attributes']['fps']}, description {shot['description']!r}")
                _heard(session, heard)
                print("\nA commit with a mistake in it is refused whole, and says where:")
                session.create("Shot", {"name": "sq010_sh999", "parent": shot["parent"]})
                session.create("Task", {"name": "comp", "parent_id": "no-such-shot"})
                try:
                    session.commit()
                except ServerError as error:
                    print(f"  {error}")
                session.rollback()
                left = session.query('Shot where name is "sq010_sh999"').all()
                print(f"  after rollback: {len(left)} shots named sq010_sh999, {len(session.recorded_operations)} changes pending")
                print("\nPublishing: a version's frames and its thumbnail, kept by the server (--storage)")
                _publish(session, pathlib.Path(folder), shot)
        print(f"\nDone in {time.perf_counter() - started:.2f} s.")
    return 0
