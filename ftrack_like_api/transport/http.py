"""The HTTP transport: batches to a server's ``POST /api``, with ftrack's headers.

A pooled ``requests.Session`` — the transport's own, or a caller's (with its adapters,
auth, proxies and certificates); connect and read timeouts; TLS verification on;
proxies from the environment (as ``requests`` reads them). Each batch carries an
idempotency key, so sending it again is safe: urllib3's :class:`~urllib3.util.Retry`,
mounted on the session for the server's URL, sends it again (POST included) when a
connection fails or drops, a read times out, or the server answers 429, 502, 503 or 504
(backing off, honouring ``Retry-After``). What ``Retry`` cannot do is done here:

- a ``Retry-After`` longer than ``max_wait`` is not waited for: that answer comes at once;
- while the server is still running the first copy of a batch it answers 409
  ``in_progress``, and the transport asks again (for up to ``in_progress_wait`` seconds);
- a reply cut short (read after ``Retry`` hands the response over) is sent again;
- a batch that got no answer at all keeps its key: sent again (the next ``commit()`` of
  the same changes), it is answered from the server's memory if it ran.

Every exception of ``requests`` and urllib3 is translated here, through one table
(:data:`FAILURES`), into a :class:`~ftrack_like_api.exceptions.TransportError` saying
what to check.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, InvalidHeader, MaxRetryError, NewConnectionError
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.exceptions import ReadTimeoutError, ResponseError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util.retry import Retry

from ..exceptions import ServerError, TransportError
from .base import Transport, answer_of
from .proxy import proxies_for

try:
    import orjson
except ImportError:  # pragma: no cover - the standard library's path, tested with orjson hidden
    orjson = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .http_files import HttpFileChannel

__all__ = ["FAILURES", "HttpTransport"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})

#: Every failure of ``requests`` and urllib3 and how it reaches the user, first match wins:
#: whether it is worth sending the batch again (its idempotency key makes that safe), and
#: what to say. A failure that urllib3 already retried arrives wrapped in ``MaxRetryError``:
#: its reason is what is looked up, and it is not sent again here. The rest worth sending
#: again (a reply cut short while its body was read) are sent again by :meth:`HttpTransport.handle`.
FAILURES: tuple[tuple[tuple[type[Exception], ...], bool, str], ...] = (
    ((requests.exceptions.SSLError, Urllib3SSLError), False,
     "TLS with {url} failed (is the server's certificate signed by an authority this machine trusts? "
     "REQUESTS_CA_BUNDLE or HttpTransport(verify=...) names a CA bundle)"),
    ((requests.exceptions.ProxyError, Urllib3ProxyError), False,
     "The proxy for {url} refused or failed (check HTTPS_PROXY, HTTP_PROXY and NO_PROXY)"),
    ((requests.exceptions.ChunkedEncodingError,), True, "The answer from {url} was cut short"),
    ((requests.exceptions.ContentDecodingError,), True, "The answer from {url} could not be decoded"),
    # urllib3's refused connection is a kind of ConnectTimeoutError: it is said before timeouts are.
    ((NewConnectionError,), True, "No answer from {url} (is the server running, and the URL right?)"),
    ((requests.Timeout, ReadTimeoutError, ConnectTimeoutError), True,
     "No answer from {url} in time (a longer Session(timeout=…) gives big batches longer)"),
    ((requests.ConnectionError,), True, "No answer from {url} (is the server running, and the URL right?)"),
    ((requests.exceptions.InvalidURL,), False, "{url} is not a URL that can be reached (check FTRACK_SERVER)"),
    ((requests.exceptions.InvalidHeader,), False,
     "A header for {url} cannot be sent (check FTRACK_API_USER and the key for line breaks or odd characters)"),
    ((requests.exceptions.TooManyRedirects,), False, "{url} redirects in a loop (is it the server's address?)"),
    ((requests.RequestException,), False, "The request to {url} failed"),
)  # fmt: skip


def failure(error: requests.RequestException) -> tuple[bool, bool, str]:
    """How ``error`` reaches the user: (retried by urllib3 already, worth sending again, what to say)."""
    wrapped = error.args[0] if error.args and isinstance(error.args[0], MaxRetryError) else None
    cause: BaseException = wrapped.reason if wrapped is not None and wrapped.reason is not None else error
    for kinds, again, said in FAILURES:
        if isinstance(cause, kinds) or isinstance(error, kinds):
            return wrapped is not None, again, said
    return wrapped is not None, False, "The request to {url} failed"  # pragma: no cover - the last row catches all


class _Retry(Retry):
    """urllib3's ``Retry``, except that a ``Retry-After`` longer than ``max_wait`` is answered at once."""

    #: Statuses a Retry-After makes worth retrying (urllib3's default includes 413, which is final here).
    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES

    def __init__(self, *args: Any, max_wait: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait

    def new(self, **kw: Any) -> _Retry:
        made = super().new(**kw)
        made.max_wait = self.max_wait
        return made

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:  # a server's odd header is no reason to fail: back off instead
            return 0.0

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> _Retry:
        response = kwargs.get("response")
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.max_wait:
                # Asked to wait longer than a script should hang (a throttled name waits
                # minutes): with raise_on_status off, urllib3 hands this answer over now.
                pool = kwargs.get("_pool")  # urllib3 always passes it; the error takes None as well
                raise MaxRetryError(pool, url or "", ResponseError(f"Retry-After {wait:g} s"))  # type: ignore[arg-type]
        return super().increment(method, url, *args, **kwargs)  # type: ignore[return-value]


class HttpTransport(Transport):
    """Sends batches to ``server_url``/api as ``api_user`` with ``api_key`` (or a ``token``).

    ``session``: a ``requests.Session`` of your own — its adapters, auth, proxies,
    certificates and headers are used; it stays yours to close. The transport mounts
    an adapter with its retries for the server's URL on it, unless you mounted one for
    that URL yourself (then yours, with its retries, is used). ``retries`` times a batch
    is sent again at most, ``backoff`` seconds (doubling) apart; ``verify`` is a CA bundle
    or False (None: the session's own, on by default); ``proxy`` one proxy for every request
    (``socks5://host:1080``, ``http://proxy:3128``; None: ``FTRACK_LIKE_PROXY``, else the
    standard variables).
    """

    overlaps = True

    #: Called with the credentials the server refused as an expired sign-in; signs in again
    #: (:meth:`use_token`) and says whether to try once more. A Session sets it (its
    #: ``reauthenticate``), so its event stream and file transfers sign in again as its queries do.
    renew: Callable[[Mapping[str, str]], bool] | None = None

    def __init__(
        self,
        server_url: str,
        api_user: str,
        api_key: str | None = None,
        timeout: float | tuple[float, float] = (10.0, 300.0),
        retries: int = 4,
        backoff: float = 0.5,
        verify: bool | str | None = None,
        token: str | None = None,
        max_wait: float = 30.0,
        in_progress_wait: float = 900.0,
        session: requests.Session | None = None,
        proxy: str | None = None,
    ) -> None:
        if not server_url.startswith(("http://", "https://")):
            raise ValueError(f"HttpTransport needs an http(s) URL, not {server_url!r}")
        try:  # a URL that cannot be a request is said now, not on the first commit
            requests.Request("POST", server_url).prepare()
        except requests.RequestException as reason:
            raise ValueError(f"HttpTransport needs a valid URL, not {server_url!r}: {reason}") from None
        if not token and (not api_user or not api_key):
            raise ValueError("HttpTransport needs api_user and api_key (or FTRACK_API_USER, FTRACK_API_KEY), or a token")
        #: Where requests go through (``proxy``, else FTRACK_LIKE_PROXY; see transport/proxy.py).
        self.proxies = proxies_for(proxy)
        if session is not None and not isinstance(session, requests.Session):
            raise TypeError(f"HttpTransport(session=...) takes a requests.Session, not {type(session).__name__}")
        self.url = server_url.rstrip("/") + "/api"
        self.api_user = api_user
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.verify = verify
        #: The longest Retry-After honoured by waiting; a longer one is answered at once.
        self.max_wait = max_wait
        #: How long to keep asking for the answer to a batch the server is still running.
        self.in_progress_wait = in_progress_wait
        self._headers = {"ftrack-strict-api": "true", "content-type": "application/json", "accept": "application/json"}
        if _loopback(self.url):
            # A server on this machine: compressing a page of 10,000 rows cost it a tenth of its
            # time, and this client as long to undo, for bytes that never leave the machine.
            self._headers["accept-encoding"] = "identity"
        if token:
            self._headers["authorization"] = f"Bearer {token}"
        else:
            self._headers.update({"ftrack-user": api_user, "ftrack-api-key": api_key})  # type: ignore[dict-item]
        self._given = session
        self._http: requests.Session | None = None
        self._adapter: HTTPAdapter | None = None
        #: (hash of the body, its idempotency key) of the last batch that got no answer.
        self._unanswered: tuple[str, str] | None = None

    def retry(self) -> Retry:
        """The urllib3 ``Retry`` the transport mounts: POST included, statuses 429, 502, 503, 504.

        A failure that is not a connection, a read or a status (TLS, say) is not retried.
        """
        return _Retry(
            total=self.retries, other=0, redirect=False, allowed_methods=None, status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff, raise_on_status=False, max_wait=self.max_wait,
        )  # fmt: skip

    def _session(self) -> requests.Session:
        if self._http is None:
            http = self._given if self._given is not None else requests.Session()
            parts = urlsplit(self.url)
            prefix = f"{parts.scheme}://{parts.netloc}/"
            mounted = [p for p in http.adapters if self.url.lower().startswith(p.lower())]
            if all(p in ("http://", "https://") for p in mounted):  # no adapter of the caller's for this server
                self._adapter = HTTPAdapter(max_retries=self.retry())
                http.mount(prefix, self._adapter)
            http.proxies.update(self.proxies)
            self._http = http
        return self._http

    def handle(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        body = json.dumps(list(batch))
        headers = {**self._headers, "ftrack-idempotency-key": self._key_for(body)}
        extra: dict[str, Any] = {} if self.verify is None else {"verify": self.verify}
        attempt, running_since = 0, None
        while True:
            try:
                response = self._session().post(self.url, data=body, headers=headers, timeout=self.timeout, **extra)
            except requests.RequestException as reason:
                retried, again, said = failure(reason)
                if retried or not again or attempt == self.retries:
                    tries = f" after {self.retries + 1 if retried else attempt + 1} tries" if again else ""
                    raise TransportError(f"{said.format(url=self.url)}{tries}: {reason}") from reason
                time.sleep(self.backoff * 2**attempt)  # a reply cut short: urllib3 had handed it over
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
            answer = _decoded(response)
        except ValueError:
            raise TransportError(
                f"{self.url} answered {response.status_code} with something that is not JSON: {response.text[:200]!r}"
            ) from None
        if isinstance(answer, dict) and "exception" in answer:
            raise ServerError.from_answer(answer)
        if response.status_code >= 400:
            raise TransportError(f"{self.url} answered {response.status_code}: {str(answer)[:200]}")
        return answer_of(batch, answer)

    def use_token(self, token: str) -> None:
        """Send the bearer ``token`` from now on (a new sign-in's), instead of the credentials given before."""
        # A new dict, swapped in whole: the event stream's and the file channel's threads read it meanwhile.
        headers = {name: value for name, value in self._headers.items() if name not in ("ftrack-user", "ftrack-api-key")}
        self._headers = {**headers, "authorization": f"Bearer {token}"}

    def signed_in_again(self, refused: Mapping[str, str]) -> bool:
        """The server refused ``refused`` (what :meth:`credentials` gave a request) as an expired
        sign-in: whether there are new credentials to try (``renew`` signed in again)."""
        return self.renew is not None and self.renew(refused)

    def http(self) -> requests.Session:
        """The ``requests`` session the transport sends with (its retries mounted for the server's URL)."""
        return self._session()

    def credentials(self) -> dict[str, str]:
        """The headers that say who the session acts as (for the server's other routes; never put in a URL)."""
        return {name: value for name, value in self._headers.items() if name in ("authorization", "ftrack-user",
                                                                                 "ftrack-api-key")}  # fmt: skip

    def files(self) -> HttpFileChannel:
        """The file channel to the same server (an :class:`~ftrack_like_api.transport.http_files.HttpFileChannel`)."""
        from .http_files import HttpFileChannel

        return HttpFileChannel(self)

    def events(self) -> Any:
        """The event channel to the same server, with the same credentials, new ones too after a sign-in
        again (an :class:`~ftrack_like_api.event.http.HttpChannel`)."""
        from ..event.http import HttpChannel

        connect = self.timeout[0] if isinstance(self.timeout, tuple) else self.timeout
        return HttpChannel(self.url[: -len("/api")], self.credentials, verify=self.verify, timeout=connect,
                           proxies=self.proxies, renew=self.signed_in_again)  # fmt: skip

    def close(self) -> None:
        """Let go of the connections; a session of the caller's stays open (theirs to close)."""
        if self._http is not None:
            if self._given is None:
                self._http.close()
            elif self._adapter is not None:
                self._adapter.close()
                self._http.adapters.pop(next(p for p, a in self._http.adapters.items() if a is self._adapter), None)
            self._http, self._adapter = None, None

    def __repr__(self) -> str:  # never the key
        return f"HttpTransport({self.url!r}, user={self.api_user!r})"


def _loopback(url: str) -> bool:
    """Whether ``url`` names this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    import ipaddress

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _decoded(response: requests.Response) -> Any:
    """The JSON of an answer: read by orjson when it is installed (several times faster on a page of
    rows), else, or when orjson refuses it (JSON's ``NaN``, say), by the standard library; ValueError
    when it is no JSON."""
    if orjson is not None:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
    return response.json()


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
