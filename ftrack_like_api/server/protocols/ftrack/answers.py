"""Writing ftrack's answers: results as a stream, error objects with their status, refusals.

Without ``ftrack-strict-api: true`` an error object comes with status 200, as ftrack's
server does (a refused credential is always 401); with it, 4xx or 5xx. A failure no code
path expected is a JSON ``ServerError`` with an error id, logged once with its traceback;
a database too busy to take the call is 503 with ``Retry-After``.

Answers are written with ``orjson`` when it is installed (the ``fast`` extra: about ten
times the standard library's speed on a page of rows), else with the standard library;
a value orjson refuses (an integer past 64 bits, a lone surrogate) is written by the
standard library instead. Either is the same JSON to a reader.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Iterator

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

try:
    import orjson
except ImportError:  # pragma: no cover - the standard library's path, tested with orjson hidden
    orjson = None  # type: ignore[assignment]

from ...auth.idempotency import KeyState
from ...auth.throttle import Refusal
from ...files.actions import ACTIONS as FILE_ACTIONS
from ...gate import Busy

__all__ = ["absolute_urls", "dumps", "encoded", "error_answer", "failure_answer", "log_failure", "refused", "rows_in", "unclaimed"]

log = logging.getLogger(__name__)

#: Seconds a 503 asks the client to wait before trying again.
RETRY_AFTER = 1
#: Rows of a query answer encoded at a time.
ROWS_PER_CHUNK = 500
#: Rows of an answer written whole with orjson (see :func:`inline_rows`).
INLINE_ROWS = 10_000
#: ``json.dumps`` without the check for cycles: an answer is a tree (a shared reference is no cycle).
_dumps = json.JSONEncoder(check_circular=False).encode
STATUS = {"InvalidCredentialsError": 401, "PermissionError": 403, "ValidationError": 400, "ServerError": 500}


def dumps(value: Any) -> bytes:
    """``value`` as JSON bytes: by orjson when installed and it takes the value, else by the standard library."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except (TypeError, orjson.JSONEncodeError):
            pass  # an int past 64 bits, a lone surrogate, a key that is not a string: the standard library writes it
    return _dumps(value).encode()


def encoded(results: list[Any], rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[bytes]:
    """The JSON text of a batch's results, in pieces: a query's rows ``rows_per_chunk`` at a time."""
    yield b"["
    for position, result in enumerate(results):
        if position:
            yield b", "
        rows = result.get("data") if isinstance(result, dict) and result.get("action") == "query" else None
        if not isinstance(rows, list) or len(rows) <= rows_per_chunk:
            yield dumps(result)
            continue
        rest = dumps({k: v for k, v in result.items() if k != "data"})
        yield rest[:-1] + b', "data": ['
        for start in range(0, len(rows), rows_per_chunk):
            if start:
                yield b", "
            yield dumps(rows[start : start + rows_per_chunk])[1:-1]
        yield b"]}"
    yield b"]"


def inline_rows() -> int:
    """The most rows an answer may hold to be written whole in the thread that ran its batch (a larger
    one is streamed, a thread hop per piece): with orjson, a page of 10,000 rows is written in
    milliseconds; with the standard library, :data:`ROWS_PER_CHUNK`."""
    return ROWS_PER_CHUNK if orjson is None else INLINE_ROWS


def rows_in(results: list[Any]) -> int:
    """How many rows the queries of a batch's results answered (their outer level)."""
    return sum(
        len(r["data"]) for r in results
        if isinstance(r, dict) and r.get("action") == "query" and isinstance(r.get("data"), list)
    )  # fmt: skip


def failure_answer(request: Request, failure: Exception) -> Response:
    """The answer to an exception no code path expected: 503 when the database is busy, else a logged 500."""
    if isinstance(failure, (Busy, sa.exc.TimeoutError)):
        reason = str(failure) if isinstance(failure, Busy) else "the database connection pool is exhausted"
        log.warning("busy: %s", reason)
        answer = {"exception": "ServerError", "content": f"The server is busy ({reason}); try again shortly",
                  "error_code": "busy"}  # fmt: skip
        return JSONResponse(answer, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})
    error_id = log_failure(failure, f"{request.method} {request.url.path} failed")
    answer = {"exception": "ServerError", "content": f"The server failed to answer (error id {error_id} in its log)",
              "error_code": "internal", "error_id": error_id, "request_id": current_request_id() or ""}  # fmt: skip
    return error_answer(request, answer)


def current_request_id() -> str | None:
    """The request's id (``X-Request-Id``), which its log lines carry too."""
    from ...ops.logs import current_request_id as current

    return current()


def log_failure(failure: BaseException, what: str) -> str:
    """Log ``failure`` with its traceback under a new error id (uuid hex), and give the id."""
    error_id = uuid.uuid4().hex
    log.error("%s (error id %s)", what, error_id, exc_info=failure)
    return error_id


def refused(refusal: Refusal) -> Response:
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
    if refusal.status == 400:  # not a credential at all (a user name too long to be one)
        answer = {"exception": "ValidationError", "content": refusal.reason, "error_code": "bad_request"}
    else:
        code = refusal.code or ("throttled" if refusal.status == 429 else "invalid_credentials")
        answer = {"exception": "InvalidCredentialsError", "content": refusal.reason, "error_code": code}
    return JSONResponse(answer, status_code=refusal.status, headers=headers)


def error_answer(request: Request, answer: dict[str, Any]) -> Response:
    """An error object: with its 4xx/5xx status in strict mode, with 200 otherwise (a 401 always)."""
    exception = str(answer.get("exception"))
    strict = request.headers.get("ftrack-strict-api", "").lower() == "true"
    status = STATUS.get(exception, 400) if strict or exception == "InvalidCredentialsError" else 200
    if strict and answer.get("error_code") == "too_large":
        status = 413
    if strict and answer.get("error_code") == "conflict":
        status = 409
    return JSONResponse(answer, status_code=status)


def unclaimed(request: Request, state: KeyState, key: str, answer: str | None) -> Response:
    """The answer for a key this request did not claim: the remembered one, "in progress" or "reused"."""
    if state is KeyState.ANSWERED:
        if answer.startswith("{"):  # type: ignore[union-attr]  # a refusal: with the status it had
            return error_answer(request, json.loads(answer))  # type: ignore[arg-type]
        return Response(answer, media_type="application/json")
    if state is KeyState.RUNNING:
        # Whatever the mode: the client must see it is not an answer, and come back.
        return JSONResponse({"exception": "ServerError", "content": f"The batch with the idempotency key {key!r} is "
                             "still running; send it again for its answer", "error_code": "in_progress"},
                            status_code=409, headers={"Retry-After": "1"})  # fmt: skip
    return JSONResponse({"exception": "ValidationError", "content": f"The idempotency key {key!r} was sent before with "
                         "a different batch; a new batch needs a new key", "error_code": "idempotency_key_reused"},
                        status_code=422)  # fmt: skip


def absolute_urls(actions: list[Any], results: list[Any], base: str) -> None:
    """Make the ``/component/…`` and ``/widget/…`` paths in the answers absolute, from the request's ``base`` URL."""
    base = base.rstrip("/")

    def fixed(url: Any) -> Any:
        return base + url if isinstance(url, str) and url.startswith(("/component/", "/widget/")) else url

    for action, answer in zip(actions, results):
        if action == "get_widget_url" and isinstance(answer, dict) and "widget_url" in answer:
            answer["widget_url"] = fixed(answer["widget_url"])
            continue
        if action not in FILE_ACTIONS or not isinstance(answer, dict):
            continue
        for name in ("url", "signed_url"):
            if name in answer:
                answer[name] = fixed(answer[name])
        for part in answer.get("urls") or ():
            if isinstance(part, dict) and "signed_url" in part:
                part["signed_url"] = fixed(part["signed_url"])
