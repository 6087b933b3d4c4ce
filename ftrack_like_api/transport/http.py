"""The HTTP transport: batches to a server's ``POST /api``, with ftrack's headers.

One pooled ``requests.Session`` per transport; connect and read timeouts; TLS
verification on; proxies from the environment (as ``requests`` reads them). Each batch
carries an idempotency key, so when a connection drops or the server answers 429, 502,
503 or 504, the batch is sent again (with backoff, honouring ``Retry-After``) and the
server runs it once. While the server is still running the first copy it answers 409
``in_progress``, and the transport asks again (for up to ``in_progress_wait`` seconds).
A batch that got no answer at all keeps its key: sent again (the next ``commit()`` of
the same changes), it is answered from the server's memory if it ran.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any, Mapping, Sequence

import requests

from ..exceptions import ServerError, TransportError
from .base import Transport, answer_of

__all__ = ["HttpTransport"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})

#: Every failure of ``requests`` and how it reaches the user, first match wins: whether the
#: batch is sent again (its idempotency key makes that safe), and what to say.
FAILURES: tuple[tuple[type[Exception], bool, str], ...] = (
    (requests.exceptions.SSLError, False, "TLS with {url} failed (is the server's certificate signed by an authority "
                                          "this machine trusts? REQUESTS_CA_BUNDLE or HttpTransport(verify=...) names "
                                          "a CA bundle)"),
    (requests.exceptions.ProxyError, False, "The proxy for {url} refused or failed (check HTTPS_PROXY, HTTP_PROXY and "
                                            "NO_PROXY)"),
    (requests.exceptions.ChunkedEncodingError, True, "The answer from {url} was cut short"),
    (requests.exceptions.ContentDecodingError, True, "The answer from {url} could not be decoded"),
    (requests.ConnectionError, True, "No answer from {url} (is the server running, and the URL right?)"),
    (requests.Timeout, True, "No answer from {url} in time (a longer Session(timeout=…) gives big batches longer)"),
    (requests.exceptions.InvalidURL, False, "{url} is not a URL that can be reached (check FTRACK_SERVER)"),
    (requests.exceptions.InvalidHeader, False, "A header for {url} cannot be sent (check FTRACK_API_USER and the key "
                                               "for line breaks or odd characters)"),
    (requests.exceptions.TooManyRedirects, False, "{url} redirects in a loop (is it the server's address?)"),
    (requests.RequestException, False, "The request to {url} failed"),
)


class HttpTransport(Transport):
    """Sends batches to ``server_url``/api as ``api_user`` with ``api_key``."""

    def __init__(
        self,
        server_url: str,
        api_user: str,
        api_key: str | None = None,
        timeout: float | tuple[float, float] = (10.0, 300.0),
        retries: int = 4,
        backoff: float = 0.5,
        verify: bool | str = True,
        token: str | None = None,
        max_wait: float = 30.0,
        in_progress_wait: float = 900.0,
    ) -> None:
        if not server_url.startswith(("http://", "https://")):
            raise ValueError(f"HttpTransport needs an http(s) URL, not {server_url!r}")
        try:  # a URL that cannot be a request is said now, not on the first commit
            requests.Request("POST", server_url).prepare()
        except requests.RequestException as reason:
            raise ValueError(f"HttpTransport needs a valid URL, not {server_url!r}: {reason}") from None
        if not token and (not api_user or not api_key):
            raise ValueError("HttpTransport needs api_user and api_key (or FTRACK_API_USER, FTRACK_API_KEY), or a token")
        self.url = server_url.rstrip("/") + "/api"
        self.api_user = api_user
        self._api_key = api_key
        self._token = str(token) if token else None
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.verify = verify
        #: The longest Retry-After honoured by waiting; a longer one is answered at once.
        self.max_wait = max_wait
        #: How long to keep asking for the answer to a batch the server is still running.
        self.in_progress_wait = in_progress_wait
        self._http: requests.Session | None = None
        #: (hash of the body, its idempotency key) of the last batch that got no answer.
        self._unanswered: tuple[str, str] | None = None

    def _session(self) -> requests.Session:
        if self._http is None:
            http = requests.Session()
            http.headers.update({"ftrack-strict-api": "true", "content-type": "application/json", "accept": "application/json"})
            if self._token:
                http.headers["authorization"] = f"Bearer {self._token}"
            else:
                http.headers.update({"ftrack-user": self.api_user, "ftrack-api-key": self._api_key})  # type: ignore[dict-item]
            self._http = http
        return self._http

    def handle(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        body = json.dumps(list(batch))
        headers = {"ftrack-idempotency-key": self._key_for(body)}
        attempt, running_since = 0, None
        while True:
            try:
                response = self._session().post(self.url, data=body, headers=headers, timeout=self.timeout, verify=self.verify)
            except requests.RequestException as reason:
                retried, said = next((r, s) for kind, r, s in FAILURES if isinstance(reason, kind))
                if not retried or attempt == self.retries:
                    tries = f" after {attempt + 1} tries" if retried else ""
                    raise TransportError(f"{said.format(url=self.url)}{tries}: {reason}") from reason
                time.sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            if _in_progress(response):
                # The server runs this batch still (a try that timed out started it): its
                # answer is coming. Not a failure: it does not count against the retries.
                running_since = running_since or time.monotonic()
                if time.monotonic() - running_since < self.in_progress_wait:
                    time.sleep(min(_retry_after(response) or self.backoff, self.max_wait))
                    continue
                return self._answer(batch, response)  # still no answer: the key is kept for the next try
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                wait = _retry_after(response)
                if wait is None or wait <= self.max_wait:
                    time.sleep(wait if wait is not None else self.backoff * 2**attempt)
                    attempt += 1
                    continue
                # Asked to wait longer than a script should hang (a throttled name waits
                # minutes): the answer says why and for how long, now.
            self._unanswered = None
            return self._answer(batch, response)

    def _key_for(self, body: str) -> str:
        """The batch's idempotency key: new, or the one it had when it was last sent and got no answer.

        A batch that got no answer may have run; sent again with its key, the server gives
        the answer it remembered instead of running it twice. Any answer retires the key.
        """
        digest = hashlib.sha256(body.encode()).hexdigest()
        if self._unanswered is None or self._unanswered[0] != digest:
            self._unanswered = (digest, uuid.uuid4().hex)
        return self._unanswered[1]

    def _answer(self, batch: Sequence[Mapping[str, Any]], response: requests.Response) -> list[Any]:
        try:
            answer = response.json()
        except ValueError:
            raise TransportError(
                f"{self.url} answered {response.status_code} with something that is not JSON: {response.text[:200]!r}"
            ) from None
        if isinstance(answer, dict) and "exception" in answer:
            raise ServerError.from_answer(answer)
        if response.status_code >= 400:
            raise TransportError(f"{self.url} answered {response.status_code}: {str(answer)[:200]}")
        return answer_of(batch, answer)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __repr__(self) -> str:  # never the key
        return f"HttpTransport({self.url!r}, user={self.api_user!r})"


def _in_progress(response: requests.Response) -> bool:
    """The server is still running this batch (its answer to a copy of it, sent meanwhile)."""
    if response.status_code != 409:
        return False
    try:
        return bool(response.json().get("error_code") == "in_progress")
    except (ValueError, AttributeError):
        return False


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
