"""ftrack's JSON API: ``POST /api`` (a batch of operations) and ``POST /signin`` (with ``accounts.py``'s routes).

A request proves who sends it (``ftrack-user`` and ``ftrack-api-key``, or a bearer
token), its body is read and checked (``body.py``), a batch that writes and carries an
``ftrack-idempotency-key`` claims the key so it runs once however many copies come, and
the engine carries it out as the user the credentials named; every database call takes
a turn at the worker's :class:`~..gate.DatabaseGate`. Each request logs one line — who,
what, how it went, how long — and never a key or a value.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from typing import Any, Callable

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ...auth.credentials import MAX_USERNAME_LENGTH
from ...auth.idempotency import MAX_KEY_LENGTH, KeyState, claim_lifetime
from ...auth.throttle import Refusal
from ...engine.backend import WRITE_ACTIONS, Backend
from ...engine.computed import BASE_URL, LINK_TOKEN
from ...files.thumbnails import link_signer
from ...gate import DatabaseGate
from .accounts import Accounts
from .explain import Explain
from .invites import request_base
from .answers import absolute_urls, encoded, error_answer, failure_answer, inline_rows, refused, rows_in, unclaimed
from .body import MAX_BODY, MAX_OPERATIONS, SIGNIN_BODY, action_of, gunzip, parse_batch, read_body

__all__ = ["FtrackApi"]

log = logging.getLogger(__name__)

#: Seconds a copy of a running batch waits for its answer before it is told to come back (409).
IDEMPOTENCY_WAIT = 5.0
#: What a served studio does besides a backend's own ``features`` (app.py mounts each): signing in
#: with a password, personal tokens, the administrators' commands, thumbnails by size, ftrack's
#: socket.io event hub, and ShotGrid's protocol.
SERVED_FEATURES = ("admin_commands", "ftrack_event_hub", "personal_tokens", "shotgrid", "sign_in", "thumbnails")
#: A body up to this size is read on the event loop (microseconds); a larger one in a thread.
INLINE_BODY = 64 * 1024


class FtrackApi:
    """The endpoints of ftrack's JSON API over one backend."""

    def __init__(
        self,
        backend: Backend,
        database: DatabaseGate,
        max_body: int = MAX_BODY,
        max_operations: int = MAX_OPERATIONS,
        idempotency_wait: float = IDEMPOTENCY_WAIT,
    ) -> None:
        self.backend, self.database = backend, database
        self.max_body, self.max_operations, self.idempotency_wait = max_body, max_operations, idempotency_wait

    def routes(self) -> list[Route]:
        # Signing out and personal tokens (accounts.py) go with signing in.
        return [Route("/api", self.api, methods=["POST"]), Route("/signin", self.signin, methods=["POST"]),
                *Accounts(self.backend, self.database).routes(), *Explain(self.backend, self.database).routes()]  # fmt: skip

    def error(self, request: Request, exception: str, content: str, code: str | None = None) -> Response:
        return error_answer(request, {"exception": exception, "content": content, "error_code": code})

    async def api(self, request: Request) -> Response:
        """``POST /api``: the batch's answer, and one log line saying who, what, how it went and how long."""
        started = time.perf_counter()
        seen: dict[str, Any] = {"user": _loggable(request.headers.get("ftrack-user", "")), "actions": [], "outcome": "refused"}
        response: Response | None = None
        try:
            response = await self.answer(request, seen)
            return response
        except Exception as failure:  # never a plain-text 500, nor a dropped connection
            response = failure_answer(request, failure)
            seen["outcome"] = "busy" if response.status_code == 503 else "failed"
            return response
        finally:
            # Who, what, how it went and how long: never a key or a value.
            log.info("api user=%s actions=%s status=%s %s in %.1f ms", seen["user"] or "-",
                     ",".join(sorted({str(a) for a in seen["actions"]})) or "-",
                     response.status_code if response is not None else "-", seen["outcome"],
                     (time.perf_counter() - started) * 1000)  # fmt: skip

    async def answer(self, request: Request, seen: dict[str, Any]) -> Response:
        """The answer to one ``POST /api``; what the log line says goes into ``seen``.

        A small body (a declared length of at most :data:`INLINE_BODY`, not gzipped: most
        requests) is read first, and the credentials' check, the idempotency key's claim and
        the batch then run in one of the gate's threads, one after the other as before (one
        thread hop, not three). A larger body is read only once its sender is known.
        """
        headers, address = request.headers, _address(request)
        who: tuple[str, str, dict[str, Any]] | None = None
        if not _small(headers):
            try:
                who = await self.database(_authenticate, self.backend.auth, headers, address)
            except Refusal as refusal:
                return refused(refusal)
            seen.update(user=who[1], outcome="invalid")
        base = str(request.base_url)
        BASE_URL.set(base)  # links the engine writes (thumbnail_url) are to this server
        too_large = f"The body is over {self.max_body} bytes"
        body = await read_body(request, self.max_body)
        problem: tuple[str, str] | None = None
        if body is None:
            problem = too_large, "too_large"
        elif headers.get("content-encoding", "").lower() == "gzip":
            try:
                body = gunzip(body, self.max_body)
            except (OSError, EOFError, zlib.error):
                problem = "The body is not valid gzip", "bad_request"
            if body is None and problem is None:
                problem = too_large, "too_large"
        batch: Any = None
        if problem is None:
            assert body is not None
            batch = parse_batch(body) if len(body) <= INLINE_BODY else await run_in_threadpool(parse_batch, body)
            if isinstance(batch, str):
                problem = batch, "bad_request"
            elif len(batch) > self.max_operations:
                problem = f"A batch holds at most {self.max_operations} operations", "too_large"
        actions = [] if problem is not None else [action_of(op) for op in batch]
        writes = any(action in WRITE_ACTIONS for action in actions)
        # A batch that only reads changes nothing when it runs twice: only writes are remembered
        # (a remembered answer is a write of its own, on every request that carries a key).
        key = headers.get("ftrack-idempotency-key") if writes else None
        if problem is None and key and len(key) > MAX_KEY_LENGTH:
            problem = f"An idempotency key is at most {MAX_KEY_LENGTH} characters", "bad_request"
        if problem is not None:  # told only to who proved who they are
            if who is None:
                try:
                    who = await self.database(_authenticate, self.backend.auth, headers, address)
                except Refusal as refusal:
                    return refused(refusal)
                seen.update(user=who[1], outcome="invalid")
            seen["actions"] = actions
            return self.error(request, "ValidationError", *problem)
        assert body is not None
        thumbnails = b"thumbnail_url" in body  # its links carry a signed token; the secret is read before the batch runs
        request_hash = hashlib.sha256(body).hexdigest() if key else ""
        run = _Run(actions, base, batch, key, request_hash)
        seen["actions"] = actions
        try:
            if who is None:
                try:
                    await self.database(self._at_once, run, headers, address, thumbnails)
                finally:  # who sent it is logged, even when the batch failed (a 500)
                    if run.who is not None:
                        seen["user"] = run.who[1]
            else:
                run.who = who
                if thumbnails:
                    run.sign = await self.database(link_signer, self.backend.files.signer)
                if not key:
                    await self.database(self._run, run)
            if run.who is not None:
                seen.update(user=run.who[1], outcome="invalid")
            if key and run.state in (None, KeyState.RUNNING):  # not claimed yet, or another request runs it: wait
                run.state, found = await _claim(self.backend, run.who[0], key, request_hash, self.idempotency_wait)  # type: ignore[index]
                run.claim = found
                if run.state is KeyState.CLAIMED:
                    await self.database(self._run, run)
        except Refusal as refusal:
            seen["actions"] = []  # the actions are logged for who proved who they are
            return refused(refusal)
        user_id = run.who[0]  # type: ignore[index]
        if run.state is not None and run.state is not KeyState.CLAIMED:
            seen["outcome"] = run.state.value
            return unclaimed(request, run.state, key, run.claim)  # type: ignore[arg-type]
        if run.taken_over:
            seen["outcome"] = KeyState.RUNNING.value
            return unclaimed(request, KeyState.RUNNING, key, None)  # type: ignore[arg-type]
        claim, result, text = run.claim, run.result, run.text
        if isinstance(result, dict):
            seen["outcome"] = f"error {result.get('error_code')}"
            if claim is not None:
                # Nothing was stored. A refusal is remembered (running it again would refuse it
                # again); a batch the server could not finish (a timeout, the database) is let
                # go, so a retry with the key runs it.
                if result.get("exception") == "ServerError":
                    await self.database(self.backend.auth.release, user_id, key, claim)  # type: ignore[union-attr,arg-type]
                else:
                    await self.database(self.backend.auth.settle, user_id, key, claim, json.dumps(result))  # type: ignore[union-attr,arg-type]
            return error_answer(request, result)
        if key:
            if self.backend.auth.forget_due():  # type: ignore[union-attr]  # on the loop: a thread hop only when due
                await self.database(self.backend.auth.forget_expired)  # type: ignore[union-attr]
        seen["outcome"] = "ok"
        if run.written:
            return Response(run.written[-1], media_type="application/json")
        if text is not None:
            return Response(text, media_type="application/json")
        # Rows a slice at a time: the answer's text is never whole in memory.
        return StreamingResponse(encoded(result), media_type="application/json")

    def _at_once(self, run: _Run, headers: Any, address: str, thumbnails: bool) -> None:
        """In one of the gate's threads: who sends the request (:class:`Refusal` if nobody), the key's claim and the
        batch, in that order. A key another request holds (or answered) leaves the batch to the caller."""
        run.who = _authenticate(self.backend.auth, headers, address)
        if thumbnails:
            run.sign = link_signer(self.backend.files.signer)
        if run.key:
            run.state, run.claim = self.backend.auth.claim(run.who[0], run.key, run.request_hash,  # type: ignore[union-attr]
                                                           claim_lifetime(self.backend.timeout))  # fmt: skip
            if run.state is not KeyState.CLAIMED:
                return
        self._run(run)

    def _run(self, run: _Run) -> None:
        """The batch as the user the credentials named (the backend reads their name and roles afresh);
        with a claimed key, its answer kept in the batch's own transaction."""
        user_id, username, how = run.who  # type: ignore[misc]
        key, claim = run.key, run.claim
        if run.sign is not None:  # in this thread's context: the batch may run in a later hop than the signer's read
            LINK_TOKEN.set(run.sign)

        def keep(connection: Any, results: list[Any]) -> None:
            # In the batch's own transaction: a batch is never stored without its answer, so a
            # retry after any failure between the two cannot run it again. Written once: the
            # same text answers now and, for a retry, later.
            run.written.append(json.dumps(results))
            if not self.backend.auth.settle(user_id, key, claim, run.written[-1], connection=connection):  # type: ignore[union-attr,arg-type]
                raise _TakenOver()  # another request runs the batch now: not this one too

        try:
            run.result, run.text = self._executed(run.actions, run.base, run.batch, username, keep if key else None,
                                                  user_id, how)  # fmt: skip
        except _TakenOver:
            run.taken_over = True
        except Exception:
            if claim is not None:
                self.backend.auth.release(user_id, key, claim)  # type: ignore[union-attr,arg-type]
            raise

    def _executed(self, actions: list[Any], base: str, *args: Any) -> tuple[Any, bytes | None]:
        """``backend.execute(*args)`` and what this server adds to its information; in the same thread,
        the JSON text of an answer of at most :func:`~.answers.inline_rows` rows: a larger one is
        streamed (a stream costs a thread hop per piece). The file actions' ``/component/…`` paths
        are made absolute from the request's ``base`` URL."""
        said = request_base.set(base)  # the links an invitation mails start with it (invites.py)
        try:
            result = self.backend.execute(*args)
        finally:
            request_base.reset(said)
        if not isinstance(result, list):
            return result, None
        absolute_urls(actions, result, base)
        if "query_server_information" in actions:
            for action, answer in zip(actions, result):
                if action == "query_server_information" and isinstance(answer, dict):
                    # What a batch may hold here: a Session splits a larger commit by it.
                    answer.update(max_operations=self.max_operations, max_body=self.max_body,
                                  features=sorted({*answer.get("features", ()), *SERVED_FEATURES}))
        return result, b"".join(encoded(result)) if rows_in(result) <= inline_rows() else None

    async def signin(self, request: Request) -> Response:
        """``POST /signin``: a bearer token for a name and a password."""
        try:
            given = json.loads(await read_body(request, SIGNIN_BODY) or b"")  # a name and a password: never large
            username, password = str(given["username"]), str(given["password"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"exception": "ValidationError", "content": "Send {\"username\": …, \"password\": …}",
                                 "error_code": "bad_request"}, status_code=400)  # fmt: skip
        try:
            token, expires = await self.database(self.backend.auth.sign_in, username, password, _address(request))  # type: ignore[union-attr]
        except Refusal as refusal:
            log.info("signin user=%s refused", _loggable(username))
            return refused(refusal)
        except Exception as failure:
            return failure_answer(request, failure)
        log.info("signin user=%s ok", username)
        return JSONResponse({"token": token, "expires_at": expires.isoformat(), "username": username})


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


class _TakenOver(Exception):
    """The claim on a batch's key went to another request (this one was thought dead)."""


class _Run:
    """One ``POST /api`` batch on its way: what it is, who sends it, its key's claim, and how it went."""

    __slots__ = ("actions", "base", "batch", "claim", "key", "request_hash", "result", "sign", "state", "taken_over",
                 "text", "who", "written")  # fmt: skip

    def __init__(self, actions: list[Any], base: str, batch: list[Any], key: str | None, request_hash: str) -> None:
        self.actions, self.base, self.batch, self.key, self.request_hash = actions, base, batch, key, request_hash
        self.who: tuple[str, str, dict[str, Any]] | None = None  # (user id, username, the events' source)
        self.state: KeyState | None = None  # what claiming the key found (None: no key, or not claimed yet)
        self.claim: str | None = None
        self.result: Any = None
        self.text: bytes | None = None
        self.written: list[str] = []  # the answer as kept with the key
        self.taken_over = False
        self.sign: Callable[[str], str] | None = None  # signs the answer's thumbnail links (LINK_TOKEN), if it has any


def _small(headers: Any) -> bool:
    """Whether a request declares a body of at most :data:`INLINE_BODY` bytes, not gzipped."""
    declared = headers.get("content-length", "")
    return declared.isdigit() and int(declared) <= INLINE_BODY and not headers.get("content-encoding")


def _authenticate(auth: Any, headers: Any, address: str) -> tuple[str, str, dict[str, Any]]:
    """(user id, username, how: the events' source) from a bearer token or ftrack-user + ftrack-api-key.

    Keys are throttled per ``address``. ``how`` tells a script's changes from a person's:
    ``{"apiKey": {"name": …}}`` for a key, ``{"signedIn": True}`` for a sign-in token.
    """
    bearer = headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        user_id, username = auth.verify_token(bearer[7:].strip())
        return user_id, username, {"signedIn": True}
    username = headers.get("ftrack-user", "")
    user_id, key_name = auth.check_named_key(username, headers.get("ftrack-api-key", ""), address)
    return user_id, username, {"apiKey": {"name": key_name}}


def _address(request: Request) -> str:
    """The client's address, which failed sign-ins are counted by ('' when the server is not told).

    Behind a proxy, uvicorn takes it from ``X-Forwarded-For`` when the proxy is trusted
    (``FORWARDED_ALLOW_IPS``; by default a proxy on the same machine).
    """
    return request.client.host if request.client else ""


def _loggable(username: str) -> str:
    """A user name as the log may show it: one too long for any user is not written out."""
    return username if len(username) <= MAX_USERNAME_LENGTH else f"<{len(username)} characters>"
