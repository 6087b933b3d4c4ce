"""Plugins on plugin paths: found, registered with the arguments they take, broken ones skipped."""

import logging
import pathlib
import textwrap

import pytest

from ftrack_like_api.event.base import Event
from ftrack_like_api.event.hub import EventHub
from ftrack_like_api.exceptions import EventHubConnectionError
from ftrack_like_api.plugin import discover, plugin_files

pytest.importorskip("sqlalchemy", reason="the session tests use the embedded mode")

from ftrack_like_api.session import Session  # noqa: E402

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "plugins"


class Recorder:
    """discover() hands plugins whatever session it is given; this one records what they do to it.

    (The plugin mechanism on a real Session is tested below, end to end.)"""

    def __init__(self):
        self.calls = []


def write(folder, name, code):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


def test_every_python_file_under_the_paths_recursively_in_order(tmp_path):
    write(tmp_path, "b.py", "")
    write(tmp_path, "a/z.py", "")
    write(tmp_path, "notes.txt", "")
    assert [pathlib.Path(p).relative_to(tmp_path).as_posix() for p in plugin_files([str(tmp_path)])] == ["b.py", "a/z.py"]


def test_register_gets_the_arguments_it_takes_and_a_warning_names_the_rest(tmp_path, caplog):
    write(tmp_path, "takes_some.py", """
        def register(session, studio=None):
            session.calls.append(("some", studio))
    """)  # fmt: skip
    write(tmp_path, "takes_all.py", """
        def register(session, **kwargs):
            session.calls.append(("all", sorted(kwargs)))
    """)  # fmt: skip
    write(tmp_path, "helper.py", "VALUE = 1  # no register: not a plugin\n")
    target = Recorder()
    with caplog.at_level(logging.WARNING):
        registered = discover([str(tmp_path)], target, {"studio": "acme", "debug": True})
    assert sorted(target.calls) == [("all", ["debug", "studio"]), ("some", "acme")]
    assert len(registered) == 2
    assert "does not take debug" in caplog.text


def test_a_broken_plugin_is_logged_and_skipped(tmp_path, caplog):
    write(tmp_path, "a_syntax.py", "def register(:\n")
    write(tmp_path, "b_raises.py", "def register(session):\n    raise RuntimeError('no')\n")
    write(tmp_path, "c_fine.py", "def register(session):\n    session.calls.append('fine')\n")
    target = Recorder()
    with caplog.at_level(logging.ERROR):
        registered = discover([str(tmp_path)], target)
    assert target.calls == ["fine"] and [pathlib.Path(p).name for p in registered] == ["c_fine.py"]
    assert "a_syntax.py failed to import" in caplog.text and "b_raises.py failed to register" in caplog.text


def test_the_hub_calls_matching_subscribers_by_priority_and_survives_a_failing_one(caplog):
    hub = EventHub()
    hub.subscribe("topic=studio.*", lambda event: "late", priority=200)
    hub.subscribe("topic=studio.render and data.frames>10", lambda event: "early", priority=10)
    hub.subscribe("topic=studio.*", lambda event: 1 / 0)
    hub.subscribe("topic=other", lambda event: "never")
    with caplog.at_level(logging.ERROR):
        assert hub.publish(Event("studio.render", data={"frames": 24}), synchronous=True) == ["early", "late"]
    assert "failed" in caplog.text
    with pytest.raises(EventHubConnectionError, match="not connected"):
        hub.publish(Event("studio.render"))
    assert hub.publish(Event("studio.render"), on_error="ignore") is None


def test_the_example_plugin_extends_entity_classes(tmp_path):
    url = f"sqlite:///{tmp_path / 'plugins.db'}"
    with Session(server_url=url, api_user="admin", plugin_paths=[str(EXAMPLES / "task_helpers.py")],
                 plugin_arguments={"separator": "/"}) as session:  # fmt: skip
        assert [pathlib.Path(p).name for p in session.plugins] == ["task_helpers.py"]
        project = session.create("Project", {"name": "tut", "project_schema": session.query("ProjectSchema").first()})
        shot = session.create("Shot", {"name": "sh010", "parent": project})
        task = session.create("Task", {"name": "comp", "parent": shot})
        session.commit()
        assert task.path() == "tut/sh010/comp"
        assert isinstance(task, session.types["TypedContext"])
        assert not hasattr(project, "path")


def test_plugin_paths_come_from_the_environment(tmp_path, monkeypatch):
    write(tmp_path, "env_plugin.py", "def register(session):\n    session.event_hub.subscribe('topic=x', print)\n")
    monkeypatch.setenv("FTRACK_EVENT_PLUGIN_PATH", str(tmp_path))
    session = Session(server_url=f"sqlite:///{tmp_path / 'env.db'}", api_user="admin")
    assert session.event_hub.subscriptions() == ["topic=x"]
