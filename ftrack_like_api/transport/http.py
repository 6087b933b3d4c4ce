"""The HTTP transport: batches to a server's ``POST /api``, with ftrack's headers.

One pooled ``requests.Session`` per transport; connect and read timeouts; TLS
verification on; proxies from the environment (as ``requests`` reads them). Each batch
carries an idempotency key, so when a connection drops or the server answers 429, 502,
503 or 504, the batch is sent again (with backoff, honouring ``Retry-After``) and the
server runs it once.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Mapping, Sequence

import requests

from ..exceptions import ServerError, TransportError
from .base import Transport, answer_of

__all__ = ["HttpTransport"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})


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
    ) -> None:
        if not server_url.startswith(("http://", "https://")):
            raise ValueError(f"HttpTransport needs an http(s) URL, not {server_url!r}")
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
        self._http: requests.Session | None = None

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
        headers = {"ftrack-idempotency-key": uuid.uuid4().hex}
        for attempt in range(self.retries + 1):
            try:
                response = self._session().post(self.url, data=body, headers=headers, timeout=self.timeout, verify=self.verify)
            except requests.exceptions.SSLError as reason:
                # Trying again cannot make a certificate trusted: say so now.
                raise TransportError(
                    f"TLS with {self.url} failed (is the server's certificate signed by an authority this machine "
                    f"trusts? REQUESTS_CA_BUNDLE or HttpTransport(verify=...) names a CA bundle): {reason}"
                ) from reason
            except (requests.ConnectionError, requests.Timeout) as reason:
                if attempt == self.retries:
                    raise TransportError(f"No answer from {self.url} after {attempt + 1} tries: {reason}") from reason
                time.sleep(self.backoff * 2**attempt)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                wait = _retry_after(response)
                if wait is None or wait <= self.max_wait:
                    time.sleep(wait if wait is not None else self.backoff * 2**attempt)
                    continue
                # Asked to wait longer than a script should hang (a throttled name waits
                # minutes): the answer says why and for how long, now.
            return self._answer(batch, response)
        raise AssertionError("unreachable")

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


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
