"""Paging by key: ``metadata.next.after``, read back as a query operation's ``after``, on both databases.

Each page after the first starts just after the last row seen, so the database walks the
same few rows for page 30 as for page 1 (no OFFSET), rows inserted meanwhile neither
repeat nor push others out, and an order with ties and NULLs gives each row once.
"""

import base64
import contextlib
import json
import uuid

import pytest
import requests
import sqlalchemy as sa

from ftrack_like_api.session import Session
from ftrack_like_api.transport import LocalTransport, MockTransport
from ftrack_like_api.transport.http import HttpTransport

TASKS = 3000


@pytest.fixture(scope="module")
def project(call, backend):
    """A project of 3,000 tasks: names and bids with ties, descriptions and start dates with NULLs."""
    schema_id = call.query("ProjectSchema")[0]["id"]
    project = call.create("Project", name="paging", full_name="Paging", project_schema_id=schema_id)["id"]
    shot = call.create("Shot", name="sh010", parent_id=project)["id"]
    operations = []
    for n in range(TASKS):
        data = {"id": str(uuid.uuid4()), "name": f"task{n % 40:02d}", "parent_id": shot,
                "description": None if n % 7 == 0 else f"d{n % 5}", "bid": float(n % 4),
                "start_date": {"__type__": "datetime", "value": f"2024-05-{1 + n % 3:02d}T10:00:00"} if n % 11 else None}  # fmt: skip
        operations.append({"action": "create", "entity_type": "Task", "entity_key": [data["id"]], "entity_data": data})
    call(*operations)
    with backend.engine.begin() as connection:  # the planner's statistics, as autovacuum or PRAGMA optimize keep them
        connection.exec_driver_sql("ANALYZE context")
    return project


def query(call, expression, after=None):
    operation = {"action": "query", "expression": expression}
    if after is not None:
        operation["after"] = after
    return call(operation)[0]


def by_key(call, expression, size):
    """Every row of ``expression``, ``size`` at a time, each page after the cursor of the one before."""
    rows, after, pages = [], None, 0
    while True:
        answer = query(call, f"{expression} limit {size}", after)
        rows += answer["data"]
        pages += 1
        after = answer["metadata"]["next"].get("after")
        if answer["metadata"]["next"]["offset"] is None:
            assert after is None
            return rows, pages
        assert after is not None


@pytest.mark.parametrize("order", [
    "order by description",
    "order by bid desc",
    "order by start_date",
    "order by description, bid desc",
    "order by description desc, start_date desc",
    "order by name desc, description",
    "order by parent.name, name",
    "",
])  # fmt: skip
def test_an_order_with_ties_and_nulls_gives_each_row_once_in_the_database_order(call, project, order):
    expression = f"select name, description, bid, start_date from Task where project_id is {project} {order}"
    whole = query(call, expression)["data"]
    assert len(whole) == TASKS
    rows, pages = by_key(call, expression, 97)
    assert pages == TASKS // 97 + 1
    if order:
        assert [r["id"] for r in rows] == [r["id"] for r in whole]  # the database's own order, row for row
    else:
        assert [r["id"] for r in rows] == sorted(r["id"] for r in whole)  # by id when no order is asked
    assert len({r["id"] for r in rows}) == TASKS


def test_nulls_sort_where_the_database_puts_them(call, project, backend):
    rows = query(call, f"select description from Task where project_id is {project} order by description")["data"]
    nulls = [n for n, r in enumerate(rows) if r["description"] is None]
    first = backend.storage.dialect.nulls_first
    assert nulls == (list(range(len(nulls))) if first else list(range(len(rows) - len(nulls), len(rows))))


def test_a_page_after_a_cursor_carries_no_offset_and_walks_as_few_rows_as_the_first(call, project, backend):
    expression = f"select name from Task where project_id is {project} order by name"

    def page(after=None, offset=None):
        with captured(backend) as statements:
            answer = query(call, f"{expression}{f' offset {offset}' if offset else ''} limit 100", after)
        reads = [(s, p) for s, p in statements if "FROM context" in s and "ORDER BY" in s]
        return answer, reads

    answer, first = page()
    after = answer["metadata"]["next"]["after"]
    for _ in range(27):
        answer, reads = page(after)
        after = answer["metadata"]["next"]["after"]
    assert answer["data"][0]["name"] == "task36"  # row 2,700 of 75 per name
    # SQLAlchemy writes SQLite's LIMIT as "LIMIT ? OFFSET ?": there the offset bound is 0.
    assert all("OFFSET" not in s or p[-1] == 0 for s, p in reads), reads
    assert len(reads) == 1  # the first segment fills the page
    flat = walked(backend, reads) / walked(backend, first)
    _, deep = page(offset=2800)
    by_offset = walked(backend, deep) / walked(backend, first)
    # The measure sees what OFFSET walks: page 29 by offset is many times page 1; by key it is not.
    assert by_offset > 8, by_offset
    assert flat < 2, flat


def walked(backend, statements):
    """How much work the database does for ``statements``: SQLite's virtual machine steps, PostgreSQL's rows read."""
    with backend.engine.connect() as connection:
        raw = connection.connection.driver_connection
        total = 0
        for statement, parameters in statements:
            if connection.dialect.name == "sqlite":
                steps = [0]

                def count(steps=steps):
                    steps[0] += 1
                    return 0

                raw.set_progress_handler(count, 100)
                try:
                    raw.execute(statement, parameters).fetchall()
                finally:
                    raw.set_progress_handler(None, 0)
                total += steps[0]
            else:
                with raw.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
                    total += _rows_read(cursor.fetchone()[0][0]["Plan"])
        return total


def _rows_read(plan):
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1) + plan.get("Rows Removed by Filter", 0)
    return own + sum(_rows_read(child) for child in plan.get("Plans", ()))


def test_listings_and_a_deep_offset_are_served_by_an_index_without_sorting(call, project, backend):
    by_name = f"select name from Task where project_id is {project} order by name limit 10"
    by_id = f"select name from Task where project_id is {project} limit 10"
    with captured(backend) as statements:
        query(call, by_name, query(call, by_name)["metadata"]["next"]["after"])
        query(call, by_id, query(call, by_id)["metadata"]["next"]["after"])
        query(call, "select name from Task order by name offset 2000 limit 10")
    reads = [(s, p) for s, p in statements if "FROM context" in s and "ORDER BY" in s]
    assert len(reads) == 5
    sqlite = backend.storage.dialect.name == "sqlite"
    if not sqlite:  # PostgreSQL's planner reads a deep offset of 3,000 rows faster by sorting them; see benchmarks/scale.py
        reads = reads[:4]
    with backend.engine.connect() as connection:
        raw = connection.connection.driver_connection
        for statement, parameters in reads:
            if sqlite:
                plan = " / ".join(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))
                assert "TEMP B-TREE" not in plan and "USING INDEX ix_context_" in plan, plan
            else:
                with raw.cursor() as cursor:
                    cursor.execute("EXPLAIN (COSTS OFF) " + statement, parameters)
                    plan = " / ".join(row[0] for row in cursor.fetchall())
                assert "Sort" not in plan and "Index Scan using ix_context_" in plan, plan


@contextlib.contextmanager
def captured(backend):
    """The (SQL, parameters) the backend sends meanwhile."""
    statements = []

    def keep(connection, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(backend.engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", keep)


def test_paging_while_rows_are_inserted_gives_each_row_once(call, project):
    expression = f"select name from Task where project_id is {project}"
    shot = query(call, f"select id from Shot where project_id is {project}")["data"][0]["id"]
    before = {r["id"] for r in query(call, expression)["data"]}
    seen, after, added = [], None, set()
    while True:
        answer = query(call, f"{expression} limit 250", after)
        seen += [r["id"] for r in answer["data"]]
        after = answer["metadata"]["next"].get("after")
        if after is None:
            break
        made = [call.create("Task", name="late", parent_id=shot)["id"] for _ in range(20)]  # ids before and after the cursor
        added.update(made)
    assert len(seen) == len(set(seen)), "a row came twice"
    assert before <= set(seen), "a row that was there all along was missed"
    assert set(seen) - before <= added
    for task in added:
        call({"action": "delete", "entity_type": "Task", "entity_key": [task]})


def test_a_bad_cursor_is_a_clear_400(call, project, server, admin_key, backend):
    expression = f"select name from Task where project_id is {project} order by name limit 5"
    good = query(call, expression)["metadata"]["next"]["after"]
    signature, values = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps([signature, [123, values[1]]]).encode()).decode()
    short = base64.urlsafe_b64encode(json.dumps([signature, values[:1]]).encode()).decode()
    cases = {
        "not base64 json": ("%%%", "not a cursor this server gave"),
        "text": (12, "after is text"),
        "another order": (query(call, f"select name from Task where project_id is {project} order by name desc limit 5")
                          ["metadata"]["next"]["after"], "another query's order"),  # fmt: skip
        "a number for a name": (forged, "no sort value here"),
        "too few values": (short, "not a cursor this server gave"),
        "empty": ("", "cursor a previous page gave"),
    }
    for what, (after, message) in cases.items():
        answer = requests.post(f"{server}/api", data=json.dumps([{"action": "query", "expression": expression, "after": after}]),
                               headers={"ftrack-user": "admin", "ftrack-api-key": admin_key, "ftrack-strict-api": "true",
                                        "content-type": "application/json"})  # fmt: skip
        assert answer.status_code == 400, (what, answer.status_code, answer.text)
        assert message in answer.json()["content"], (what, answer.json())
    grouped = call.error({"action": "query", "expression": "select count(id) from Task", "after": good})
    assert "grouped rows page by offset" in grouped["content"]


@pytest.mark.parametrize("transport", ["local", "http"])
def test_a_session_listing_pages_by_key_over_each_transport(project, database, server, admin_key, transport):
    sent = []
    inner = LocalTransport(database, "admin") if transport == "local" else HttpTransport(server, "admin", admin_key)
    with Session(server_url=server, api_user="admin", schema_cache_path=False,
                 transport=MockTransport(lambda batch: sent.append(batch) or inner.handle(batch))) as session:  # fmt: skip
        names = [task["name"] for task in session.query(f"select name from Task where project_id is {project} order by name",
                                                          page_size=400)]  # fmt: skip
    queries = [op for batch in sent for op in batch if op["action"] == "query"]
    assert len(names) == TASKS and names == sorted(names)
    assert len(queries) == TASKS // 400 + 1
    assert "after" not in queries[0] and all("after" in op for op in queries[1:])
    assert all("offset" in op["expression"] for op in queries[1:])  # ftrack's offset still goes along
    inner.close()


def test_kept_statements_after_cursors_of_each_null_pattern_answer_their_own_page(call, project):
    """A statement after a cursor is kept by which of its values are NULL: cursors of each
    pattern, asked in turn and again, each get the rows the whole listing has after them."""
    expression = (
        f"select name, description, start_date from Task where project_id is {project} order by description, start_date"
    )
    whole = query(call, expression)["data"]
    cursors = {}  # by which values are NULL: the cursor of the first row so, and how many rows it leaves behind
    for n, row in enumerate(whole[:-1]):
        pattern = (row["description"] is None, row["start_date"] is None)
        if pattern not in cursors:  # the cursor a page ending on this row gives
            cursors[pattern] = (query(call, f"{expression} offset {n} limit 1")["metadata"]["next"]["after"], n + 1)
    whole = [r["id"] for r in whole]
    assert len(cursors) == 4, cursors.keys()  # each of NULL / not NULL, for both keys
    for _ in range(2):
        for after, seen in cursors.values():
            for size in (3, 50):
                got = [r["id"] for r in query(call, f"{expression} limit {size}", after)["data"]]
                assert got == whole[seen : seen + size]
        # Another query of the shape (another project's value): none of this project's rows.
        other = expression.replace(project, str(uuid.uuid4()))
        assert query(call, f"{other} limit 5", after)["data"] == []


@pytest.mark.parametrize("order, position, value", [
    ("bid", 0, float("nan")),
    ("bid", 0, float("inf")),
    ("bid", 0, 10**400),
    ("start_date", 0, {"t": "2024-05-01T10:00:00+05:00"}),
    ("start_date", 0, {"d": "2024-05-01"}),
])  # fmt: skip
def test_a_forged_sort_value_is_a_clear_400_not_a_wrong_page(call, project, order, position, value):
    expression = f"select name from Task where project_id is {project} order by {order} limit 5"
    good = query(call, expression)["metadata"]["next"]["after"]
    signature, values = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    values[position] = value
    forged = base64.urlsafe_b64encode(json.dumps([signature, values]).encode()).decode()
    error = call.error({"action": "query", "expression": expression, "after": forged})
    assert error["error_code"] == "invalid_query" and "not a cursor this server gave" in error["content"], error
