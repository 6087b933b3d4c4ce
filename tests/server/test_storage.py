"""Opening a database: new ones are built and seeded once, old ones upgraded, newer ones refused.

Upgrades from the release before (a database of its own in tests/fixtures/) are in test_upgrades.py.
"""

import os
import warnings

import pytest
import sqlalchemy as sa

from ftrack_like_api.exceptions import SchemaError
from ftrack_like_api.server import Backend
from ftrack_like_api.server.engine.seed import STATUSES
from ftrack_like_api.server.engine.storage import SCHEMA_VERSION


def test_opening_twice_seeds_once(fresh_database):
    for _ in range(2):
        backend = Backend.from_url(fresh_database)
        statuses = backend.execute([{"action": "query", "expression": "select name from Status"}], "admin")
        users = backend.execute([{"action": "query", "expression": "select username from User"}], "admin")
        backend.close()
    assert len(statuses[0]["data"]) == len(STATUSES) == 12  # ftrack's stock statuses, Pending the tenth (0009); Viewed, N/A (0014)
    assert [u["username"] for u in users[0]["data"]] == ["admin"]


def test_an_older_database_is_upgraded_not_broken(fresh_database):
    backend = Backend.from_url(fresh_database)
    backend.execute([{"action": "create", "entity_type": "Scope", "entity_key": ["s1"],
                      "entity_data": {"id": "s1", "name": "kept"}}], "admin")
    with backend.engine.begin() as connection:
        # What an older version would have left: no job tables, no AssetType.component column, no
        # version, no revision (it came before versioned upgrades).
        connection.exec_driver_sql("DROP TABLE alembic_version")
        connection.exec_driver_sql("DROP TABLE job_component")
        connection.exec_driver_sql("DROP TABLE job")
        connection.exec_driver_sql("ALTER TABLE asset_type DROP COLUMN component")
        connection.execute(backend.storage.meta.delete().where(backend.storage.meta.c.key == "schema_version"))
        # … and an index this version no longer makes.
        connection.exec_driver_sql("CREATE INDEX ix_context_context_type ON context (context_type)")
    backend.close()

    backend = Backend.from_url(fresh_database)
    with backend.engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert {"job", "job_component"} <= set(inspector.get_table_names())
        assert "component" in {c["name"] for c in inspector.get_columns("asset_type")}
        with warnings.catch_warnings():  # SQLite does not reflect the folded (expression) indexes
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning)
            indexes = {i["name"] for i in inspector.get_indexes("context")}
        assert "ix_context_context_type" not in indexes and "ix_context_project_id" in indexes
        version = connection.execute(
            sa.select(backend.storage.meta.c.value).where(backend.storage.meta.c.key == "schema_version")
        ).scalar()
    assert version == str(SCHEMA_VERSION)
    answer = backend.execute([{"action": "query", "expression": "select name from Scope"}], "admin")
    assert [row["name"] for row in answer[0]["data"]] == ["kept"]
    backend.execute([{"action": "create", "entity_type": "Job", "entity_key": ["j1"], "entity_data": {"id": "j1"}}], "admin")
    backend.close()


def test_the_tables_beside_the_entities_are_upgraded_too(fresh_database):
    backend = Backend.from_url(fresh_database)
    with backend.engine.begin() as connection:
        # What an older version would have left: remembered answers without a state or a claim,
        # failed sign-ins without the address they came from, no revision.
        connection.exec_driver_sql("DROP TABLE alembic_version")
        for column in ("state", "claim", "request_hash"):
            connection.exec_driver_sql(f"ALTER TABLE idempotent_answer DROP COLUMN {column}")
        connection.exec_driver_sql("ALTER TABLE auth_failure DROP COLUMN address")
    backend.close()

    backend = Backend.from_url(fresh_database)
    with backend.engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert {"state", "claim", "request_hash"} <= {c["name"] for c in inspector.get_columns("idempotent_answer")}
        assert "address" in {c["name"] for c in inspector.get_columns("auth_failure")}
    backend.close()


def test_a_database_from_a_newer_version_is_refused(fresh_database):
    backend = Backend.from_url(fresh_database)
    with backend.engine.begin() as connection:
        meta = backend.storage.meta
        connection.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION + 1)))
    backend.close()
    with pytest.raises(SchemaError, match="written by a newer version"):
        Backend.from_url(fresh_database)


def test_an_unknown_database_url_says_what_works():
    with pytest.raises(ValueError, match="use sqlite:///path or postgresql://"):
        Backend.from_url("mysql://localhost/studio")


def test_a_database_that_cannot_be_opened_says_so_in_one_line_without_the_password(tmp_path):
    from ftrack_like_api.exceptions import DatabaseError

    expected = (r"^Cannot open the database sqlite:///.*/missing/studio\.db: the folder .*/missing does not exist "
                r"\(`ftrack-like init` makes it, or mkdir -p it\)$")
    with pytest.raises(DatabaseError, match=expected):
        Backend.from_url(f"sqlite:///{tmp_path / 'missing' / 'studio.db'}")
    postgres = os.environ.get("FTRACK_LIKE_TEST_POSTGRES")
    if postgres:
        wrong = sa.engine.make_url(postgres).set(username="nobody", password="s3cret-pass").render_as_string(False)
        with pytest.raises(DatabaseError) as refused:
            Backend.from_url(wrong)
        message = str(refused.value)
        assert "nobody" in message and "s3cret-pass" not in message and "\n" not in message
