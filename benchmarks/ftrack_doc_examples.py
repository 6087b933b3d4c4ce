"""ftrack's documentation examples run with the official client against our server.

Someone coming from ftrack copies the examples of ftrack-python's documentation (``doc/``
of its last release with docs, v3.0.0). Give this a checkout of ftrack-python
(``--source``; its files are read, never copied into this repository) and it:

1. takes each example page (:data:`PAGES`), and each literal block in it (after ``::`` or
   ``.. code-block:: python``); a doctest block (``>>>``) is its input lines;
2. makes a new studio (``ftrack_like_api.testing.serve``: a SQLite file, a server on
   127.0.0.1) and a venv of its own with ``ftrack-python-api`` (made once, ``--venv``);
3. runs each page's blocks in order in one process of the official client, sharing one
   namespace, after a prelude of its own (:data:`PRELUDE`: the session, and the entities the
   examples name without making them — ``task``, ``my_project``, ``user`` …); a query a
   block makes but never reads is read, so it runs on the server too (the encoding page's
   movie is made by ``ffmpeg``, which the server needs to encode it);
4. prints each block's outcome: ``passed``, ``failed`` (and why), ``wrong`` (an example
   that fails on any server, ftrack's too: :data:`WRONG` says why), ``not code`` (query
   text, output, a placeholder), and the totals.

The invitation examples mail: the servers send to a mail server of the script's own on
127.0.0.1 (aiosmtpd, of the ``test`` extra; without it they are refused, as a server
without ``--smtp`` refuses them), and the mails it received are counted at the end.

Usage::

    git -C MIRROR archive v3.0.0 doc | tar -x -C /tmp/ftrack-python-doc
    .venv/bin/python benchmarks/ftrack_doc_examples.py --source /tmp/ftrack-python-doc [--page querying.rst]

The last line printed is ``runnable: N passed, N failed; wrong on any server: N; not code: N``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import textwrap
import venv
from typing import Any, Iterator

#: The pages run, under ``doc/``.
PAGES = ["tutorial.rst", "understanding_sessions.rst", "caching.rst", "handling_events.rst", "locations/tutorial.rst",
         "release/migrating_from_old_api.rst", "querying.rst", "working_with_entities.rst", "example/assignments_and_allocations.rst",
         "example/component.rst", "example/custom_attribute.rst", "example/custom_attribute_link.rst",
         "example/entity_links.rst", "example/group_by.rst", "example/job.rst", "example/link_attribute.rst",
         "example/list.rst", "example/manage_custom_attribute_configuration.rst", "example/metadata.rst",
         "example/note.rst", "example/project.rst", "example/publishing.rst", "example/review_session.rst",
         "example/scope.rst", "example/security_roles.rst", "example/task_template.rst", "example/thumbnail.rst",
         "example/timer.rst", "example/workflow_schema.rst", "example/invite_user.rst", "example/encode_media.rst",
         "example/web_review.rst", "example/sync_ldap_users.rst"]  # fmt: skip

#: Examples that fail on any server, ftrack's too: (page, a piece of the block or the line it starts at, in v3.0.0's
#: doc/) → why.
WRONG: dict[tuple[str, str | int], str] = {
    ("querying.rst", "status.type.name"): "Status has no 'type' in ftrack's schema (it has 'state')",
    ("querying.rst", "{project[status][name]}"): "Project.status is text ('active'), not a Status",
    ("working_with_entities.rst", "create_reply(...)"): "a placeholder call: create_reply needs its content and author",
    ("working_with_entities.rst", "cls.get_full_name = get_full_name"): "needs the factory registered through a plugin "
                                                                         "the page does not show",  # fmt: skip
    ("working_with_entities.rst", "print(user.get_full_name())"): "needs the factory registered through a plugin the "
                                                                  "page does not show",  # fmt: skip
    ("example/custom_attribute.rst", "task = session.create('Task', {\n    ...\n})"): "a placeholder: '...' for the "
                                                                                    "task's data",  # fmt: skip
    # The page shows its first example again under "text", and an enumerator again under "groups".
    ("example/manage_custom_attribute_configuration.rst", 50): "makes again the key the page's first example made: "
                                                               "refused on ftrack too (keys are unique)",  # fmt: skip
    ("example/manage_custom_attribute_configuration.rst", 150): "makes again the key the page's first example made",
    ("example/manage_custom_attribute_configuration.rst", 353): "makes again the key the page's enumerator example made",
    ("example/manage_custom_attribute_configuration.rst", "'object_type_id': sequence_object,"): "uses sequence_object, "
                                                                                               "which it never defines",  # fmt: skip
    ("example/note.rst", "# This won't work in the current version of the API."): "the page says it does not work",
    ("example/note.rst", "first_note_on_task.replies.append(reply)"): "reads 'replies' as a Python attribute, not "
                                                                       "first_note_on_task['replies']",  # fmt: skip
    ("example/review_session.rst", "review_session = session.create('ReviewSessionObject'"):
        "names the new object review_session, so the blocks after use it as the session",
    ("example/task_template.rst", "random.choice("): "uses random without importing it",
    ("handling_events.rst", "# Wait for events to be received and handled.\nsession.event_hub.wait()"):
        "waits for events forever, as the page says",
    ("tutorial.rst", "ConnectionClosedError"): "shows the error a closed session raises",
    ("example/web_review.rst", "session.query('AssetVersion', 'SOME-ID')"): "session.query takes one expression: "
                                                                           "session.get('AssetVersion', id) gets one",  # fmt: skip
    ("example/sync_ldap_users.rst", "if job.get('status') == 'failed':"):
        "reads the job of the block before, which does not compile (result[0]['data] is unterminated)",
    ("example/encode_media.rst", "location.add_component(component)\n"): "Location.add_component needs the location "
                                                                         "the component comes from (source)",  # fmt: skip
    ("release/migrating_from_old_api.rst", "{...}"): "a placeholder: '...' for the timelog's data",
    ("release/migrating_from_old_api.rst", "status.type.short"): "Status has no 'type' in ftrack's schema (it has "
                                                                 "'state')",  # fmt: skip
}

#: Examples wrong on any server by what they are: the legacy API, Python 2, arrow calls arrow has removed.
WRONG_KINDS = [(r"(^|\n)(>>> )?import ftrack(\n|$)|\bftrack\.(get[A-Z]\w*|Task|User|AssetVersion)\(|task_old_api|"
                r"\.(get|set|create)[A-Z][a-zA-Z]*\(",
                "the legacy API ('import ftrack'), for Python 2 only: ftrack_api has no such calls"),
               (r"\bxrange\(", "Python 2 (xrange)"),
               (r"\.replace\((weeks|days|hours|months|years)=", "arrow.replace() with plural units, which arrow "
                                                                   "removed (0.14): arrow.shift() now")]  # fmt: skip

#: Placeholders the pages leave for the reader, filled as a reader would (the prelude makes the files and names).
FILLED = [("= # Get a user from ftrack.", "= user"), ("= # Get a project from ftrack.", "= project"),
          ("= # Get a list category from ftrack.", "= session.query('ListCategory').first()"),
          ("= # Get a task from ftrack.", "= task"), ("'https://YOUR-SITE-URL'", "SERVER"), ("'YOUR-API-KEY'", "KEY"),
          ("'YOUR-API-USER'", "USER"), ("'423ac382-e61d-4802-8914-dce20c92b740'", "my_task_id"),
          ("'/path/to/image.jpg'", "IMAGE"), ("'/path/to/file_or_sequence.jpg'", "IMAGE"), ("'/path/to/file'", "FILE"),
          ("'/path/to/a/file.mov'", "FILE"), ("'/path/to/a/another-file.mov'", "FILE"),
          ("a_list_of_invitees", "[invitee]"), ("'https://mycompany.ftrackapp.com'", "SERVER"),
          ("'7545384e-a653-11e1-a82c-f22c11dd25eq'", "KEY"), ("api_user='martin'", "api_user=USER"),
          ("'8923b7b3-4bf0-11e5-8811-3c0754289fd3'", "my_task_id"), ("'some-user-id'", "my_user_id"),
          ("'/path/to/forest_preview.mov'", "FILE"), ("'/path/to/forest_mode.ma'", "FILE"),
          ("'/path/to/forest_thumbnail.jpg'", "IMAGE"), ("'/PATH/TO/MEDIA'", "MEDIA"),
          ("'/path/to/local/file.mp4'", "FILE"), ("['/path/to/plugins']", "[os.path.dirname(FILE)]"),
          ("# Wait for job to finish.", "_wait(job)")]  # fmt: skip

#: What a page uses without making it, made before its first block.
PAGE_PRELUDES = {
    "understanding_sessions.rst": """
        entity = project
        """,
    "caching.rst": """
        session.create("Timelog", {"user_id": user["id"], "context_id": task["id"], "comment": "Some comment",
                                   "start": arrow.utcnow(), "duration": 3600})
        session.commit()
        """,
    "release/migrating_from_old_api.rst": """
        for _name in ("dev_tutorial", "migration_test"):
            if session.query('Project where name is "{}"'.format(_name)).first() is None:
                _project = session.create("Project", {"name": _name, "full_name": _name, "project_schema": project_schema})
                _sequence = session.create("Sequence", {"name": "001", "parent": _project})
                _shot = session.create("Shot", {"name": "010", "parent": _sequence})
                session.create("Task", {"name": "layout", "parent": _shot})
        for _username in ("jane", "john"):
            if session.query('User where username is "{}"'.format(_username)).first() is None:
                session.create("User", {"username": _username, "email": "old@example.com"})
        session.commit()
        _text = session.query('CustomAttributeType where name is "text"').one()
        _task_type = session.query('ObjectType where name is "Task"').one()
        session.create("CustomAttributeConfiguration", {"entity_type": "task", "object_type_id": _task_type["id"],
                       "type": _text, "label": "Mine", "key": "my_custom_attribute", "default": ""})
        session.commit()
        session = ftrack_api.Session(auto_connect_event_hub=False)  # one that knows the new attribute
        user, task_id = session.query('User where username is "jane"').one(), task["id"]
        """,
    "example/custom_attribute.rst": """
        _text = session.query('CustomAttributeType where name is "text"').one()
        _task_type = session.query('ObjectType where name is "Task"').one()
        session.create("CustomAttributeConfiguration", {"entity_type": "task", "object_type_id": _task_type["id"],
                       "type": _text, "label": "My text", "key": "my_text_field", "default": ""})
        session.create("CustomAttributeConfiguration", {"entity_type": "context", "is_hierarchical": True,
                       "type": _text, "label": "My attribute", "key": "my_attribute", "default": ""})
        session.commit()
        session = ftrack_api.Session(auto_connect_event_hub=False)  # one that knows the new attributes
        task, shot = session.get("Task", task["id"]), session.get("Shot", shot["id"])
        task["custom_attributes"]["my_text_field"] = "bar"
        shot["custom_attributes"]["my_attribute"] = "foo"
        session.commit()
        """,
    "example/custom_attribute_link.rst": """
        _task_type = session.query('ObjectType where name is "Task"').one()
        my_configuration_id = session.create("CustomAttributeLinkConfiguration", {
            "entity_type": "task", "object_type_id": _task_type["id"], "entity_type_to": "user", "key": "supervisor",
            "label": "Supervisor", "config": "{}", "one_to_one": True})["id"]
        session.commit()
        """,
    "example/entity_links.rst": """
        from_asset_version = model_version = version
        to_asset_version = rig_version = session.create("AssetVersion", {"asset": asset, "task": task})
        session.commit()
        """,
    "example/link_attribute.rst": """
        session.create("Task", {"name": "myTask", "parent": shot})
        session.commit()
        """,
    "example/manage_custom_attribute_configuration.rst": """
        custom_attribute_configuration = session.create("CustomAttributeConfiguration", {
            "entity_type": "assetversion", "type": session.query('CustomAttributeType where name is "number"').one(),
            "label": "Frames", "key": "frames", "default": 42, "project_id": project["id"]})
        session.create("CustomAttributeGroup", {"name": "Delivery"})
        session.commit()
        """,
    "example/metadata.rst": """
        new_sequence = session.create("Sequence", {"name": "sq020", "parent": project,
                                                   "metadata": {"frame_padding": "4", "focal_length": "70"}})
        session.commit()
        """,
    "example/note.rst": """
        session.create("User", {"username": "john", "first_name": "John", "last_name": "Doe"})
        session.create("Group", {"name": "Animation"})
        session.commit()
        """,
    "example/scope.rst": """
        session.create("Scope", {"name": "London"})
        session.commit()
        """,
    "example/security_roles.rst": """
        user = session.create("User", {"username": "pm-" + _name})  # not the key's admin: its roles change
        for _name in ("project1", "project2"):
            session.create("Project", {"name": _name + "-" + _name_suffix, "full_name": _name,
                                       "project_schema": project_schema})
        session.commit()
        """,
    "working_with_entities.rst": """
        session.create("User", {"username": "test_user"})
        session.commit()
        """,
    "example/encode_media.rst": """
        import subprocess, time
        MEDIA = os.path.join(os.path.dirname(FILE), "plate.mov")  # a one-second movie, made by ffmpeg
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc=duration=1:size=64x64:rate=24", "-pix_fmt", "yuv420p", MEDIA], check=True)
        component = session.create_component(FILE, data={"name": "plate"}, location=None)
        session.commit()
        def _wait(job):  # "Wait for job to finish.": as a reader does, until it is done
            for _ in range(600):
                status = session.query("select status, data from Job where id is '{}'".format(job["id"])).one()["status"]
                if status in ("done", "failed"):
                    break
                time.sleep(0.1)
            assert job["status"] == "done", job["data"]
        """,
    "example/web_review.rst": """
        component = version.create_component(IMAGE, data={"name": "ftrackreview-image"},
                                             location=session.get("Location", ftrack_api.symbol.SERVER_LOCATION_ID))
        session.commit()
        """,
    "example/thumbnail.rst": """
        my_asset_version_id = version["id"]
        """,
}

#: What every page starts with: the session and the entities the examples use without making them.
PRELUDE = textwrap.dedent(
    """
    import datetime, json, os, sys, tempfile, uuid
    import arrow
    import ftrack_api

    session = ftrack_api.Session(server_url=SERVER, api_user=USER, api_key=KEY, auto_connect_event_hub=False,
                                 schema_cache_path=False)
    _name = "docs-" + uuid.uuid4().hex[:6]
    project_schema = session.query('ProjectSchema where name is "VFX"').one()
    project = my_project = session.create("Project", {"name": _name, "full_name": _name, "project_schema": project_schema})
    sequence = session.create("Sequence", {"name": "sq010", "parent": project})
    shot = session.create("Shot", {"name": "sh010", "parent": sequence})
    task = session.create("Task", {"name": "comp", "parent": shot})
    asset = session.create("Asset", {"name": "plate", "parent": shot, "type": session.query("AssetType").first()})
    version = asset_version = session.create("AssetVersion", {"asset": asset, "task": task})
    user = session.query('User where username is "{}"'.format(USER)).one()
    note = session.create("Note", {"content": "A first note", "parent_id": task["id"], "parent_type": "Task",
                                   "author": user})
    session.commit()
    my_task_id, my_user_id = task["id"], user["id"]
    _name_suffix = _name
    FILE = os.path.join(tempfile.mkdtemp(), "file.txt")
    with open(FILE, "w") as _out:
        _out.write("a file of the examples")
    IMAGE = os.path.join(os.path.dirname(FILE), "image.png")
    import struct, zlib
    def _chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(IMAGE, "wb") as _out:  # a 1x1 PNG
        _out.write(b"\\x89PNG\\r\\n\\x1a\\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                   + _chunk(b"IDAT", zlib.compress(b"\\x00\\xff\\x00\\x00")) + _chunk(b"IEND", b""))
    """
)


class Block:
    """One literal block of a page: where it starts, its text, and the Python it runs."""

    def __init__(self, page: str, line: int, text: str) -> None:
        self.page, self.line, self.text = page, line, text
        code = _doctest_input(text) if text.lstrip().startswith(">>>") else text
        for placeholder, value in FILLED:
            code = code.replace(placeholder, value)
        self.code = code

    def judged(self) -> str | None:
        """Why it fails on any server, if :data:`WRONG` or :data:`WRONG_KINDS` says so."""
        kind = next((why for pattern, why in WRONG_KINDS if re.search(pattern, self.text)), None)
        return kind or next((why for (page, piece), why in WRONG.items()
                     if page == self.page and (piece == self.line if isinstance(piece, int) else piece in self.text)), None)  # fmt: skip

    def compiles(self) -> bool:
        try:
            compile(self.code, f"{self.page}:{self.line}", "exec")
        except SyntaxError:
            return False
        return True


def _doctest_input(text: str) -> str:
    lines = [line[4:] for line in text.splitlines() if line.startswith((">>> ", "... "))]
    return "\n".join(lines)


def blocks(page: str, text: str) -> Iterator[Block]:
    """The literal blocks of a reStructuredText page, in order."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        opens = re.match(r"\.\.\s+code(-block)?::\s*python", stripped) or (stripped.endswith("::") and not stripped.startswith(".."))
        if not opens:
            index += 1
            continue
        base = len(lines[index]) - len(lines[index].lstrip())
        index += 1
        body: list[str] = []
        start = index
        while index < len(lines) and (not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > base):
            body.append(lines[index])
            index += 1
        code = textwrap.dedent("\n".join(body)).strip("\n")
        if code:
            yield Block(page, start + 1, code)


#: Runs in the official client's venv: a prelude, then each block in one namespace; prints outcomes as JSON.
DRIVER = textwrap.dedent(
    """
    import json, sys, traceback
    job = json.load(sys.stdin)
    space = {"SERVER": job["server"], "USER": job["user"], "KEY": job["key"], "__name__": "__doc_example__"}
    exec(compile(job["prelude"], "prelude", "exec"), space)
    import ftrack_api.query
    said = []
    for block in job["blocks"]:
        before = {name: id(value) for name, value in space.items()}
        try:
            exec(compile(block, "example", "exec"), space)
            for name, value in list(space.items()):  # a query made and never read: read it
                if isinstance(value, ftrack_api.query.QueryResult) and before.get(name) != id(value):
                    value.all()
            said.append(["passed", ""])
        except BaseException as error:
            said.append(["failed", "".join(traceback.format_exception_only(type(error), error)).strip()[-600:]])
            try:
                space["session"].rollback()
            except Exception:
                pass
    sys.stdout.write("\\n" + json.dumps(said) + "\\n")
    """
)


def client_python(folder: pathlib.Path) -> str:
    """The python of a venv with ftrack-python-api in ``folder``, made if missing."""
    python = folder / "bin" / "python"
    if not python.exists():
        venv.create(folder, with_pip=True)
    if subprocess.run([str(python), "-c", "import ftrack_api"], capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "ftrack-python-api"], check=True)
    return str(python)


def run_page(python: str, server: str, user: str, key: str, runnable: list[Block]) -> list[tuple[str, str]]:
    """Each runnable block's outcome, run in order in one official-client process."""
    page = runnable[0].page if runnable else ""
    prelude = PRELUDE + textwrap.dedent(PAGE_PRELUDES.get(page, ""))
    job = {"server": server, "user": user, "key": key, "prelude": prelude, "blocks": [b.code for b in runnable]}
    # As an ftrack user runs them: the server and key in the environment (``ftrack_api.Session()``).
    environment = {**os.environ, "FTRACK_SERVER": server, "FTRACK_API_USER": user, "FTRACK_API_KEY": key}
    environment.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory(prefix="ftrack-doc-examples-") as folder:
        environment["FTRACK_API_SCHEMA_CACHE_PATH"] = folder
        run = subprocess.run([python, "-c", DRIVER], input=json.dumps(job), capture_output=True, text=True, timeout=600,
                             env=environment, cwd=folder)  # fmt: skip
    if run.returncode != 0 or not run.stdout.strip():
        why = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return [("failed", f"the page did not run: {why}")] * len(runnable)
    return [tuple(outcome) for outcome in json.loads(run.stdout.strip().splitlines()[-1])]  # type: ignore[misc]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=pathlib.Path, required=True, help="a checkout of ftrack-python (its doc/)")
    parser.add_argument("--venv", type=pathlib.Path, default=pathlib.Path(tempfile.gettempdir()) / "ftrack-doc-examples-venv",
                        help="the official client's venv, made if missing (default: %(default)s)")  # fmt: skip
    parser.add_argument("--page", action="append", help="run only this page (under doc/; repeatable)")
    parser.add_argument("--output", type=pathlib.Path, help="write every block's outcome here (JSON)")
    options = parser.parse_args()
    doc = options.source.resolve() / "doc"
    if not doc.is_dir():
        raise SystemExit(f"{options.source} has no doc/: give a checkout of ftrack-python (v3.0.0 has its docs)")
    from ftrack_like_api.testing import serve

    python = client_python(options.venv)
    mailbox = _mailbox()
    totals: collections.Counter[str] = collections.Counter()
    report: list[dict[str, Any]] = []
    for page in options.page or PAGES:
        found = list(blocks(page, (doc / page).read_text(encoding="utf-8")))
        runnable = [b for b in found if not b.judged() and b.compiles()]
        with serve() as studio:  # a studio per page: the pages make the same users and keys
            outcomes = dict(zip(map(id, runnable), run_page(python, studio.url, studio.user, studio.api_key, runnable)))
        for block in found:
            why = block.judged()
            outcome, message = ("wrong", why) if why else outcomes.get(id(block), ("not code", ""))
            totals[outcome] += 1
            report.append({"page": page, "line": block.line, "outcome": outcome, "message": message})
            shown = f" — {message.splitlines()[-1]}" if message else ""
            print(f"{outcome:8} {page}:{block.line}{shown}", flush=True)
    if options.output:
        options.output.write_text(json.dumps(report, indent=1), encoding="utf-8")
    if mailbox is not None:
        mailbox.stop()
        print(f"mails received by the examples' mail server: {len(mailbox.handler.received)}")
    print(f"runnable: {totals['passed']} passed, {totals['failed']} failed; wrong on any server: {totals['wrong']}; "
          f"not code: {totals['not code']}")  # fmt: skip
    return 0


def _mailbox() -> Any:
    """A mail server on 127.0.0.1 that keeps what it is sent, named to the servers (FTRACK_LIKE_SMTP); None without aiosmtpd."""
    try:
        from aiosmtpd.controller import Controller
    except ModuleNotFoundError:
        return None
    import socket

    class Received:
        def __init__(self) -> None:
            self.received: list[bytes] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.received.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Received(), hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["FTRACK_LIKE_SMTP"] = f"smtp://127.0.0.1:{port}?from=examples@localhost.test"
    return controller


if __name__ == "__main__":
    sys.exit(main())
