"""Every attribute of every type reads, empty references included: generated from the schema, not a list.

A studio with a project, a shot, a task, an asset, a version, a component with no
container and no thumbnail, a note and metadata, on top of the seed data (users, statuses,
schemas, locations …): most references somewhere are empty (a project's parent, a user's
thumbnail, a component's container). Each attribute is selected alone and, for
references and collections, through to each scalar of the type it leads to; every
answer must be rows, never an error.
"""

import pytest

from ftrack_like_api.schema import Kind


@pytest.fixture(scope="module")
def studio(call):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    project = call.create("Project", name="walk", full_name="walk", project_schema_id=schema)["id"]
    shot = call.create("Shot", name="sh010", parent_id=project)["id"]
    task = call.create("Task", name="comp", parent_id=shot)["id"]
    asset = call.create("Asset", name="plate", context_id=shot, type_id=call.query("AssetType limit 1")[0]["id"])["id"]
    version = call.create("AssetVersion", asset_id=asset)["id"]  # no task, no thumbnail
    call.create("FileComponent", name="main", version_id=version)  # no container
    call.create("Note", content="hello", parent_id=task, parent_type="Task")
    call({"action": "create", "entity_type": "Metadata", "entity_key": [task, "k"],
          "entity_data": {"parent_id": task, "key": "k", "value": "v"}})  # fmt: skip
    return project


def expressions(schema):
    for entity_type in schema:
        visible = {name: a for name, a in entity_type.attributes.items() if not a.hidden}
        for name, attribute in visible.items():
            yield f"select {name} from {entity_type.name}"
            if attribute.kind in (Kind.REFERENCE, Kind.COLLECTION) and len(entity_type.primary_key) == 1:
                target = schema[attribute.target]
                if attribute.kind is Kind.REFERENCE and len(target.primary_key) != 1:
                    continue
                for inner, leaf in target.attributes.items():
                    if leaf.kind is Kind.SCALAR and not leaf.hidden:
                        yield f"select {name}.{inner} from {entity_type.name}"


def test_every_attribute_of_every_type_reads(backend, call, studio):
    failures = []
    count = 0
    for expression in expressions(backend.schema):
        count += 1
        answer = backend.execute([{"action": "query", "expression": expression}], "admin")
        if not isinstance(answer, list):
            failures.append(f"{expression}: {answer.get('content')}")
    assert failures == [], "\n".join(failures)
    assert count > 1000  # the walk covers the schema, not a sample


def test_walking_up_the_parents_ends_in_none(call, studio):
    task = call.query("select parent.parent.parent.name, parent.parent.parent.parent from Task where name is \"comp\"")[0]
    project = task["parent"]["parent"]
    assert project["__entity_type__"] == "Project" and project["parent"] is None
