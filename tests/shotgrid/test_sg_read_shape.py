"""The shape of a ShotGrid ``find``: the statements a page costs, counted (not timed), in-process.

A page of Shots with deep-linked fields is the engine's query (one statement for the page, one per
linked level) with each entity's integer id read in those same statements (``protocols/shotgrid/pages.py``):
no look-up of the page's uuids afterwards, whatever the page's size. An entity made through ftrack's API
gets its number the first time a page answers it, and is read with it after that. A find naming only the
type's own fields does not read its custom fields.
"""

import contextlib

import sqlalchemy as sa

from ftrack_like_api.server import Backend
from ftrack_like_api.server.protocols.shotgrid.calls import Calls
from ftrack_like_api.server.protocols.shotgrid.mapping import load_mapping

FIELDS = ["code", "sg_sequence", "sg_sequence.Sequence.code", "sg_sequence.Sequence.description", "project.Project.name"]


@contextlib.contextmanager
def _statements(backend):
    """The SQL the backend runs meanwhile."""
    seen = []

    def note(conn, cursor, statement, *rest):
        seen.append(statement)

    sa.event.listen(backend.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", note)


def _caller(backend):
    """``call(method, params)``: one ShotGrid call as the endpoint's HTTP route runs it, its result."""

    def call(method, params):
        action = "shotgrid_read" if method == "read" else "shotgrid_write"
        result = backend.execute([{"action": action, "method": method, "params": params}], "admin")
        assert isinstance(result, list), result
        return result[0]

    return call


def fields(**values):
    """A create's or update's fields, as shotgun_api3 sends them."""
    return [{"field_name": k, "value": v} for k, v in values.items()]


def _numbers_looked_up(statements):
    """The statements looking uuids up in shotgrid_id (the second statement per page the numbers once cost)."""
    return [s for s in statements if "FROM shotgrid_id" in s and "shotgrid_id.entity_id IN" in s]


def test_a_page_of_shots_with_deep_fields_reads_their_ids_in_its_own_statements(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())

        call = _caller(backend)

        project = call("create", {"type": "Project", "fields": fields(name="Shape")})
        sequences = [call("create", {"type": "Sequence", "fields": fields(code=f"sq{i}", description=f"seq {i}",
                                                                          project=project)}) for i in range(3)]  # fmt: skip
        made = call("batch", [{"request_type": "create", "type": "Shot",
                               "fields": fields(code=f"sh{i:02d}", project=project, sg_sequence=sequences[i % 3])}
                              for i in range(40)])  # fmt: skip
        link = {"type": "Project", "id": project["id"]}

        def page(number, size):
            where = {"logical_operator": "and", "conditions": [{"path": "project", "relation": "is", "values": [link]}]}
            return call("read", {"type": "Shot", "return_fields": FIELDS, "filters": where,
                                 "paging": {"entities_per_page": size, "current_page": number}})  # fmt: skip

        page(1, 10)  # the statements' first build, the custom fields read
        for size in (5, 20):
            with _statements(backend) as seen:
                found = page(2, size)
            assert len(found["entities"]) == size
            for entity in found["entities"]:
                number = int(entity["code"][2:])
                sequence = sequences[number % 3]
                assert entity == {
                    "type": "Shot", "id": made[number]["id"], "code": made[number]["code"],
                    "sg_sequence": {"type": "Sequence", "id": sequence["id"], "name": sequence["code"]},
                    "sg_sequence.Sequence.code": sequence["code"], "sg_sequence.Sequence.description": f"seq {number % 3}",
                    "project.Project.name": "Shape"}  # fmt: skip
            assert _numbers_looked_up(seen) == []
            # ``project is …`` compares the key each shot holds: no look-up of the project's row first.
            assert not [s for s in seen if " AS number" in s], seen
            # Every field named is the type's own: its custom fields are not read (they would change nothing).
            assert not [s for s in seen if "custom_attribute_configuration" in s]
            entities = [s for s in seen if "FROM context" in s and "shotgrid_id.number" in s]
            assert len(entities) == 3, seen  # the page, its sequences, its project: each with its numbers
            # The page's numbers are read around the page (for its rows), not for the rows an offset skips.
            main = entities[0]
            paged = main[main.index("FROM (SELECT"):]
            assert "LIMIT" in paged and "shotgrid_id" not in paged, main

        # A shot made through ftrack's API has no number until a page answers it; then it has one, kept.
        parent = backend.execute([{"action": "query", "expression": "select id from Sequence where name is 'sq0'"}], "admin")
        backend.execute([{"action": "create", "entity_type": "Shot",
                          "entity_data": {"name": "sh99", "parent_id": parent[0]["data"][0]["id"]}}], "admin")  # fmt: skip
        with _statements(backend) as seen:
            last = page(3, 20)["entities"]
        assert [e["code"] for e in last] == ["sh99"] and last[0]["id"] > max(m["id"] for m in made)
        assert len(_numbers_looked_up(seen)) == 1  # given its number: the one look-up, for it alone
        with _statements(backend) as seen:
            assert page(3, 20)["entities"] == last
        assert _numbers_looked_up(seen) == []


def test_a_deep_field_is_worked_out_once_per_entity_a_page_links_not_once_per_row(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        calls = Calls(backend, load_mapping())

        call = _caller(backend)

        project = call("create", {"type": "Project", "fields": fields(name="Deep")})
        sequences = [call("create", {"type": "Sequence", "fields": fields(code=f"sq{i}", project=project, sg_status_list=status)})
                     for i, status in enumerate(["ip", "fin", "ip"])]  # fmt: skip
        call("batch", [{"request_type": "create", "type": "Shot", "fields": fields(code=f"sh{i:02d}", sg_sequence=sequences[i % 3],
                                                                                   project=project)} for i in range(12)])  # fmt: skip
        worked_out = []
        value = calls.records.value

        def counted(field, row, numbers):
            worked_out.append((field.name, row["id"]))
            return value(field, row, numbers)

        calls.records.value = counted
        found = call("read", {"type": "Shot", "return_fields": ["code", "sg_sequence.Sequence.sg_status_list"],
                              "paging": {"entities_per_page": 50, "current_page": 1}})["entities"]  # fmt: skip
        assert sorted((e["code"], e["sg_sequence.Sequence.sg_status_list"]) for e in found) == [
            (f"sh{i:02d}", ["ip", "fin", "ip"][i % 3]) for i in range(12)]  # fmt: skip
        # The status of each of the 3 sequences, once each, for the 12 shots (a plain field is read where it is).
        assert sorted(worked_out) == sorted(("sg_status_list", s) for s in {w[1] for w in worked_out}) and len(worked_out) == 3


def test_a_find_naming_a_custom_field_reads_the_custom_fields_and_one_naming_none_does_not(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())

        def call(method, params):
            action = "shotgrid_read" if method in ("read", "schema_field_read") else "shotgrid_write"
            result = backend.execute([{"action": action, "method": method, "params": params}], "admin")
            assert isinstance(result, list), result
            return result[0]

        project = call("create", {"type": "Project", "fields": [{"field_name": "name", "value": "Custom"}]})
        lens = [{"property_name": "name", "value": "Lens"}]
        field = call("schema_field_create", {"type": "Shot", "data_type": "text", "properties": lens})
        call("create", {"type": "Shot", "fields": [{"field_name": "code", "value": "sh1"}, {"field_name": "project", "value": project},
                                                   {"field_name": field, "value": "35mm"}]})  # fmt: skip
        paging = {"entities_per_page": 10, "current_page": 1}
        for fields, where, reads in ((["code"], [], False), (["code", field], [], True),
                                     (["code"], [{"path": field, "relation": "is", "values": ["35mm"]}], True)):  # fmt: skip
            with _statements(backend) as seen:
                found = call("read", {"type": "Shot", "return_fields": fields, "paging": paging,
                                      "filters": {"logical_operator": "and", "conditions": where}})["entities"]  # fmt: skip
            assert [e["code"] for e in found] == ["sh1"] and found[0].get(field, "35mm") == "35mm"
            assert bool([s for s in seen if "custom_attribute_configuration" in s]) is reads, (fields, where)


def test_a_link_compared_by_the_key_the_row_holds_keeps_is_not_and_not_in_for_rows_of_no_link(fresh_database):
    """``sg_task is X`` reads the key a Version holds (``task_id``): ``is_not`` / ``not_in`` still find the versions
    of no task, as ShotGrid does, and ``is`` / ``in`` the ones of it."""
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())

        call = _caller(backend)

        project = call("create", {"type": "Project", "fields": fields(name="Links")})
        shot = call("create", {"type": "Shot", "fields": fields(code="sh1", project=project)})
        task = call("create", {"type": "Task", "fields": fields(content="comp", entity=shot, project=project)})
        call("create", {"type": "Version", "fields": fields(code="v1", entity=shot, sg_task=task, project=project)})
        call("create", {"type": "Version", "fields": fields(code="v2", entity=shot, project=project)})
        expected = {"is": ["v1"], "in": ["v1"], "is_not": ["v2"], "not_in": ["v2"]}
        for relation, codes in expected.items():
            condition = {"path": "sg_task", "relation": relation, "values": [task]}
            with _statements(backend) as seen:
                found = call("read", {"type": "Version", "return_fields": ["code"], "paging": {"entities_per_page": 10, "current_page": 1},
                                      "filters": {"logical_operator": "and", "conditions": [condition]}})["entities"]  # fmt: skip
            assert sorted(e["code"] for e in found) == codes, relation
            assert not [s for s in seen if " AS number" in s], relation


def test_a_scripts_key_is_checked_without_a_transaction_around_each_statement_on_postgresql(fresh_database):
    """Every call authenticates: the script's owner is found in one statement, which on PostgreSQL runs without a
    BEGIN and a ROLLBACK around it (two round trips a call), as the key's own check does."""
    from ftrack_like_api.server.protocols.shotgrid.api import ShotgridApi

    with Backend.from_url(fresh_database) as backend:
        api = ShotgridApi(backend, None)
        secret = backend.auth.create_key("admin", "pipeline")
        levels = []

        def note(conn, cursor, statement, *rest):
            if "FROM api_key" in statement:
                levels.append(conn.get_execution_options().get("isolation_level"))

        sa.event.listen(backend.engine, "before_cursor_execute", note)
        try:
            _, username, source, _ = api._authenticate({"script_name": "pipeline", "script_key": secret}, "127.0.0.1")
        finally:
            sa.event.remove(backend.engine, "before_cursor_execute", note)
        assert username == "admin" and source == {"apiKey": {"name": "pipeline"}}
        expected = "AUTOCOMMIT" if backend.engine.dialect.name == "postgresql" else None
        assert levels == [expected, expected], levels  # the owner by the script's name, then the key itself


def test_a_page_of_version_links_reads_their_codes_in_the_statement_that_tells_them_versions(fresh_database):
    """A link to a Version is named by its code, kept in its metadata: read in the one statement that reads the linked
    versions' metadata (which tells a Version from a publish's version) for the whole page, whatever its size."""
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())

        call = _caller(backend)

        project = call("create", {"type": "Project", "fields": fields(name="Named")})
        versions = call("batch", [{"request_type": "create", "type": "Version", "fields": fields(code=f"v{i:02d}", project=project)}
                                  for i in range(4)])  # fmt: skip
        call("batch", [{"request_type": "create", "type": "PublishedFile",
                        "fields": fields(code=f"f{i:02d}", project=project, version=versions[i % 4],
                                         path={"local_path": f"/mnt/f{i:02d}.exr"})} for i in range(30)])  # fmt: skip

        def page(size):
            return call("read", {"type": "PublishedFile", "return_fields": ["code", "version"],
                                 "paging": {"entities_per_page": size, "current_page": 1}})["entities"]  # fmt: skip

        page(2)  # the statements' first build, the custom fields read
        counts = []
        for size in (5, 25):
            with _statements(backend) as seen:
                found = page(size)
            assert len(found) == size
            for entity in found:
                number = int(entity["code"][1:])
                version = versions[number % 4]
                assert entity["version"] == {"type": "Version", "id": version["id"], "name": f"v{number % 4:02d}"}
            codes = [s for s in seen if "FROM metadata" in s]
            assert len(codes) == 1, seen  # the linked versions' metadata (their codes with it), once for the page
            counts.append(len(seen))
        assert counts[0] == counts[1], counts  # not a statement per row


def test_a_page_of_the_event_log_names_its_versions_in_one_statement(fresh_database):
    """The EventLogEntry rows of Versions are linked by their codes: one statement reads them for the page."""
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())

        call = _caller(backend)

        project = call("create", {"type": "Project", "fields": fields(name="Logged")})
        for count in (3, 20):
            call("batch", [{"request_type": "create", "type": "Version", "fields": fields(code=f"v{i:02d}", project=project)}
                           for i in range(count)])  # fmt: skip
            query = {"type": "EventLogEntry", "return_fields": ["entity", "event_type"],
                     "paging": {"entities_per_page": 500, "current_page": 1}}  # fmt: skip
            call("read", query)  # the new events numbered
            with _statements(backend) as seen:
                found = call("read", query)["entities"]
            versions = [e["entity"] for e in found if e["event_type"] == "Shotgun_Version_New"]
            assert [v["name"] for v in versions][-count:] == [f"v{i:02d}" for i in range(count)]
            assert len([s for s in seen if "metadata.value" in s]) == 1, seen  # the codes: once for the page
