"""``Reply``: a Note of ours that answers another (``in_reply_to`` set), served as its own ShotGrid type by the
mapping's per-type condition (``where``) — in finds, deep links, the entity an id names, summaries and events —
while ``Note`` is the notes that answer none.

Through ``shotgun_api3``, unchanged, against ``ftrack-like serve`` on SQLite and PostgreSQL.
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="suite", api_key=key)
    said = {}
    project = sg.create("Project", {"name": "Notes"})
    note = sg.create("Note", {"project": project, "content": "fix the edge", "subject": "edge"})
    other = sg.create("Note", {"project": project, "content": "and the grain", "subject": "grain"})
    reply = sg.create("Reply", {"entity": note, "content": "done"}, ["entity", "user", "content"])
    said["note"], said["reply"] = note, reply
    said["notes"] = [n["id"] for n in sg.find("Note", [["project", "is", project]], order=[{"field_name": "id", "direction": "asc"}])]
    said["replies"] = sg.find("Reply", [["entity", "is", note]], ["content", "entity"])
    said["none_to_other"] = sg.find("Reply", [["entity", "is", other]])
    said["deep"] = [r["id"] for r in sg.find("Reply", [["entity.Note.subject", "is", "edge"]])]
    said["deep_none"] = [r["id"] for r in sg.find("Reply", [["entity.Note.subject", "is", "grain"]])]
    said["note_by_reply_id"] = sg.find_one("Note", [["id", "is", reply["id"]]])
    said["reply_by_note_id"] = sg.find_one("Reply", [["id", "is", note["id"]]])
    said["count"] = sg.summarize("Reply", [], [{"field": "id", "type": "count"}])["summaries"]["id"]
    sg.update("Reply", reply["id"], {"content": "done, really"})
    said["updated"] = sg.find_one("Reply", [["id", "is", reply["id"]]], ["content"])["content"]
    try:
        sg.update("Note", reply["id"], {"content": "not a note"})
    except shotgun_api3.Fault as fault:
        said["as_note"] = str(fault)
    said["deleted"] = sg.delete("Reply", reply["id"])
    said["after"] = sg.find("Reply", [])
    said["retired"] = [r["id"] for r in sg.find("Reply", [], retired_only=True)]
    said["retired_notes"] = [n["id"] for n in sg.find("Note", [], retired_only=True)]
    said["revived"] = sg.revive("Reply", reply["id"])
    events = sg.find("EventLogEntry", [], ["event_type", "entity", "attribute_name"])
    said["events"] = [[e["event_type"], e["entity"]["id"], e["attribute_name"]] for e in events
                      if e["event_type"].startswith(("Shotgun_Note_", "Shotgun_Reply_"))]
    print(json.dumps(said, default=str))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "suite")
    return database, key


def test_a_reply_is_a_note_answering_another_served_as_its_own_type(shotgun_python, studio, serve):
    database, key = studio
    with serve(database) as url:
        done = subprocess.run([shotgun_python, "-c", SCRIPT, url, key], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    note, reply = said["note"], said["reply"]
    assert reply["type"] == "Reply" and reply["content"] == "done"
    assert reply["entity"] == {"type": "Note", "id": note["id"], "name": None}  # a Note link has no name here (subject is in metadata)
    assert reply["user"]["type"] == "HumanUser"
    assert reply["id"] not in said["notes"] and note["id"] in said["notes"] and len(said["notes"]) == 2
    assert said["replies"] == [{"type": "Reply", "id": reply["id"], "content": "done", "entity": reply["entity"]}]
    assert said["none_to_other"] == [] and said["deep"] == [reply["id"]] and said["deep_none"] == []
    assert said["note_by_reply_id"] is None and said["reply_by_note_id"] is None
    assert said["count"] == 1 and said["updated"] == "done, really"
    assert f"Note with id {reply['id']} doesn't exist" in said["as_note"]
    assert said["deleted"] is True and said["after"] == [] and said["revived"] is True
    assert said["retired"] == [reply["id"]] and said["retired_notes"] == []
    replies = [e for e in said["events"] if e[1] == reply["id"]]
    assert replies == [["Shotgun_Reply_New", reply["id"], None], ["Shotgun_Reply_Change", reply["id"], "content"],
                       ["Shotgun_Reply_Retirement", reply["id"], None], ["Shotgun_Reply_New", reply["id"], None]]
    assert [e[0] for e in said["events"] if e[1] == note["id"]] == ["Shotgun_Note_New"]
