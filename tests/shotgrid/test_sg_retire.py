"""Retirement in-process: ShotGrid's delete keeps what the engine deleted, revive puts the same rows back."""

from ftrack_like_api.server import Backend
from ftrack_like_api.server.protocols.shotgrid.calls import Calls
from ftrack_like_api.server.protocols.shotgrid.mapping import load_mapping


def test_a_shot_retired_with_its_task_and_metadata_comes_back_whole(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())

        def call(method, params, user="admin"):
            action = "shotgrid_read" if method == "read" else "shotgrid_write"
            result = backend.execute([{"action": action, "method": method, "params": params}], user)
            return result[0] if isinstance(result, list) else result

        def fields(**values):
            return [{"field_name": k, "value": v} for k, v in values.items()]

        def ours(expression):
            return backend.execute([{"action": "query", "expression": expression}], "admin")[0]["data"]

        project = call("create", {"type": "Project", "fields": fields(name="Retire")})
        sequence = call("create", {"type": "Sequence", "fields": fields(code="sq010", project=project)})
        shot = call("create", {"type": "Shot", "fields": fields(code="sh010", project=project, sg_sequence=sequence,
                                                                sg_cut_in=1001)})  # fmt: skip
        task = call("create", {"type": "Task", "fields": fields(content="comp", entity=shot, sg_status_list="ip")})
        assert call("delete", {"type": "Shot", "id": shot["id"]}) is True
        # Gone for every protocol: our own query finds neither the shot nor the task the database deleted with it.
        assert ours("select name from Shot where name is 'sh010'") == [] and ours("select name from Task") == []
        retired = call("read", {"type": "Shot", "return_fields": ["code"], "return_only": "retired",
                                "paging": {"entities_per_page": 10, "current_page": 1}})  # fmt: skip
        assert retired["entities"] == [{"type": "Shot", "id": shot["id"], "code": "sh010"}]
        assert "doesn't exist" in call("update", {"type": "Shot", "id": shot["id"], "fields": fields(code="x")})["content"]

        assert call("revive", {"type": "Shot", "id": shot["id"]}) is True
        rows = ours("select name, parent.name, metadata.key, metadata.value from Shot where name is 'sh010'")
        assert [(r["name"], r["parent"]["name"], [(m["key"], m["value"]) for m in r["metadata"]]) for r in rows] == [
            ("sh010", "sq010", [("sg_cut_in", "1001")])]  # fmt: skip
        back = call("read", {"type": "Task", "return_fields": ["content", "entity", "sg_status_list"],
                             "paging": {"entities_per_page": 10, "current_page": 1}})  # fmt: skip
        assert back["entities"] == [{"type": "Task", "id": task["id"], "content": "comp", "sg_status_list": "ip",
                                     "entity": {"type": "Shot", "id": shot["id"], "name": "sh010"}}]  # fmt: skip
        assert call("revive", {"type": "Shot", "id": shot["id"]}) is False  # alive: nothing to revive

        # What it hung under retired too, and not revived: the shot cannot come back, and nothing changes.
        call("delete", {"type": "Shot", "id": shot["id"]})
        call("delete", {"type": "Sequence", "id": sequence["id"]})
        refused = call("revive", {"type": "Shot", "id": shot["id"]})
        assert "Shot " + str(shot["id"]) + " cannot be revived: its parent_id" in refused["content"]
        assert call("revive", {"type": "Sequence", "id": sequence["id"]}) is True
        assert call("revive", {"type": "Shot", "id": shot["id"]}) is True
        assert [r["name"] for r in ours("select name from Task")] == ["comp"]
