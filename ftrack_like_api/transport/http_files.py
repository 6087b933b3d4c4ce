"""The HTTP file channel: components' bytes to and from a server, in ftrack's wire protocol.

Uploads ask ``get_upload_metadata`` for signed URLs. A file up to ``part_size`` bytes
(default 64 MiB) goes in one ``PUT``; a larger one in parts of ``part_size``, ``parallel``
at a time (a thread pool), each with its ``x-content-sha256`` so the server refuses a part
that arrives changed. The server answers which parts it already holds (``stored``) for an
unfinished upload of the same component, size and part size: sending a file again after a
cut sends only the others. ``complete_multipart_upload`` then makes the file the
component's; until then nothing of it is visible.

Downloads stream ``GET /component/get`` into a file object, a megabyte at a time; a
connection that drops is asked again with ``Range`` from the byte it stopped at.

The channel uses its :class:`~ftrack_like_api.transport.http.HttpTransport`'s
``requests`` session (its retries, proxies and certificates), timeouts and credentials.
The credentials travel in headers, never in a URL: upload URLs carry a signed, expiring
token, and :meth:`HttpFileChannel.url` asks the server for a signed download link. The
upload URLs get no credentials at all (an S3 store's presigned URL must not).
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping

import requests

from ..exceptions import FileTransferError, ServerError, SessionExpiredError
from .files import CHUNK, DEFAULT_PART_SIZE, MAX_PARTS, FileChannel, Progress, ProgressArgument, Source, size_of
from .http import RETRY_STATUSES, failure

if TYPE_CHECKING:
    from .http import HttpTransport

__all__ = ["HttpFileChannel"]

#: Bytes a download reads at a time: what a cut connection may make it read again.
READ = 64 * 1024

log = logging.getLogger(__name__)


class HttpFileChannel(FileChannel):
    """Moves components' bytes over HTTP, with ``transport``'s session, credentials, timeouts and retries."""

    def __init__(self, transport: HttpTransport, part_size: int = DEFAULT_PART_SIZE) -> None:
        if part_size < 1:
            raise ValueError(f"part_size must be a positive number of bytes, not {part_size}")
        self.transport = transport
        self.part_size = part_size
        self.server = transport.url[: -len("/api")]

    # -- uploads ---------------------------------------------------------------------------------

    def upload(self, component_id: str, name: str, source: Source, size: int | None = None, *,
               part_size: int | None = None, parallel: int = 4, progress: ProgressArgument = None) -> None:  # fmt: skip
        total = size_of(source, size)
        part_size = part_size or self.part_size
        if part_size < 1 or parallel < 1:
            raise ValueError(f"part_size and parallel must be positive, not {part_size} and {parallel}")
        part_size = max(part_size, math.ceil(total / MAX_PARTS))  # a huge file: fewer, larger parts
        shown = Progress(progress, total, name)
        try:
            with _Reader(source) as reader:
                if total <= part_size:
                    self._upload_whole(component_id, name, reader, total, shown)
                else:
                    self._upload_parts(component_id, name, reader, total, part_size, parallel, shown)
        finally:
            shown.close()
        log.debug("uploaded %s bytes of %s as component %s", total, name, component_id)

    def _upload_whole(self, component_id: str, name: str, reader: _Reader, total: int, shown: Progress) -> None:
        answer = self._action({"action": "get_upload_metadata", "component_id": component_id,
                               "file_name": name, "file_size": total})  # fmt: skip
        self._put_whole(answer, reader, total, shown)

    def _put_whole(self, answer: dict[str, Any], reader: _Reader, total: int, shown: Progress) -> None:
        """The whole file in one PUT to the URL (with the headers) ``get_upload_metadata`` answered."""
        headers = {**dict(answer.get("headers") or {}), "x-content-sha256": reader.sha256(0, total)}
        self._put(str(answer["url"]), _Slice(reader, 0, total, shown), headers)

    def _upload_parts(self, component_id: str, name: str, reader: _Reader, total: int, part_size: int,
                      parallel: int, shown: Progress) -> None:  # fmt: skip
        answer = self._action({"action": "get_upload_metadata", "component_id": component_id, "file_name": name,
                               "file_size": total, "parts": math.ceil(total / part_size), "part_size": part_size})  # fmt: skip
        if "urls" not in answer and "url" in answer:  # the server chose one PUT for it
            return self._put_whole(answer, reader, total, shown)
        part_size = int(answer.get("part_size") or part_size)
        urls = {int(url["part_number"]): str(url["signed_url"]) for url in answer["urls"]}

        def span(number: int) -> tuple[int, int]:
            start = (number - 1) * part_size
            return start, min(part_size, total - start)

        etags = {int(part["part_number"]): part["e_tag"] for part in answer.get("stored") or ()
                 if int(part["part_number"]) in urls and part.get("size") == span(int(part["part_number"]))[1]}  # fmt: skip
        shown.advance(sum(span(number)[1] for number in etags))
        missing = sorted(set(urls) - set(etags))
        log.debug("upload %s of component %s: %d part(s) of %d to send", answer.get("upload_id"), component_id,
                  len(missing), len(urls))  # fmt: skip
        stop = threading.Event()  # set: parts not begun are not sent, and those under way stop at their next read

        def send(number: int) -> str:
            if stop.is_set():
                raise _Cancelled()
            try:
                start, length = span(number)
                headers = {"content-type": "application/octet-stream", "x-content-sha256": reader.sha256(start, length)}
                return self._put(urls[number], _Slice(reader, start, length, shown, stop), headers)
            except BaseException:
                stop.set()
                raise

        pool = ThreadPoolExecutor(max_workers=min(parallel, max(1, len(missing))), thread_name_prefix="upload")
        try:
            futures: dict[Future[str], int] = {pool.submit(send, number): number for number in missing}
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:  # a part failed, or this thread was interrupted (Ctrl-C): the others stop too
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
        errors = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception() is not None]
        first = next((error for error in errors if not isinstance(error, _Cancelled)), None)
        if first is not None:
            raise first
        etags.update({futures[future]: future.result() for future in futures})
        self._action({"action": "complete_multipart_upload", "component_id": component_id,
                      "upload_id": answer.get("upload_id"),
                      "parts": [{"part_number": number, "e_tag": etags[number]} for number in sorted(etags)]})  # fmt: skip

    def _put(self, url: str, body: _Slice, headers: dict[str, str]) -> str:
        """PUT ``body`` to a signed ``url`` (sent again, whole, when the connection drops); the answer's ETag."""

        def put() -> requests.Response:
            body.seek(0)
            return self._http().put(url, data=body, headers=headers, timeout=self.transport.timeout, **self._verify())

        response = self._send(put, url)
        return response.headers.get("ETag", "")

    # -- downloads -------------------------------------------------------------------------------

    def download(self, component_id: str, destination: IO[bytes], *, start: int = 0,
                 progress: ProgressArgument = None) -> int:  # fmt: skip
        if start < 0:
            raise ValueError(f"start must be 0 or more, not {start}")
        written, attempt, shown = 0, 0, None
        try:
            while True:
                response = self._get("get", component_id, start + written, stream=True)
                try:
                    if response.status_code == 416 and _total(response) == start + written:
                        return written  # asked from the end: nothing more to send
                    self._check(response, f"the file of component {component_id}")
                    total = _total(response)
                    if shown is None:
                        shown = Progress(progress, max(0, total - start) if total is not None else 0, component_id)
                    skip = start + written if response.status_code == 200 else 0  # a server that ignored Range
                    for chunk in response.iter_content(READ):
                        if skip:
                            chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                        destination.write(chunk)
                        written += len(chunk)
                        shown.advance(len(chunk))
                except requests.RequestException as error:  # cut short: ask again from here
                    attempt += 1
                    if attempt > self.transport.retries:
                        raise _translated(error, self.server, f"after {attempt} tries") from error
                    log.info("download of component %s cut at byte %d (%s): resuming", component_id,
                             start + written, error)  # fmt: skip
                    time.sleep(self.transport.backoff * 2 ** (attempt - 1))
                    continue
                finally:
                    response.close()
                if total is not None and start + written < total:
                    raise FileTransferError(f"The file of component {component_id} ended at byte {start + written} "
                                            f"of {total}")  # fmt: skip
                return written
        finally:
            if shown is not None:
                shown.close()

    def open(self, component_id: str) -> IO[bytes]:
        response = self._get("get", component_id, 0, stream=True)
        try:
            self._check(response, f"the file of component {component_id}")
        except FileTransferError:
            response.close()
            raise
        return io.BufferedReader(_ResponseStream(response), buffer_size=CHUNK)

    def url(self, component_id: str, expires: int = 3600) -> str:
        answer = self._action({"action": "generate_signed_url", "component_id": component_id, "expires": expires})
        return str(answer["signed_url"])

    def remove(self, component_id: str) -> None:
        response = self._get("remove", component_id, 0)
        try:
            self._check(response, f"the file of component {component_id}")
        finally:
            response.close()

    # -- requests ----------------------------------------------------------------------------------

    def _http(self) -> requests.Session:
        return self.transport.http()

    def _verify(self) -> dict[str, Any]:
        return {} if self.transport.verify is None else {"verify": self.transport.verify}

    def _action(self, operation: dict[str, Any]) -> dict[str, Any]:
        """One operation through the transport's ``/api``; its answer, or FileTransferError."""
        refused = self.transport.credentials()
        try:
            try:
                answer = self.transport.handle([operation])[0]
            except SessionExpiredError:
                if not self.transport.signed_in_again(refused):
                    raise
                answer = self.transport.handle([operation])[0]  # signed in again: once more, as a query is
        except ServerError as error:
            raise FileTransferError(f"{operation['action']} for component {operation.get('component_id')}: {error}",
                                    code=error.code, exception=error.exception) from error  # fmt: skip
        if not isinstance(answer, dict):
            raise FileTransferError(f"{operation['action']} was answered with {str(answer)[:200]!r}")
        return answer

    def _get(self, route: str, component_id: str, start: int, stream: bool = False) -> requests.Response:
        """``GET /component/<route>?id=…`` with the credentials in headers, from byte ``start``; once
        more with new ones when the server says the sign-in expired and the session signs in again."""
        refused = self.transport.credentials()
        response = self._get_as(refused, route, component_id, start, stream)
        if _expired(response) and self.transport.signed_in_again(refused):
            response.close()
            response = self._get_as(self.transport.credentials(), route, component_id, start, stream)
        return response

    def _get_as(self, credentials: Mapping[str, str], route: str, component_id: str, start: int,
                stream: bool) -> requests.Response:  # fmt: skip
        headers = dict(credentials)
        if start:
            headers["range"] = f"bytes={start}-"
        url = f"{self.server}/component/{route}"

        def get() -> requests.Response:
            response = self._http().get(url, params={"id": component_id}, headers=headers, stream=stream,
                                        timeout=self.transport.timeout, allow_redirects=False, **self._verify())  # fmt: skip
            if not response.is_redirect:
                return response
            # A store's presigned URL (S3): followed without the credentials, which are the server's only.
            response.close()
            ranged = {"range": headers["range"]} if "range" in headers else {}
            return self._http().get(response.headers["location"], headers=ranged, stream=stream,
                                    timeout=self.transport.timeout, **self._verify())  # fmt: skip

        return self._send(get, url, check=False)

    def _send(self, request: Callable[[], requests.Response], url: str, check: bool = True) -> requests.Response:
        """``request()``, again (backing off) while the connection fails or the server is busy; the answer.

        The session's urllib3 retries already cover the server's own URL; this covers the
        rest (a presigned store URL) and the body of a part cut after urllib3 let go.
        """
        shown = url.split("?", 1)[0]  # a signed URL's token is not for logs or messages
        attempt = 0
        while True:
            try:
                response = request()
            except requests.RequestException as error:
                retried, again, _ = failure(error)
                if retried or not again or attempt >= self.transport.retries:
                    raise _translated(error, shown, f"after {attempt + 1} tries" if again else "") from error
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.transport.retries:
                    if check:
                        try:
                            self._check(response, shown)
                        finally:
                            response.close()
                    return response
                response.close()
            attempt += 1
            time.sleep(self.transport.backoff * 2 ** (attempt - 1))

    @staticmethod
    def _check(response: requests.Response, what: str) -> None:
        """FileTransferError for an answer that is not a success, with what the server said."""
        if response.status_code < 300:
            return
        try:
            said = response.json()
        except ValueError:
            said = None
        if not isinstance(said, dict):
            said = {"content": response.text[:200]}
        content = said.get("content") or said.get("exception") or response.reason
        raise FileTransferError(f"{what}: {response.status_code} {content}", status=response.status_code,
                                code=said.get("error_code"), exception=said.get("exception"))  # fmt: skip

    def __repr__(self) -> str:
        return f"HttpFileChannel({self.server!r})"


class _Cancelled(Exception):
    """A part not sent because another failed first."""


def _expired(response: requests.Response) -> bool:
    """Whether the server refused the request's sign-in as expired (a 401 with ``session_expired``)."""
    if response.status_code != 401:
        return False
    try:
        said = response.json()
    except ValueError:
        return False
    return isinstance(said, dict) and said.get("error_code") == "session_expired"


def _translated(error: requests.RequestException, url: str, tries: str) -> FileTransferError:
    _, _, said = failure(error)
    return FileTransferError(f"{said.format(url=url.split('?', 1)[0])}{f' {tries}' if tries else ''}: "
                             f"{type(error).__name__}")  # fmt: skip


def _total(response: requests.Response) -> int | None:
    """The whole file's size an answer names (``Content-Range``'s, else ``Content-Length``)."""
    ranged = response.headers.get("Content-Range", "")
    if "/" in ranged and ranged.rsplit("/", 1)[1].strip().isdigit():
        return int(ranged.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return int(length) if response.status_code == 200 and length and length.isdigit() else None


class _Reader:
    """Reads a source at any offset from several threads: ``pread`` on a file, else seek and read under a lock."""

    def __init__(self, source: Source) -> None:
        self._opened = isinstance(source, (str, os.PathLike))
        self._file: IO[bytes] = open(source, "rb") if isinstance(source, (str, os.PathLike)) else source  # noqa: SIM115
        self._base = 0 if self._opened else self._file.tell()
        self._fd: int | None = None
        if hasattr(os, "pread"):
            try:
                self._fd = self._file.fileno()
            except (AttributeError, OSError, ValueError):  # BytesIO and friends
                self._fd = None
        self._lock = threading.Lock()

    def read(self, offset: int, count: int) -> bytes:
        """Up to ``count`` bytes from ``offset`` (of the source, as it stood when given)."""
        if self._fd is not None:
            return os.pread(self._fd, count, self._base + offset)
        with self._lock:
            self._file.seek(self._base + offset)
            return self._file.read(count)

    def sha256(self, offset: int, length: int) -> str:
        """The hex SHA-256 of ``length`` bytes from ``offset``, read a chunk at a time."""
        digest = hashlib.sha256()
        end = offset + length
        while offset < end:
            chunk = self.read(offset, min(CHUNK, end - offset))
            if not chunk:
                raise FileTransferError(f"The file ended at byte {offset} of the {end} it should hold")
            digest.update(chunk)
            offset += len(chunk)
        return digest.hexdigest()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._opened:
            self._file.close()


class _Slice:
    """``length`` bytes of a reader from ``start``, as a body ``requests`` streams (it knows the length)."""

    def __init__(self, reader: _Reader, start: int, length: int, shown: Progress,
                 stop: threading.Event | None = None) -> None:  # fmt: skip
        self.reader, self.start, self.length, self.shown, self.stop = reader, start, length, shown, stop
        self.position = 0

    def __len__(self) -> int:
        return self.length

    def __bool__(self) -> bool:  # an empty file is a body still (requests drops a false one)
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, position: int, whence: int = 0) -> int:
        """Back to ``position`` (a retry sends the part again): the bytes taken back leave the progress."""
        target = position if whence == 0 else self.position + position if whence == 1 else self.length + position
        target = max(0, min(self.length, target))
        self.shown.advance(target - self.position)
        self.position = target
        return target

    def read(self, count: int = -1) -> bytes:
        """Up to :data:`CHUNK` bytes at least (or what is left), whatever smaller ``count`` is asked.

        urllib3 reads a body 16 KiB at a time (``http.client`` 8 KiB): one pread, one progress
        step and one ``send`` per 16 KiB is most of a loopback upload's client time. Handing back
        a larger block is what a socket-bound body wants; the HTTP layer sends all it is given.
        """
        left = self.length - self.position
        count = left if count is None or count < 0 else min(max(count, CHUNK), left)
        if count <= 0:
            return b""
        if self.stop is not None and self.stop.is_set():
            raise _Cancelled()
        chunk = self.reader.read(self.start + self.position, count)
        if not chunk:
            raise FileTransferError(f"The file ended at byte {self.start + self.position} of the part it was sending")
        self.position += len(chunk)
        self.shown.advance(len(chunk))
        return chunk


class _ResponseStream(io.RawIOBase):
    """A streamed answer's body as a raw binary stream (for ``io.BufferedReader``); closing it closes the answer."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__()
        self.response = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.response.raw.read(len(buffer), decode_content=True)
        except Exception as error:  # urllib3's errors, translated here
            raise FileTransferError(f"Reading a file from the server failed: {error}") from error
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.response.close()
        super().close()
