"""The event channel over HTTP: a server's ``/events`` endpoints, with ``requests``.

``GET /events/stream`` is read as newline-delimited JSON (a streamed response read line by
line); the rest are small JSON requests. Errors become the package's: a subscription the
server cannot parse is an :class:`~ftrack_like_api.exceptions.ExpressionError` with its
position, a server that cannot be reached an
:class:`~ftrack_like_api.exceptions.EventHubConnectionError`.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar
from urllib.parse import quote

import requests

from ..exceptions import Error, EventHubConnectionError, ExpressionError, ServerError, SessionExpiredError
from .channel import Channel, Stream, Subscription

__all__ = ["HttpChannel"]

T = TypeVar("T")


class HttpChannel(Channel):
    """A server's ``/events`` endpoints, with the credentials of the session's transport.

    ``headers`` carry them (``ftrack-user`` and ``ftrack-api-key``, or a bearer token), or a
    callable gives them for each request (the transport's, whose token changes when the
    session signs in again); ``renew(refused)``, when given, is asked to sign in again when
    the server refuses them as an expired sign-in, and says whether to try once more.
    ``timeout`` is the connect timeout (reads wait three heartbeats before the connection
    counts as lost).
    """

    def __init__(self, server_url: str, headers: Mapping[str, str] | Callable[[], Mapping[str, str]],
                 verify: bool | str | None = None, timeout: float = 10.0, heartbeat: float = 2.0,
                 proxies: Mapping[str, str] | None = None,
                 renew: Callable[[Mapping[str, str]], bool] | None = None) -> None:  # fmt: skip
        self.url = server_url.rstrip("/") + "/events"
        self._credentials = headers if callable(headers) else (lambda: headers)
        self.renew = renew
        self.verify = verify
        self.timeout = timeout
        self.heartbeat = heartbeat
        self._http = requests.Session()
        self._http.proxies.update(proxies or {})

    @property
    def headers(self) -> dict[str, str]:
        """The credentials' headers, as they are now."""
        return {k: v for k, v in self._credentials().items() if k.lower() not in ("content-type", "ftrack-idempotency-key")}

    def _signed_in(self, request: Callable[[dict[str, str]], T]) -> T:
        """``request(headers)``; when the server says the sign-in expired and ``renew`` signs in
        again, once more with the new credentials."""
        headers = self.headers
        try:
            return request(headers)
        except SessionExpiredError:
            try:
                again = self.renew is not None and self.renew(headers)
            except Error:
                raise
            except Exception as error:  # the caller's reauthenticate failed: the hub keeps trying
                raise EventHubConnectionError(f"Signing in again failed: {error!r}") from error
            if not again:
                raise
        return request(self.headers)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        extra: dict[str, Any] = {} if self.verify is None else {"verify": self.verify}

        def call(headers: dict[str, str]) -> Any:
            try:
                response = self._http.request(method, self.url + path, headers=headers,
                                              timeout=(self.timeout, 60.0), **kwargs, **extra)  # fmt: skip
            except requests.RequestException as error:
                raise EventHubConnectionError(f"No answer from {self.url}{path}: {error}") from error
            return _answer(response)

        return self._signed_in(call)

    def stream(self, after: int | None, subscriptions: Sequence[Subscription]) -> Stream:
        params: list[tuple[str, str]] = [("heartbeat", f"{self.heartbeat:g}")]
        if after is not None:
            params.append(("after", str(after)))
        for expression, subscriber in subscriptions:
            params += [("subscription", expression), ("subscriber", json.dumps(dict(subscriber)))]
        extra: dict[str, Any] = {} if self.verify is None else {"verify": self.verify}

        def opened(headers: dict[str, str]) -> Stream:
            try:
                headers = {**headers, "Accept-Encoding": "identity"}  # each line now, not a few bytes saved
                response = self._http.get(self.url + "/stream", params=params, headers=headers, stream=True,
                                          timeout=(self.timeout, self.heartbeat * 3 + 1), **extra)  # fmt: skip
            except requests.RequestException as error:
                raise EventHubConnectionError(f"No answer from {self.url}/stream: {error}") from error
            if response.status_code != 200:
                try:
                    _answer(response)
                finally:
                    response.close()
            return _HttpStream(response)

        return self._signed_in(opened)

    def publish(self, events: Sequence[Mapping[str, Any]]) -> list[int | ServerError]:
        try:
            answer = self._call("POST", "", json=list(events))
        except ServerError as error:
            if not isinstance(error.answer.get("refused"), list):
                raise  # the request itself was refused
            answer = {"seq": [None] * len(events), "refused": error.answer["refused"]}
        refusals = {r.get("index"): r for r in answer.get("refused") or () if isinstance(r, dict)}
        return [ServerError.from_answer(refusals[index]) if seq is None and index in refusals else int(seq)
                for index, seq in enumerate(answer["seq"])]  # fmt: skip

    def cursor(self, name: str) -> int | None:
        seq = self._call("GET", f"/cursors/{_name(name)}")["seq"]
        return None if seq is None else int(seq)

    def set_cursor(self, name: str, seq: int) -> None:
        self._call("PUT", f"/cursors/{_name(name)}", json={"seq": seq})

    def park(self, name: str, seq: int, event_id: str, error: str, attempts: int) -> None:
        self._call("POST", f"/parked/{_name(name)}",
                   json={"seq": seq, "event_id": event_id, "error": error, "attempts": attempts})  # fmt: skip

    def parked(self, name: str | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", "/parked" + (f"/{_name(name)}" if name else ""))["parked"])

    def unpark(self, name: str, seq: int) -> None:
        self._call("DELETE", f"/parked/{_name(name)}/{int(seq)}")

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never the key
        return f"HttpChannel({self.url!r})"


class _HttpStream(Stream):
    def __init__(self, response: requests.Response) -> None:
        self.response = response

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for line in self.response.iter_lines(chunk_size=65536):
                if line:
                    yield json.loads(line)
        except (requests.RequestException, OSError, AttributeError, ValueError) as error:
            # AttributeError: urllib3 reading from a connection closed by close() meanwhile.
            raise EventHubConnectionError(f"The event stream from {self.response.url} broke off: {error}") from error
        finally:
            self.response.close()

    def close(self) -> None:
        # Wake a reader blocked in recv(): shut the socket down under it, then close.
        connection = getattr(self.response.raw, "_connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.response.close()


def _name(name: str) -> str:
    if not name or not isinstance(name, str):
        raise ValueError(f"a listener's name is non-empty text, not {name!r}")
    return quote(name, safe="")


def _answer(response: requests.Response) -> Any:
    try:
        answer = response.json()
    except ValueError:
        raise EventHubConnectionError(
            f"{response.url} answered {response.status_code}: {response.text[:200]!r}"
        ) from None
    if response.status_code < 400:
        return answer
    if isinstance(answer, dict) and answer.get("error_code") == "bad_expression":
        raise ExpressionError(
            answer.get("reason") or answer.get("content", "bad expression"),
            answer.get("expression"),
            answer.get("position"),
        )
    if isinstance(answer, dict) and "exception" in answer:
        raise ServerError.from_answer(answer)
    raise EventHubConnectionError(f"{response.url} answered {response.status_code}: {str(answer)[:200]}")
