"""Upgrading a studio database made by an earlier release, with its data in place (Alembic).

The starting point is ``tests/fixtures/databases/``: a database as the release at 8ef260f
(the last before versioned upgrades) built it, with a few rows — the SQLite file itself, and
on PostgreSQL that release's ``pg_dump`` of the same, loaded into a schema of its own.
"""

import gzip
import pathlib
import shutil
import textwrap
import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ftrack_like_api.exceptions import SchemaError
from ftrack_like_api.server import Backend
from ftrack_like_api.server.engine.upgrades import UpgradeRequired, Upgrades, locked, target_metadata

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "databases"
#: What the fixture holds (see make.py there).
PROJECT, SHOT, TASK, JO, NOTE = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 6))


def load_release(url):
    """Put the database of the release before versioned upgrades at ``url`` (a new database)."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        with gzip.open(FIXTURES / "studio.db.gz", "rb") as packed, open(path, "wb") as out:
            shutil.copyfileobj(packed, out)
        return
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        raw.execute((FIXTURES / "studio-postgresql.sql").read_text())  # no parameters: many statements at once
        raw.commit()
    engine.dispose()


def differences(backend):
    """What the database lacks or has more than today's code defines (Alembic's autogenerate comparison)."""
    with backend.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        with warnings.catch_warnings():  # it sorts the tables, whose references go round in circles (as they may)
            warnings.filterwarnings("ignore", "Cannot correctly sort tables", sa.exc.SAWarning)
            # SQLite's expression indexes (``lower(name)``) are not reflected: folded_indexes() checks them.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning)
            warnings.filterwarnings("ignore", ".*expression-based index", UserWarning)
            return compare_metadata(context, target_metadata(connection.dialect.name))


@pytest.fixture
def released(fresh_database):
    load_release(fresh_database)
    return fresh_database


def test_a_database_of_the_release_before_is_upgraded_with_its_data(released):
    with Backend.from_url(released) as backend:
        with backend.engine.connect() as connection:
            assert Upgrades().current(connection) == Upgrades().head
        assert differences(backend) == [], "production.json or the tables beside it changed without a revision " \
                                           "that brings a database to them (docs/development.rst: writing a revision)"
        answer = backend.execute([{"action": "query", "expression": f"select name, status.name, parent.name, notes.content "
                                                                    f"from Task where id is {TASK}"}], "admin")  # fmt: skip
        task = answer[0]["data"][0]
        assert (task["name"], task["status"]["name"]) == ("comp", "In progress")
        assert [note["content"] for note in task["notes"]] == ["kept note"]
        assert backend.auth.role(JO) == "read-only on kept"
        # Revision 0005: every note category is a note label too.
        ids = {kind: {row["id"] for row in backend.execute([{"action": "query", "expression": kind}], "admin")[0]["data"]}
               for kind in ("NoteCategory", "NoteLabel")}  # fmt: skip
        assert ids["NoteCategory"] and ids["NoteCategory"] <= ids["NoteLabel"]
        assert [k["name"] for k in backend.auth.list_keys("jo")] == ["nuke"]
        # Written after the upgrade, by today's code, in a table that release had too.
        made = backend.execute([{"action": "create", "entity_type": "Timer", "entity_key": ["t1"],
                                 "entity_data": {"id": "t1", "context_id": TASK}}], "admin")  # fmt: skip
        assert isinstance(made, list), made
        # Revision 0006: a user's timelogs and a project's tree go with them (PostgreSQL refused both).
        gone = backend.execute([{"action": "create", "entity_type": "User", "entity_key": ["u1"],
                                 "entity_data": {"id": "u1", "username": "leaving"}},
                                {"action": "create", "entity_type": "Timelog", "entity_key": ["l1"],
                                 "entity_data": {"id": "l1", "user_id": "u1", "context_id": TASK}},
                                {"action": "delete", "entity_type": "User", "entity_key": ["u1"]},
                                {"action": "delete", "entity_type": "Project", "entity_key": [PROJECT]}], "admin")  # fmt: skip
        assert isinstance(gone, list), gone
        left = backend.execute([{"action": "query", "expression": f"Context where id in ({PROJECT}, {SHOT}, {TASK})"},
                                {"action": "query", "expression": "Timelog where id is l1"}], "admin")  # fmt: skip
        assert [answer["data"] for answer in left] == [[], []]


def test_a_new_database_is_stamped_at_the_head_and_matches_the_code(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        with backend.engine.connect() as connection:
            assert Upgrades().current(connection) == Upgrades().head
        assert differences(backend) == []


def test_the_upgrade_runs_once_and_a_second_opening_has_nothing_to_do(released):
    Backend.from_url(released).close()
    backend = Backend.from_url(released)
    with backend.engine.connect().execution_options(ftrack_writes=True) as connection:
        with locked(connection):
            assert Upgrades().upgrade(connection) == []
    backend.close()


NOT_ADDITIVE = '''\
"""Drop the old role table (a test's revision).

Revision ID: 9001
"""
from alembic import op

revision = "9001"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("dropped_later", __import__("sqlalchemy").Column("id", __import__("sqlalchemy").Text, primary_key=True))
'''


def test_a_revision_that_is_not_additive_waits_for_the_upgrade_command(fresh_database, tmp_path):
    Backend.from_url(fresh_database).close()
    (tmp_path / "9001_test.py").write_text(textwrap.dedent(NOT_ADDITIVE.format(down=Upgrades().head)))
    upgrades = Upgrades([str(tmp_path)])
    backend = Backend.from_url(fresh_database)
    with backend.engine.connect().execution_options(ftrack_writes=True) as connection:
        with pytest.raises(UpgradeRequired, match=r"9001 \(Drop the old role table \(a test's revision\)\).*ftrack-like upgrade"):
            with locked(connection):
                upgrades.upgrade(connection, automatic=True)
        assert upgrades.current(connection) == Upgrades().head  # nothing ran
        connection.rollback()
        with locked(connection):
            assert [s.revision for s in upgrades.upgrade(connection)] == ["9001"]
        assert upgrades.current(connection) == "9001"
        assert sa.inspect(connection).has_table("dropped_later")
    backend.close()
    # This version does not know 9001: the database was upgraded by a newer one.
    with pytest.raises(SchemaError, match="at revision 9001, which this version of ftrack_like_api does not know"):
        Backend.from_url(fresh_database)


ADDITIVE = '''\
"""Add a table for reviews (a test's revision).

Revision ID: 9002
"""
import sqlalchemy as sa
from alembic import op

revision = "9002"
down_revision = {down!r}
branch_labels = None
depends_on = None
additive = True


def upgrade():
    op.create_table("added_later", sa.Column("id", sa.Text, primary_key=True))
'''


def test_after_an_additive_upgrade_the_version_before_still_opens_the_database(fresh_database, tmp_path, caplog):
    """Servers are upgraded one at a time: the ones not upgraded yet keep working (with a warning)."""
    Backend.from_url(fresh_database).close()
    (tmp_path / "9002_test.py").write_text(ADDITIVE.format(down=Upgrades().head))
    newer = Upgrades([str(tmp_path)])  # the next release, which ships 9002
    backend = Backend.from_url(fresh_database)
    with backend.engine.connect().execution_options(ftrack_writes=True) as connection:
        with locked(connection):
            assert [s.revision for s in newer.upgrade(connection, automatic=True)] == ["9002"]
        meta = dict(connection.execute(sa.text("SELECT key, value FROM ftrack_like_meta")).all())
    backend.close()
    assert meta["readable_by"].split(",")[:2] == ["9002", Upgrades().head]
    # This version does not know 9002, but 9002 only adds: it opens the database and works on it.
    with caplog.at_level("WARNING"), Backend.from_url(fresh_database) as older:
        assert "at revision 9002, newer than this version" in caplog.text
        schema = older.execute([{"action": "query", "expression": "select id from ProjectSchema"}], "admin")[0]["data"][0]
        project = older.execute([{"action": "create", "entity_type": "Project", "entity_key": ["p"],
                                  "entity_data": {"id": "00000000-0000-4000-8000-0000000000aa", "name": "after",
                                                  "full_name": "after", "project_schema_id": schema["id"]}}], "admin")  # fmt: skip
        assert project[0]["data"]["name"] == "after"
        with older.engine.connect() as connection:
            assert Upgrades().current(connection) == "9002"  # nothing was undone
            assert dict(connection.execute(sa.text("SELECT key, value FROM ftrack_like_meta")).all()) == meta


def test_the_upgrade_command_prints_its_sql_changing_nothing_then_upgrades(released, capsys):
    from ftrack_like_api.cli import main

    assert main(["upgrade", "--sql", "--database", released]) == 0
    out = capsys.readouterr().out
    assert out.startswith("-- ") and f"from before versioned upgrades to {Upgrades().head}, rolled back" in out
    # What the revisions do, not the reads they make to decide it (an INSERT … SELECT moving rows is theirs).
    assert "CREATE TABLE alembic_version" in out and not any(line.startswith("SELECT") for line in out.splitlines())
    engine = sa.create_engine(released.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        assert not sa.inspect(connection).has_table("alembic_version")  # nothing changed
    engine.dispose()

    assert main(["upgrade", "--database", released]) == 0
    assert capsys.readouterr().out.startswith(f"upgraded {released.split('://')[0]}")
    assert main(["upgrade", "--database", released]) == 0
    assert f"is at revision {Upgrades().head} (the newest): nothing to upgrade" in capsys.readouterr().out


def test_two_processes_upgrading_at_once_upgrade_once(released, ftrack_like):
    import subprocess

    started = [subprocess.Popen([ftrack_like, "upgrade", "--database", released], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    answers = [process.communicate(timeout=120) for process in started]
    assert [process.returncode for process in started] == [0, 0], answers
    outs = sorted(out for out, _ in answers)
    assert "nothing to upgrade" in outs[0] and outs[1].startswith("upgraded "), answers


def test_ftracks_stock_data_reaches_a_database_of_before_under_the_ids_a_new_one_has(released):
    """Revision 0009: the Project Manager role, On Hold (renamed), Pending, Deliverable, Asset Build (renamed)."""
    queries = ['SecurityRole where name is "Project Manager"', 'Status where name is "On Hold"',
               'Status where name is "Pending"', 'Type where name is "Deliverable"', 'ObjectType where name is "Asset Build"',
               'Status where name is "On hold"', 'ObjectType where name is "AssetBuild"']  # fmt: skip

    def found(url):
        with Backend.from_url(url) as backend:
            answers = backend.execute([{"action": "query", "expression": q} for q in queries], "admin")
            task_types = backend.execute([{"action": "query", "expression": "select types.name from TaskTypeSchema"}], "admin")
        return [sorted(row["id"] for row in answer["data"]) for answer in answers], task_types

    from ftrack_like_api.server.auth.permissions import security_role_id
    from ftrack_like_api.server.engine.seed import OBJECT_TYPES, seed_id

    upgraded, upgraded_types = found(released)
    new = [[security_role_id("Project Manager")], [seed_id("status", "On Hold")], [seed_id("status", "Pending")],
           [seed_id("type", "Deliverable")], [OBJECT_TYPES["Asset Build"][0]],
           [seed_id("status", "On Hold")], []]  # what a new database has ("On hold": the one status, without case)
    assert upgraded == new
    with Backend.from_url(released) as backend:  # what the release before had, still there
        task = backend.execute([{"action": "query", "expression": f"select status.name from Task where id is {TASK}"}], "admin")
    assert task[0]["data"][0]["status"]["name"] == "In progress"
    assert any("Deliverable" in [t["name"] for t in schema["types"]] for schema in upgraded_types[0]["data"])


def test_shotgrids_stock_version_statuses_reach_a_database_of_before_in_its_version_workflow(released):
    """Revision 0014: Viewed and N/A (ShotGrid's vwd and na), last in the seeded Version workflow, as a new one has."""
    from ftrack_like_api.server.engine.seed import VERSION_WORKFLOW, seed_id

    def found(url):
        with Backend.from_url(url) as backend:
            statuses = backend.execute([{"action": "query", "expression": 'select id, state.short from Status where '
                                         'name in ("Viewed", "N/A")'}], "admin")  # fmt: skip
            workflow = backend.execute([{"action": "query", "expression": "select statuses.name from WorkflowSchema "
                                         f"where id is {seed_id('workflow', 'Version')}"}], "admin")  # fmt: skip
        return (sorted((row["id"], row["state"]["short"]) for row in statuses[0]["data"]),
                [s["name"] for s in workflow[0]["data"][0]["statuses"]])

    upgraded = found(released)
    assert upgraded[0] == sorted([(seed_id("status", "Viewed"), "IN_PROGRESS"), (seed_id("status", "N/A"), "DONE")])
    assert upgraded[1][-2:] == ["Viewed", "N/A"] and set(upgraded[1]) == set(VERSION_WORKFLOW)
    with Backend.from_url(released) as backend:  # a second opening adds nothing more
        again = backend.execute([{"action": "query", "expression": 'select id from Status where name is "N/A"'}], "admin")
    assert len(again[0]["data"]) == 1


def test_folded_indexes_and_ftracks_external_note_label_reach_a_database_of_before(released):
    """Revision 0015: an index on each indexed text column's folded value; ``External`` becomes ``External Note``."""
    from ftrack_like_api.server.engine.migrations.versions import __path__ as versions
    from ftrack_like_api.server.engine.seed import seed_id

    folded = {f"ix_{table}_{column}_folded" for table, column in _revision("0015", versions).FOLDED}
    with Backend.from_url(released) as backend:
        with backend.engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                names = set(connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars())
            else:
                names = set(connection.exec_driver_sql("SELECT indexname FROM pg_indexes").scalars())
        made = {index.name for table in backend.storage.metadata.tables.values() for index in table.indexes
                if index.name and index.name.endswith("_folded")}  # fmt: skip
        assert made == folded and folded <= names
        for kind in ("NoteCategory", "NoteLabel"):
            rows = backend.execute([{"action": "query", "expression": f"select name from {kind}"}], "admin")[0]["data"]
            assert (seed_id("note category", "External Note"), "External Note") in [(r["id"], r["name"]) for r in rows]
            assert "External" not in [r["name"] for r in rows]


def _revision(number, folders):
    import importlib.util
    import pathlib

    path = next(pathlib.Path(folders[0]).glob(f"{number}_*.py"))
    spec = importlib.util.spec_from_file_location(f"revision_{number}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_revision_0012_indexes_aquarium_edges_by_source_and_history_by_key_on_opening(fresh_database):
    """A database at 0011 (no index on ``aquarium_edge(from_key, …)``, no ``aquarium_history``) gets them when opened,
    and the cleanup's ``from_key IN …`` and a source's edges read the index rather than the whole table."""
    Backend.from_url(fresh_database).close()
    engine = sa.create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP INDEX ix_aquarium_edge_from"))
        connection.execute(sa.text("DROP TABLE aquarium_history"))
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0011'"))
    with engine.connect() as connection:
        assert "ix_aquarium_edge_from" not in {i["name"] for i in sa.inspect(connection).get_indexes("aquarium_edge")}
    engine.dispose()
    with Backend.from_url(fresh_database) as backend:
        with backend.engine.connect() as connection:
            assert Upgrades().current(connection) == Upgrades().head
            indexes = {i["name"]: i["column_names"] for i in sa.inspect(connection).get_indexes("aquarium_edge")}
            assert indexes["ix_aquarium_edge_from"] == ["from_key", "type"]
            history = sa.inspect(connection)
            assert history.get_pk_constraint("aquarium_history")["constrained_columns"] == ["key", "seq"]
            assert {i["name"] for i in history.get_indexes("aquarium_history")} == {"ix_aquarium_history_seq"}
            assert differences(backend) == []
            edges = backend.storage.aquarium["aquarium_edge"]
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SET LOCAL enable_seqscan = off"))  # an empty table: ask what it can use
            statement = edges.delete().where(edges.c.from_key.in_(["a", "b"]))
            compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
            explain = "EXPLAIN QUERY PLAN" if connection.dialect.name == "sqlite" else "EXPLAIN"
            plan = " ".join(str(row) for row in connection.execute(sa.text(f"{explain} {compiled}")))
            assert "ix_aquarium_edge_from" in plan, plan


def test_revision_0017_indexes_a_projects_contexts_in_the_order_they_were_made_on_opening(fresh_database):
    """A database at 0015 (no ``context(project_id, created_at, id)``) gets the index when opened, and a project's
    shots read in ShotGrid's default order (``order by created_at, id``, a page at an offset) walk it, not a sort."""
    Backend.from_url(fresh_database).close()
    engine = sa.create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP INDEX ix_context_project_id_created_at_id"))
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0015'"))
    engine.dispose()
    with Backend.from_url(fresh_database) as backend:
        with backend.engine.connect() as connection:
            assert Upgrades().current(connection) == Upgrades().head
            with warnings.catch_warnings():  # SQLite's expression indexes are not reflected
                warnings.filterwarnings("ignore", ".*expression-based index")
                indexes = {i["name"]: i["column_names"] for i in sa.inspect(connection).get_indexes("context")}
            assert indexes["ix_context_project_id_created_at_id"] == ["project_id", "created_at", "id"]
            assert differences(backend) == []
            if connection.dialect.name == "postgresql":  # an empty table: ask what it can use
                connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
                connection.execute(sa.text("SET LOCAL enable_sort = off"))
            page = ("SELECT id FROM context WHERE project_id = 'p' AND context_type = 'task' "
                    "ORDER BY created_at, id LIMIT 500 OFFSET 1000")  # fmt: skip
            explain = "EXPLAIN QUERY PLAN" if connection.dialect.name == "sqlite" else "EXPLAIN"
            plan = " ".join(str(row) for row in connection.execute(sa.text(f"{explain} {page}")))
            assert "ix_context_project_id_created_at_id" in plan and "TEMP B-TREE" not in plan, plan
