"""The HTTP server: ftrack's JSON API on ``POST /api``, plus ``/health`` and ``/ready``.

An ASGI app (starlette); ``ftrack-like serve`` runs it under uvicorn. It keeps nothing
in memory between requests that another worker would need: run several against one
PostgreSQL and they agree.

``POST /api`` takes a JSON list of operations with ``ftrack-user`` and
``ftrack-api-key`` headers (or ``Authorization: Bearer <token>`` from ``POST /signin``) and answers a list of results, or one error object. With
``ftrack-strict-api: true`` an error comes with a 4xx/5xx status; without, with 200, as
ftrack's server does. A body in gzip (``Content-Encoding: gzip``) is read, and answers
are gzipped for clients that accept it. ``ftrack-idempotency-key`` makes a retried batch
that writes run once. Limits (body size, operations per batch, and the backend's time per batch) are clear
errors, not crashes: a batch past the time limit is stopped in the database and rolled back.

Bad input is a 4xx error object saying what is wrong; anything unexpected is a
``ServerError`` object with an ``error_id`` that names the log line holding the details —
never a traceback, SQL or a plain-text 500. Each worker runs at most ``concurrency``
database calls at once (the size of its connection pool); a request that waits longer than
``wait`` seconds for one, or finds the pool exhausted, is answered 503 with ``Retry-After``.
Answers are written as a stream, a slice of rows at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import threading
import time
import uuid
import zlib
from typing import Any, Callable, Iterator

import anyio
import anyio.to_thread
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .auth.credentials import MAX_USERNAME_LENGTH
from .auth.idempotency import MAX_KEY_LENGTH, KeyState, claim_lifetime
from .auth.throttle import Refusal
from .engine.backend import WRITE_ACTIONS, Backend

__all__ = ["create_app", "serving"]

log = logging.getLogger(__name__)

#: Largest request body accepted, after decompression.
MAX_BODY = 64 * 1024 * 1024
#: Largest sign-in body accepted.
SIGNIN_BODY = 64 * 1024
#: Most operations one batch may carry.
MAX_OPERATIONS = 50_000
#: Seconds a copy of a running batch waits for its answer before it is told to come back (409).
IDEMPOTENCY_WAIT = 5.0
#: Deepest nesting of lists and objects in a body (an operation and its values need a handful).
MAX_DEPTH = 32
#: Seconds a request waits for a turn at the database before it is answered 503.
WAIT = 10.0
#: Seconds a 503 asks the client to wait before trying again.
RETRY_AFTER = 1
#: Rows of a query answer encoded at a time.
ROWS_PER_CHUNK = 500
_STATUS = {"InvalidCredentialsError": 401, "PermissionError": 403, "ValidationError": 400, "ServerError": 500}


def create_app(
    backend: Backend,
    max_body: int = MAX_BODY,
    max_operations: int = MAX_OPERATIONS,
    idempotency_wait: float = IDEMPOTENCY_WAIT,
    concurrency: int | None = None,
    wait: float = WAIT,
) -> Starlette:
    """The ASGI app serving ``backend``.

    A request whose idempotency key another request is running waits up to
    ``idempotency_wait`` seconds for that answer, then is told to come back (409).
    ``concurrency`` (default: what the backend's connection pool holds) caps the database
    calls this worker runs at once; a request waits at most ``wait`` seconds for a turn.
    """
    turns = concurrency if concurrency is not None else _pool_capacity(backend.engine)
    gate = anyio.Semaphore(turns)
    threads = anyio.CapacityLimiter(turns)  # not anyio's shared 40: those stay free for everything else
    probe = _Probe(backend)

    async def database(function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a thread, as one of at most ``turns`` at once; _Busy after waiting ``wait`` s."""
        try:
            with anyio.fail_after(wait):
                await gate.acquire()
        except TimeoutError:
            raise _Busy(f"every one of this worker's {turns} database connections stayed busy for {wait:g} s") from None
        try:
            return await anyio.to_thread.run_sync(function, *args, limiter=threads)
        finally:
            gate.release()

    def error(request: Request, exception: str, content: str, code: str | None = None) -> Response:
        return _error_answer(request, {"exception": exception, "content": content, "error_code": code})

    async def api(request: Request) -> Response:
        started = time.perf_counter()
        seen: dict[str, Any] = {"user": _loggable(request.headers.get("ftrack-user", "")), "actions": [], "outcome": "refused"}
        response: Response | None = None
        try:
            response = await answer(request, seen)
            return response
        except Exception as failure:  # never a plain-text 500, nor a dropped connection
            response = _failure(request, failure)
            seen["outcome"] = "busy" if response.status_code == 503 else "failed"
            return response
        finally:
            # Who, what, how it went and how long: never a key or a value.
            log.info("api user=%s actions=%s status=%s %s in %.1f ms", seen["user"] or "-",
                     ",".join(sorted({str(a) for a in seen["actions"]})) or "-",
                     response.status_code if response is not None else "-", seen["outcome"],
                     (time.perf_counter() - started) * 1000)  # fmt: skip

    async def answer(request: Request, seen: dict[str, Any]) -> Response:
        """The answer to one ``POST /api``; what the log line says goes into ``seen``."""
        try:
            user_id, username = await database(_authenticate, backend.auth, request.headers, _address(request))
        except Refusal as refusal:
            return _refused(refusal)
        seen.update(user=username, outcome="invalid")
        too_large = f"The body is over {max_body} bytes"
        body = await _read(request, max_body)
        if body is None:
            return error(request, "ValidationError", too_large, "too_large")
        if request.headers.get("content-encoding", "").lower() == "gzip":
            try:
                body = _gunzip(body, max_body)
            except (OSError, EOFError, zlib.error):
                return error(request, "ValidationError", "The body is not valid gzip", "bad_request")
            if body is None:
                return error(request, "ValidationError", too_large, "too_large")
        batch = await run_in_threadpool(_parse, body)
        if isinstance(batch, str):
            return error(request, "ValidationError", batch, "bad_request")
        if len(batch) > max_operations:
            return error(request, "ValidationError", f"A batch holds at most {max_operations} operations", "too_large")
        actions = seen["actions"] = [_action(op) for op in batch]
        writes = any(action in WRITE_ACTIONS for action in actions)
        # A batch that only reads changes nothing when it runs twice: only writes are remembered
        # (a remembered answer is a write of its own, on every request that carries a key).
        key = request.headers.get("ftrack-idempotency-key") if writes else None
        claim = None
        if key:
            if len(key) > MAX_KEY_LENGTH:
                return error(request, "ValidationError", f"An idempotency key is at most {MAX_KEY_LENGTH} characters",
                             "bad_request")  # fmt: skip
            state, found = await _claim(backend, user_id, key, hashlib.sha256(body).hexdigest(), idempotency_wait)
            if state is not KeyState.CLAIMED:
                seen["outcome"] = state.value
                return _unclaimed(request, state, key, found)
            claim = found
        written: list[str] = []

        def keep(connection: Any, results: list[Any]) -> None:
            # In the batch's own transaction: a batch is never stored without its answer, so a
            # retry after any failure between the two cannot run it again. Written once: the
            # same text answers now and, for a retry, later.
            written.append(json.dumps(results))
            if not backend.auth.settle(user_id, key, claim, written[-1], connection=connection):  # type: ignore[union-attr,arg-type]
                raise _TakenOver()  # another request runs the batch now: not this one too

        try:
            # Who acts is the user id the credentials gave: the backend reads their name and roles afresh.
            result: Any = await database(backend.execute, batch, username, keep if key else None, user_id)
        except _TakenOver:
            seen["outcome"] = KeyState.RUNNING.value
            return _unclaimed(request, KeyState.RUNNING, key, None)  # type: ignore[arg-type]
        except Exception:
            if claim is not None:
                await run_in_threadpool(backend.auth.release, user_id, key, claim)  # type: ignore[union-attr,arg-type]
            raise
        if isinstance(result, dict):
            seen["outcome"] = f"error {result.get('error_code')}"
            if claim is not None:
                # Nothing was stored. A refusal is remembered (running it again would refuse it
                # again); a batch the server could not finish (a timeout, the database) is let
                # go, so a retry with the key runs it.
                if result.get("exception") == "ServerError":
                    await database(backend.auth.release, user_id, key, claim)  # type: ignore[union-attr,arg-type]
                else:
                    await database(backend.auth.settle, user_id, key, claim, json.dumps(result))  # type: ignore[union-attr,arg-type]
            return _error_answer(request, result)
        if key:
            await database(backend.auth.tidy)  # type: ignore[union-attr]
        seen["outcome"] = "ok"
        if written:
            return Response(written[-1], media_type="application/json")
        # Rows a slice at a time: the answer's text is never whole in memory.
        return StreamingResponse(_encoded(result), media_type="application/json")

    async def signin(request: Request) -> Response:
        try:
            given = json.loads(await _read(request, SIGNIN_BODY) or b"")  # a name and a password: never large
            username, password = str(given["username"]), str(given["password"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"exception": "ValidationError", "content": "Send {\"username\": …, \"password\": …}",
                                 "error_code": "bad_request"}, status_code=400)  # fmt: skip
        try:
            token, expires = await database(backend.auth.sign_in, username, password, _address(request))  # type: ignore[union-attr]
        except Refusal as refusal:
            log.info("signin user=%s refused", _loggable(username))
            return _refused(refusal)
        except Exception as failure:
            return _failure(request, failure)
        log.info("signin user=%s ok", username)
        return JSONResponse({"token": token, "expires_at": expires.isoformat(), "username": username})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def ready(request: Request) -> Response:
        # A connection of its own, not the pool's: it answers at once however busy the batches keep the pool.
        try:
            await anyio.to_thread.run_sync(probe.check, limiter=probe.threads)
        except Exception as failure:  # the database is the one thing this checks
            error_id = _log_failure(failure, "ready: the database does not answer")
            return JSONResponse({"status": "not ready", "reason": "the database does not answer",
                                 "error_id": error_id}, status_code=503)  # fmt: skip
        return JSONResponse({"status": "ready"})

    app = Starlette(
        routes=[
            Route("/api", api, methods=["POST"]), Route("/signin", signin, methods=["POST"]),
            Route("/health", health), Route("/ready", ready),
        ],
        middleware=[Middleware(GZipMiddleware, minimum_size=1024)],
    )
    app.state.backend = backend
    app.state.concurrency = turns
    return app


async def _read(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is known to be over ``limit`` bytes.

    A declared Content-Length over the limit is refused before anything is read, and a
    body is never held past the limit, whatever it declared.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(body: bytes, limit: int) -> bytes | None:
    """``body`` decompressed, or None when it would be over ``limit`` bytes (a small bomb stays small)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = inflater.decompress(body, limit + 1)
    if len(data) > limit or inflater.unconsumed_tail:
        return None
    if not inflater.eof:
        raise EOFError("the gzip stream ends early")
    return data


async def _claim(backend: Backend, user_id: str, key: str, request_hash: str, wait: float) -> tuple[KeyState, str | None]:
    """Claim an idempotency key; while another request runs its batch, wait (up to ``wait`` s) for the answer."""
    deadline = time.monotonic() + wait
    pause = 0.02
    lifetime = claim_lifetime(backend.timeout)
    while True:
        state, found = await run_in_threadpool(backend.auth.claim, user_id, key, request_hash, lifetime)  # type: ignore[union-attr]
        left = deadline - time.monotonic()
        if state is not KeyState.RUNNING or left <= 0:
            return state, found
        await anyio.sleep(min(pause, left))
        pause = min(pause * 2, 0.25)


def _unclaimed(request: Request, state: KeyState, key: str, answer: str | None) -> Response:
    """The answer for a key this request did not claim: the remembered one, "in progress" or "reused"."""
    if state is KeyState.ANSWERED:
        if answer.startswith("{"):  # type: ignore[union-attr]  # a refusal: with the status it had
            return _error_answer(request, json.loads(answer))  # type: ignore[arg-type]
        return Response(answer, media_type="application/json")
    if state is KeyState.RUNNING:
        # Whatever the mode: the client must see it is not an answer, and come back.
        return JSONResponse({"exception": "ServerError", "content": f"The batch with the idempotency key {key!r} is "
                             "still running; send it again for its answer", "error_code": "in_progress"},
                            status_code=409, headers={"Retry-After": "1"})  # fmt: skip
    return JSONResponse({"exception": "ValidationError", "content": f"The idempotency key {key!r} was sent before with "
                         "a different batch; a new batch needs a new key", "error_code": "idempotency_key_reused"},
                        status_code=422)  # fmt: skip


class _TakenOver(Exception):
    """The claim on a batch's key went to another request (this one was thought dead)."""


def _authenticate(auth: Any, headers: Any, address: str) -> tuple[str, str]:
    """(user id, username) from a bearer token or ftrack-user + ftrack-api-key (throttled per ``address``)."""
    bearer = headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        return auth.verify_token(bearer[7:].strip())  # type: ignore[no-any-return]
    username = headers.get("ftrack-user", "")
    return auth.check_key(username, headers.get("ftrack-api-key", ""), address), username


def _address(request: Request) -> str:
    """The client's address, which failed sign-ins are counted by ('' when the server is not told).

    Behind a proxy, uvicorn takes it from ``X-Forwarded-For`` when the proxy is trusted
    (``FORWARDED_ALLOW_IPS``; by default a proxy on the same machine).
    """
    return request.client.host if request.client else ""


def _loggable(username: str) -> str:
    """A user name as the log may show it: one too long for any user is not written out."""
    return username if len(username) <= MAX_USERNAME_LENGTH else f"<{len(username)} characters>"


def _parse(body: bytes) -> Any:
    """The batch in a request's body, or a message saying why the body is not one.

    JSON's own ``NaN``/``Infinity`` are refused (no answer could carry them), lists and
    objects may nest :data:`MAX_DEPTH` deep, and text holds neither NUL characters (no
    PostgreSQL text can) nor lone surrogates (no UTF-8 can).
    """
    try:
        batch = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        return f"The body nests lists or objects more than {MAX_DEPTH} deep"
    except ValueError as reason:
        return f"The body is not JSON: {reason}"
    if not isinstance(batch, list):
        return "The body must be a JSON list of operations"
    for index, operation in enumerate(batch):
        problem = _unfit(operation, MAX_DEPTH - 1)
        if problem is not None:
            return f"Operation {index}: {problem}"
    return batch


def _action(operation: Any) -> str | None:
    """An operation's action when it names one (text), else None."""
    action = operation.get("action") if isinstance(operation, dict) else None
    return action if isinstance(action, str) else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unfit(value: Any, depth: int) -> str | None:
    """What makes a decoded JSON value unfit to store (too deep, NUL, a lone surrogate), or None."""
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        kind = type(node)
        if kind is str:
            problem = _bad_text(node)
            if problem:
                return problem
            continue
        if kind is not dict and kind is not list:
            continue
        if level > depth:
            return f"lists or objects nest more than {MAX_DEPTH} deep"
        if kind is dict:
            for name in node:
                problem = _bad_text(name)
                if problem:
                    return problem
        for item in node.values() if kind is dict else node:
            if type(item) in (str, dict, list):
                stack.append((item, level + 1))
    return None


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "text may not hold a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text may not hold a lone surrogate (\\ud800–\\udfff): it is not Unicode"
    return None


def _encoded(results: list[Any]) -> Iterator[bytes]:
    """The JSON text of a batch's results, in pieces: a query's rows :data:`ROWS_PER_CHUNK` at a time."""
    yield b"["
    for position, result in enumerate(results):
        if position:
            yield b", "
        rows = result.get("data") if isinstance(result, dict) and result.get("action") == "query" else None
        if not isinstance(rows, list) or len(rows) <= ROWS_PER_CHUNK:
            yield json.dumps(result).encode()
            continue
        rest = json.dumps({k: v for k, v in result.items() if k != "data"})
        yield (rest[:-1] + ', "data": [').encode()
        for start in range(0, len(rows), ROWS_PER_CHUNK):
            if start:
                yield b", "
            yield json.dumps(rows[start : start + ROWS_PER_CHUNK])[1:-1].encode()
        yield b"]}"
    yield b"]"


class _Busy(Exception):
    """No turn at the database came in time: the answer is 503 with Retry-After."""


def _pool_capacity(engine: sa.Engine) -> int:
    """How many connections ``engine``'s pool hands out at most (its size and overflow)."""
    pool = engine.pool
    if isinstance(pool, sa.pool.QueuePool):
        return max(1, pool.size() + max(0, pool._max_overflow))  # noqa: SLF001 - no public reader
    return 8


class _Probe:
    """``/ready``'s look at the database: a connection of its own each time, in its own two threads."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.threads = anyio.CapacityLimiter(2)
        self._engine: sa.Engine | None = None

    def check(self) -> None:
        """Read the database's own record of its schema; raises when the database cannot."""
        if self._engine is None:
            url = self.backend.engine.url.render_as_string(hide_password=False)
            self._engine = self.backend.storage.create_engine(url, timeout=5, poolclass=sa.pool.NullPool)
        meta = self.backend.storage.meta
        with self._engine.connect() as connection:
            connection.execute(sa.select(meta.c.value).where(meta.c.key == "schema_hash")).scalar()


def _failure(request: Request, failure: Exception) -> Response:
    """The answer to an exception no code path expected: 503 when the database is busy, else a logged 500."""
    if isinstance(failure, (_Busy, sa.exc.TimeoutError)):
        reason = str(failure) if isinstance(failure, _Busy) else "the database connection pool is exhausted"
        log.warning("busy: %s", reason)
        answer = {"exception": "ServerError", "content": f"The server is busy ({reason}); try again shortly",
                  "error_code": "busy"}  # fmt: skip
        return JSONResponse(answer, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})
    error_id = _log_failure(failure, f"{request.method} {request.url.path} failed")
    answer = {"exception": "ServerError", "content": f"The server failed to answer (error id {error_id} in its log)",
              "error_code": "internal", "error_id": error_id}  # fmt: skip
    return _error_answer(request, answer)


def _log_failure(failure: BaseException, what: str) -> str:
    """Log ``failure`` with its traceback under a new error id (uuid hex), and give the id."""
    error_id = uuid.uuid4().hex
    log.error("%s (error id %s)", what, error_id, exc_info=failure)
    return error_id


def _refused(refusal: Refusal) -> Response:
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
    if refusal.status == 400:  # not a credential at all (a user name too long to be one)
        answer = {"exception": "ValidationError", "content": refusal.reason, "error_code": "bad_request"}
    else:
        answer = {"exception": "InvalidCredentialsError", "content": refusal.reason, "error_code":
                  "throttled" if refusal.status == 429 else "invalid_credentials"}  # fmt: skip
    return JSONResponse(answer, status_code=refusal.status, headers=headers)


def _error_answer(request: Request, answer: dict[str, Any]) -> Response:
    """An error object: with its 4xx/5xx status in strict mode, with 200 otherwise (a 401 always)."""
    exception = str(answer.get("exception"))
    strict = request.headers.get("ftrack-strict-api", "").lower() == "true"
    status = _STATUS.get(exception, 400) if strict or exception == "InvalidCredentialsError" else 200
    if strict and answer.get("error_code") == "too_large":
        status = 413
    if strict and answer.get("error_code") == "conflict":
        status = 409
    return JSONResponse(answer, status_code=status)


@contextlib.contextmanager
def serving(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """``app`` under uvicorn in a thread, on ``host`` and a port the system picks; its base URL.

    For demos and tests: ``ftrack-like serve`` is the way to run a server for people.
    """
    import uvicorn

    sock = socket.socket()
    sock.bind((host, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sock.close()
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
