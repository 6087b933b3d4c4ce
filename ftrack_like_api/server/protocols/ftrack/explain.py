"""``POST /admin/explain`` (``{"expression": …}``): the SQL a query became and the database's plan, for
administrators only (``ftrack-like query --explain`` against a server; see :mod:`...engine.explain`).

The statements show the studio's tables and the plan its indexes: what an administrator
needs to see why a query is slow, and more than anyone else need see.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...auth.throttle import Refusal
from ...engine.backend import Backend
from ...engine.explain import explain
from ...gate import DatabaseGate
from .answers import failure_answer, refused
from .body import read_body

__all__ = ["Explain"]

log = logging.getLogger(__name__)

#: The largest body: one query's text.
EXPLAIN_BODY = 64 * 1024


class Explain:
    """``POST /admin/explain`` over one backend."""

    def __init__(self, backend: Backend, database: DatabaseGate) -> None:
        self.backend, self.database = backend, database

    def routes(self) -> list[Route]:
        return [Route("/admin/explain", self.explain, methods=["POST"])]

    async def explain(self, request: Request) -> Response:
        from .api import _address, _authenticate  # (api.py mounts these routes)

        try:
            user_id, username, _ = await self.database(_authenticate, self.backend.auth, request.headers, _address(request))
            if not await self.database(self._is_admin, user_id, username):
                return _invalid("Only administrators see the SQL and the plan of a query (`ftrack-like query "
                                "--explain`): the query itself runs for anyone, without --explain", 403, "permission")  # fmt: skip
            try:
                expression = json.loads(await read_body(request, EXPLAIN_BODY) or b"")["expression"]
            except (ValueError, KeyError, TypeError):
                return _invalid(f'Send {{"expression": "…"}} (at most {EXPLAIN_BODY // 1024} KiB)', 400)
            if not isinstance(expression, str):
                return _invalid('Send {"expression": "…"}: the query\'s text', 400)
            answer = await self.database(explain, self.backend, expression, username, user_id)
        except Refusal as refusal:
            return refused(refusal)
        except Exception as failure:
            return failure_answer(request, failure)
        if "exception" in answer:
            return JSONResponse(answer, status_code=400)
        log.info("explain user=%s statements=%d", username, len(answer["statements"]))
        return JSONResponse(answer)

    def _is_admin(self, user_id: str, username: str) -> bool:
        with self.backend.engine.connect() as connection:
            return bool(self.backend.permissions.principal(connection, username, user_id).admin)


def _invalid(content: str, status: int, code: str = "bad_request") -> Response:
    return JSONResponse({"exception": "ValidationError", "content": content, "error_code": code}, status_code=status)
