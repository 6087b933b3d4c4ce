"""The server location's files in an S3-compatible object store (AWS S3, MinIO, Ceph): :class:`S3Store`.

Needs ``boto3`` (``pip install 'ftrack-like-api[s3]'``). Credentials, region and endpoint come
the standard AWS way — ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_PROFILE``,
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) for a store that is
not AWS, ``~/.aws/config`` — nothing of them is an option of ours.

Objects in the bucket, under ``prefix``::

    PREFIX/components/<id[:2]>/<id>      the component's file
    PREFIX/thumbnails/<id>/<size>.jpg    scaled thumbnails (a cache)

Uploads in parts are S3 multipart uploads (:meth:`S3Store.begin` starts one; its upload id is
the :class:`~.store.UploadTarget`'s ``store_ref``): the clients put their parts straight into
the store through presigned URLs (:meth:`S3Store.upload_urls`, SigV4 with the part's length
signed, so a client cannot send more than it declared), :meth:`S3Store.complete` finishes the
upload with the ETags they report, :meth:`S3Store.discard` aborts it. Downloads are presigned
GETs (:meth:`S3Store.download_url`) that the server answers with a redirect: the server never
carries the bytes. S3 wants every part but the last to be at least :data:`MIN_PART_SIZE`.

What the server itself writes (parts it receives, whole files, thumbnails) is spooled to a
temporary file first, so that the size limit and checksums are checked before anything
reaches the store: a refused write keeps nothing there and leaves the old object whole.
Errors of botocore are translated into the store's (:mod:`.store`): a missing object is
:class:`~.store.NotStored`, a store that cannot be reached or refuses the credentials is
:class:`~.store.StoreUnavailable`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from typing import IO, Any, Iterable, Iterator, Sequence

from .store import (
    CHUNK,
    FileStore,
    KeyRefused,
    NotStored,
    Part,
    StoreError,
    StoreUnavailable,
    TooLarge,
    UploadTarget,
    _check_size,
    _from_source,
    _SourceFailed,
    _Sums,
    check_key,
    check_part_number,
)

__all__ = ["MAX_PART_SIZE", "MIN_PART_SIZE", "S3Store"]

log = logging.getLogger(__name__)

#: S3's smallest part but the last of a multipart upload (5 MiB).
MIN_PART_SIZE = 5 * 1024 * 1024
#: S3's largest part (5 GiB).
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
#: Bytes of a spooled write kept in memory before it goes to a temporary file.
_SPOOL = 8 * 1024 * 1024

# Error codes of S3 that mean "not there" and "you may not", as botocore reports them.
_MISSING = {"404", "NoSuchKey", "NoSuchUpload", "NotFound"}
_REFUSED = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "EntityTooLarge", "InvalidArgument", "BadDigest"}


class S3Store(FileStore):
    """A :class:`~.store.FileStore` in an S3 bucket, under ``prefix`` (``""``: the bucket's top).

    ``client`` is a boto3 S3 client; by default one is made on first use from the
    environment (the constructor reaches no network). Presigned URLs are signed with SigV4.
    """

    #: Every part but the last of an upload in parts must be at least this big.
    min_part_size = MIN_PART_SIZE

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"Not an S3 bucket name: {bucket!r}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Store({self.bucket!r}, {self.prefix!r})"

    @property
    def client(self) -> Any:
        """The boto3 S3 client (made from the environment on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = _make_client()
        return self._client

    # Where things are.

    def _name(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts) if self.prefix else parts)

    def object_key(self, key: str) -> str:
        """The object name of ``key``'s file in the bucket."""
        key = check_key(key)
        return self._name("components", key[:2], key)

    def _thumbnail_key(self, key: str, size: int) -> str:
        return self._name("thumbnails", check_key(key), f"{_check_size(size)}.jpg")

    def _call(self, doing: str, method: str, **params: Any) -> Any:
        """``client.method(Bucket=…, **params)`` with botocore's errors made the store's."""
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **params)
        except Exception as error:  # noqa: BLE001 - botocore's errors are translated here, at the boundary
            raise _translate(error, doing) from error

    def _upload_ref(self, upload: UploadTarget) -> str:
        check_key(upload.id)
        if not upload.store_ref:
            raise StoreError(f"Upload {upload.id} was not begun in the store (no multipart upload id)")
        return upload.store_ref

    # Uploads in parts.

    def begin(self, upload: UploadTarget) -> str | None:
        """Start an S3 multipart upload for an upload of two parts or more; its upload id (one part: None)."""
        check_key(upload.id)
        if upload.parts < 2:
            return None
        if upload.part_size < self.min_part_size:
            raise KeyRefused(f"Parts of {upload.part_size} bytes are too small for S3 (at least {self.min_part_size})")
        if upload.part_size > MAX_PART_SIZE:
            raise KeyRefused(f"Parts of {upload.part_size} bytes are too large for S3 (at most {MAX_PART_SIZE})")
        answer = self._call("starting an upload", "create_multipart_upload", Key=self.object_key(upload.key),
                            ContentType="application/octet-stream")  # fmt: skip
        return str(answer["UploadId"])

    def upload_urls(self, upload: UploadTarget, numbers: Sequence[int], expires: int) -> list[str]:
        """Presigned PUT URLs: of each part ``numbers`` of a multipart upload, or of the whole object for one part.

        Each URL signs the length its body must have (the part's, the last one's shorter), and
        for a single part the whole file's ``Content-MD5`` when the upload has a checksum.
        """
        urls = []
        for number in numbers:
            number = check_part_number(number)
            length = _part_length(upload, number)
            if upload.parts < 2:
                if length > MAX_PART_SIZE:
                    raise KeyRefused(f"A file of {length} bytes cannot go to S3 in one PUT (at most {MAX_PART_SIZE}): "
                                     "send it in parts")  # fmt: skip
                params: dict[str, Any] = {"Key": self.object_key(upload.key), "ContentLength": length}
                if upload.checksum:
                    params["ContentMD5"] = upload.checksum
                urls.append(self._presign("put_object", params, expires))
            else:
                params = {"Key": self.object_key(upload.key), "UploadId": self._upload_ref(upload),
                          "PartNumber": number, "ContentLength": length}  # fmt: skip
                urls.append(self._presign("upload_part", params, expires))
        return urls

    def write_part(self, upload: UploadTarget, number: int, chunks: Iterable[bytes], limit: int, *,
                   md5_b64: str | None = None, sha256_hex: str | None = None) -> Part:  # fmt: skip
        ref = self._upload_ref(upload)
        number = check_part_number(number)
        with _spooled(chunks, limit, md5_b64, sha256_hex) as (spool, part):
            self._call("writing a part", "upload_part", Key=self.object_key(upload.key), UploadId=ref,
                       PartNumber=number, Body=spool, ContentLength=part.size)  # fmt: skip
        return part

    def parts(self, upload: UploadTarget) -> dict[int, Part]:
        """The parts S3 holds, by number. Their SHA-256 is not known to S3: ``sha256_hex`` is ``""``."""
        if not upload.store_ref:
            return {}
        found: dict[int, Part] = {}
        params: dict[str, Any] = {"Key": self.object_key(upload.key), "UploadId": self._upload_ref(upload)}
        while True:
            try:
                answer = self._call("listing parts", "list_parts", **params)
            except NotStored:
                return {}
            for listed in answer.get("Parts", []):
                found[int(listed["PartNumber"])] = Part(int(listed["Size"]), str(listed["ETag"]).strip('"'), "")
            if not answer.get("IsTruncated"):
                return found
            params["PartNumberMarker"] = answer["NextPartNumberMarker"]

    def assemble(self, upload: UploadTarget, numbers: Sequence[int]) -> int:
        held = self.parts(upload)
        missing = [number for number in numbers if check_part_number(number) not in held]
        if missing:
            raise NotStored(f"Upload {upload.id} has no part {', '.join(map(str, missing))}")
        if sum(held[number].size for number in numbers) > upload.file_size:
            raise TooLarge(f"The parts of upload {upload.id} are larger than its {upload.file_size} bytes")
        return self.complete(upload, [(number, held[number].md5_hex) for number in numbers])

    def complete(self, upload: UploadTarget, parts: Sequence[tuple[int, str]]) -> int:
        """Finish the multipart upload from the ``(number, e_tag)`` the client reports; the object's size.

        Parts the store does not hold, or ETags that are not theirs, are :class:`~.store.KeyRefused`
        and the upload stays open (its parts can be sent again). Parts that make another size than
        the upload declared are refused too, and nothing is kept (the upload is used up).
        """
        if upload.parts < 2:  # one part went straight to the object: nothing to finish
            size = self.size(upload.key)
            if size is None:
                raise NotStored(f"Upload {upload.id}'s file was not put in the store")
            return size
        listed = [{"PartNumber": check_part_number(number), "ETag": f'"{str(e_tag).strip(chr(34))}"'}
                  for number, e_tag in parts]  # fmt: skip
        self._call("completing an upload", "complete_multipart_upload", Key=self.object_key(upload.key),
                   UploadId=self._upload_ref(upload), MultipartUpload={"Parts": listed})  # fmt: skip
        self._drop_thumbnails(upload.key)
        size = self.size(upload.key)
        if size is None:  # pragma: no cover - the store lost what it just made
            raise StoreUnavailable("The file storage did not keep the completed upload")
        if size != upload.file_size:  # a store that does not hold clients to the signed lengths
            self._call("removing a file", "delete_object", Key=self.object_key(upload.key))
            raise KeyRefused(f"The parts of upload {upload.id} make {size} bytes, not the {upload.file_size} "
                             "declared; nothing was kept")  # fmt: skip
        return size

    def discard(self, upload: UploadTarget) -> None:
        if not upload.store_ref:
            return
        try:
            self._call("abandoning an upload", "abort_multipart_upload", Key=self.object_key(upload.key),
                       UploadId=self._upload_ref(upload))  # fmt: skip
        except NotStored:
            pass

    # Whole files.

    def write_file(self, key: str, chunks: Iterable[bytes], limit: int, *,
                   md5_b64: str | None = None, sha256_hex: str | None = None) -> Part:  # fmt: skip
        name = self.object_key(key)
        with _spooled(chunks, limit, md5_b64, sha256_hex) as (spool, part):
            try:
                # upload_fileobj goes in parts itself when the file is large.
                self.client.upload_fileobj(spool, self.bucket, name, ExtraArgs={"ContentType": "application/octet-stream"},
                                           Config=_transfers())  # fmt: skip
            except Exception as error:  # noqa: BLE001 - translated at the boundary
                raise _translate(error, "writing a file") from error
        self._drop_thumbnails(key)
        return part

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        name = self.object_key(key)
        start = max(start, 0)
        if end is not None and end <= start:
            if self.size(key) is None:
                raise NotStored(f"No file is stored for component {key}")
            return iter(())
        span = f"bytes={start}-" + ("" if end is None else str(end - 1))
        try:
            answer = self._call("reading a file", "get_object", Key=name, Range=span)
        except _OutOfRange:
            return iter(())
        except NotStored:
            raise NotStored(f"No file is stored for component {key}") from None
        return _body(answer["Body"])

    def size(self, key: str) -> int | None:
        try:
            return int(self._call("reading a file's size", "head_object", Key=self.object_key(key))["ContentLength"])
        except NotStored:
            return None

    def remove(self, key: str) -> bool:
        name = self.object_key(key)
        existed = self.size(key) is not None
        self._drop_thumbnails(key)
        if existed:
            self._call("removing a file", "delete_object", Key=name)
        return existed

    def download_url(self, key: str, filename: str, expires: int) -> str:
        """A presigned GET of ``key``'s file that saves as ``filename`` (an attachment)."""
        params = {"Key": self.object_key(key), "ResponseContentDisposition": _attachment(filename)}
        return self._presign("get_object", params, expires)

    # Thumbnails.

    def read_thumbnail(self, key: str, size: int) -> bytes | None:
        try:
            answer = self._call("reading a thumbnail", "get_object", Key=self._thumbnail_key(key, size))
        except NotStored:
            return None
        try:
            return bytes(answer["Body"].read())
        except Exception as error:  # noqa: BLE001
            raise _translate(error, "reading a thumbnail") from error

    def write_thumbnail(self, key: str, size: int, data: bytes) -> None:
        self._call("writing a thumbnail", "put_object", Key=self._thumbnail_key(key, size), Body=data,
                   ContentType="image/png" if data.startswith(b"\x89PNG") else "image/jpeg")  # fmt: skip

    def _drop_thumbnails(self, key: str) -> None:
        """Forget the cached thumbnails of ``key`` (its file is gone or new)."""
        folder = self._name("thumbnails", check_key(key)) + "/"
        answer = self._call("listing thumbnails", "list_objects_v2", Prefix=folder)
        names = [{"Key": listed["Key"]} for listed in answer.get("Contents", [])]
        if names:
            self._call("removing thumbnails", "delete_objects", Delete={"Objects": names, "Quiet": True})

    def _presign(self, method: str, params: dict[str, Any], expires: int) -> str:
        try:
            return str(self.client.generate_presigned_url(method, Params={"Bucket": self.bucket, **params},
                                                          ExpiresIn=int(expires)))  # fmt: skip
        except Exception as error:  # noqa: BLE001
            raise _translate(error, "signing a URL") from error


class _OutOfRange(StoreError):
    """A range that starts past the end of the object (S3's 416)."""


def _make_client() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError:
        raise StoreUnavailable(
            "S3 storage needs boto3: pip install 'ftrack-like-api[s3]'"
        ) from None  # fmt: skip
    # SigV4 signs the headers a presigned URL names (a part's Content-Length). Checksums only where S3
    # requires them: the newer default (CRC32 on every request) is not understood by every S3-compatible store.
    config = Config(signature_version="s3v4", retries={"mode": "standard"},
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return boto3.session.Session().client("s3", config=config)


def _transfers() -> Any:
    """boto3's transfer settings for a file the server writes: parts of 8 MiB, four at a time (32 MiB in memory)."""
    from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

    return TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)


def _translate(error: Exception, doing: str) -> StoreError:
    """A botocore error as the store's: NotStored, KeyRefused, or StoreUnavailable."""
    if isinstance(error, StoreError):
        return error
    response = getattr(error, "response", None)
    code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    message = str(response.get("Error", {}).get("Message", "")) if isinstance(response, dict) else ""
    if code in _MISSING:
        return NotStored(f"Nothing is stored there ({code})")
    if code == "InvalidRange":
        return _OutOfRange("The range starts past the end of the file")
    if code in _REFUSED:
        return KeyRefused(f"The object store refused it: {message or code}")
    log.error("S3 storage failed %s: %s", doing, error)
    if code in {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
        return StoreUnavailable(f"The object store refused the server ({code}: {message}); check the bucket and credentials")
    return StoreUnavailable(f"The object store cannot be reached or failed {doing} ({type(error).__name__}); nothing was kept")


def _part_length(upload: UploadTarget, number: int) -> int:
    if number > max(upload.parts, 1):
        raise KeyRefused(f"Upload {upload.id} has {upload.parts} parts, not {number}")
    if upload.parts < 2:
        return upload.file_size
    return min(upload.part_size, upload.file_size - (number - 1) * upload.part_size)


def _attachment(filename: str) -> str:
    """A ``Content-Disposition`` that saves as ``filename``: only the characters safe in a header and a path."""
    safe = "".join(c for c in filename.replace("/", "_").replace("\\", "_") if c.isprintable() and c not in '"%;')
    safe = safe.strip(". ")[:200] or "file"
    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_")
    return f'attachment; filename="{ascii_name}"'


def _body(body: Any) -> Iterator[bytes]:
    try:
        while True:
            try:
                chunk = body.read(CHUNK)
            except Exception as error:  # noqa: BLE001
                raise _translate(error, "reading a file") from error
            if not chunk:
                return
            yield chunk
    finally:
        body.close()


class _spooled:
    """``with _spooled(chunks, limit, md5, sha256) as (file, part)``: the bytes in a checked temporary file.

    Past ``limit`` :class:`~.store.TooLarge`, a checksum that does not match
    :class:`~.store.ChecksumMismatch`, a disk that takes no more :class:`~.store.StoreUnavailable`;
    the file is rewound for reading and removed on leaving.
    """

    def __init__(self, chunks: Iterable[bytes], limit: int, md5_b64: str | None, sha256_hex: str | None) -> None:
        self.chunks, self.limit, self.md5_b64, self.sha256_hex = chunks, limit, md5_b64, sha256_hex
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL)

    def __enter__(self) -> tuple[IO[bytes], Part]:
        sums = _Sums()
        try:
            for chunk in _from_source(self.chunks):
                if not chunk:
                    continue
                sums.add(chunk)
                if sums.size > self.limit:
                    raise TooLarge(f"More than {self.limit} bytes were sent; nothing was kept")
                self.file.write(chunk)
            sums.check(self.md5_b64, self.sha256_hex)
            self.file.seek(0)
        except _SourceFailed as failed:
            self.file.close()
            raise failed.error from None
        except OSError as error:
            self.file.close()
            raise StoreUnavailable(f"The server's temporary space is full ({error.strerror}); nothing was kept") from error
        except BaseException:
            self.file.close()
            raise
        return self.file, sums.part()

    def __exit__(self, *exc_info: object) -> None:
        self.file.close()
