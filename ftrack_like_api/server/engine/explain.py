"""The SQL statements a query became and the database's plan for each: ``ftrack-like query --explain``.

Run in-process on a database, or by a server for an administrator (``POST /admin/explain``):
the query runs as the asking user, and the statements its thread sent are kept (a server's
other requests, on other threads, are not), then each is asked for its plan (SQLite's
``EXPLAIN QUERY PLAN``, PostgreSQL's ``EXPLAIN``). The answer is JSON::

    {"rows": 12, "dialect": "sqlite",
     "statements": [{"sql": "SELECT …", "parameters": "('x', 5)", "plan": ["SCAN task", …]}, …]}

or, when the query is refused, the error object ``/api`` would answer.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from .backend import Backend

__all__ = ["explain"]


def explain(backend: Backend, expression: str, user: str = "admin", user_id: str | None = None) -> dict[str, Any]:
    """Run ``expression`` as ``user``; the statements it became with their plans, or the error answer."""
    statements: list[tuple[str, Any]] = []
    thread = threading.get_ident()

    def keep(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if threading.get_ident() == thread and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    sa.event.listen(backend.engine, "before_cursor_execute", keep)
    try:
        answer = backend.execute([{"action": "query", "expression": expression}], user, user_id=user_id)
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", keep)
    if isinstance(answer, dict):
        return answer
    dialect = backend.engine.dialect.name
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    explained = []
    with backend.engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(prefix + statement, parameters).all()
            explained.append({"sql": statement.strip(), "parameters": repr(parameters),
                              "plan": [str(row[-1]) for row in plan if row[-1] is not None]})  # fmt: skip
    return {"rows": len(answer[0]["data"]), "dialect": dialect, "statements": explained}
