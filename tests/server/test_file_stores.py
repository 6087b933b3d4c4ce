"""One contract for every file store: a folder, and S3 (against moto's S3 server in its own process).

What a store must do whatever keeps the bytes: files read back whole and by range, a chunk at
a time; refused writes (over the limit, a wrong checksum, a source that fails half-way) keep
nothing and leave the old file whole; keys that are not ids are refused; parts are listed
for resume, assembled in order, discarded; thumbnails go with their file; a store that is
down is StoreUnavailable. Then what only a store the clients reach directly does (S3):
presigned PUTs of a whole file and of parts, completion with the ETags the client saw, a
presigned GET that saves under the component's name and honours Range.
"""

import base64
import hashlib
import os
import uuid

import pytest
import requests

from ftrack_like_api.server.files.store import (
    CHUNK,
    ChecksumMismatch,
    FolderStore,
    KeyRefused,
    NotStored,
    StoreUnavailable,
    TooLarge,
    UploadTarget,
)
from ftrack_like_api.server.files.stores import store_for

#: The part size used here: S3's smallest part but the last, so the same uploads run on every store.
PART = 5 * 1024 * 1024

#: An id the hostile keys are built around: fixed, so every collection of the suite (each xdist worker) names the same tests.
_SOME_ID = "0f5d2c9e-6a3b-4e1f-9c8d-7b2a1e0f3d4c"


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return FolderStore(tmp_path / "storage")
    return store_for(f"s3://{request.getfixturevalue('s3_bucket')}/studio/files")


def key():
    return str(uuid.uuid4())


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def stored_names(store):
    """Every file or object the store holds, relative to its root or prefix."""
    if isinstance(store, FolderStore):
        if not store.root.exists():
            return []
        return sorted(str(path.relative_to(store.root)) for path in store.root.rglob("*") if path.is_file())
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix + "/")
    return sorted(item["Key"][len(store.prefix) + 1 :] for item in listed.get("Contents", []))


def begun(store, data, part_size=PART, checksum=None):
    """An upload of ``data`` in parts of ``part_size``, begun in ``store``."""
    parts = max(1, -(-len(data) // part_size))
    upload = UploadTarget(key(), key(), len(data), part_size, parts, checksum)
    return UploadTarget(**{**upload.__dict__, "store_ref": store.begin(upload)})


# --- files ------------------------------------------------------------------------------------


def test_a_file_is_kept_under_its_id_and_read_back_a_chunk_at_a_time(store):
    component = key()
    data = os.urandom(3 * CHUNK + 17)
    part = store.write_file(component, [data[:1000], data[1000:]], limit=len(data))
    assert (part.size, part.md5_hex, part.sha256_hex) == (len(data), hashlib.md5(data).hexdigest(),
                                                         hashlib.sha256(data).hexdigest())  # fmt: skip
    chunks = list(store.open(component))
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= CHUNK
    assert store.size(component) == len(data)
    assert stored_names(store) == [f"components/{component[:2]}/{component}"]


def test_ranges_read_the_bytes_asked_for(store):
    component = key()
    data = bytes(range(256)) * 10
    store.write_file(component, [data], limit=len(data))
    assert b"".join(store.open(component, 10, 20)) == data[10:20]
    assert b"".join(store.open(component, 2500)) == data[2500:]
    assert b"".join(store.open(component, 2550, 9999)) == data[2550:]
    assert b"".join(store.open(component, 5, 5)) == b""
    assert b"".join(store.open(component, 3000)) == b""


def test_an_empty_file_is_a_file(store):
    component = key()
    store.write_file(component, [], limit=10)
    assert store.size(component) == 0
    assert b"".join(store.open(component)) == b""


def test_nothing_stored_is_none_or_not_stored_at_once(store):
    component = key()
    assert store.size(component) is None
    with pytest.raises(NotStored):
        store.open(component)  # at the call, not when iterated
    assert store.remove(component) is False
    assert store.read_thumbnail(component, 64) is None


@pytest.mark.parametrize(
    "hostile", ["..", "../../etc/passwd", "/etc/passwd", "a\x00b", "x" * 4000, "", _SOME_ID + "/..", None, 7]
)
def test_keys_that_are_not_ids_are_refused_and_nothing_is_written(store, hostile):
    with pytest.raises(KeyRefused):
        store.write_file(hostile, [b"data"], limit=10)
    with pytest.raises(KeyRefused):
        store.open(hostile)
    with pytest.raises(KeyRefused):
        store.remove(hostile)
    with pytest.raises(KeyRefused):
        store.write_thumbnail(hostile, 64, b"jpeg")
    with pytest.raises(KeyRefused):
        store.write_part(UploadTarget(hostile, key(), 4, 4, 1, store_ref="ref"), 1, [b"data"], limit=10)
    assert stored_names(store) == []


def test_over_the_limit_nothing_is_kept(store):
    component = key()
    with pytest.raises(TooLarge):
        store.write_file(component, [b"x" * 600, b"x" * 600], limit=1000)
    assert store.size(component) is None
    assert stored_names(store) == []


def test_a_bad_checksum_keeps_nothing_and_the_old_file_stays(store):
    component = key()
    store.write_file(component, [b"old"], limit=10)
    with pytest.raises(ChecksumMismatch):
        store.write_file(component, [b"new"], limit=10, md5_b64=md5_b64(b"other"))
    with pytest.raises(ChecksumMismatch):
        store.write_file(component, [b"new"], limit=10, sha256_hex=hashlib.sha256(b"other").hexdigest())
    assert b"".join(store.open(component)) == b"old"
    store.write_file(component, [b"new"], limit=10, md5_b64=md5_b64(b"new"), sha256_hex=hashlib.sha256(b"new").hexdigest())
    assert b"".join(store.open(component)) == b"new"
    assert stored_names(store) == [f"components/{component[:2]}/{component}"]


def test_a_source_that_fails_half_way_leaves_the_old_file_whole(store):
    component = key()
    store.write_file(component, [b"whole old file"], limit=100)

    def broken():
        yield b"half of the new "
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.write_file(component, broken(), limit=100)
    assert b"".join(store.open(component)) == b"whole old file"


def test_remove_takes_the_file_and_its_thumbnails(store):
    component, other = key(), key()
    store.write_file(component, [b"image"], limit=10)
    store.write_file(other, [b"other"], limit=10)
    store.write_thumbnail(component, 64, b"small jpeg")
    store.write_thumbnail(component, 300, b"larger jpeg")
    store.write_thumbnail(other, 64, b"other jpeg")
    assert store.read_thumbnail(component, 300) == b"larger jpeg"
    assert store.remove(component) is True
    assert store.size(component) is None
    assert store.read_thumbnail(component, 64) is None
    assert store.read_thumbnail(other, 64) == b"other jpeg"
    assert stored_names(store) == [f"components/{other[:2]}/{other}", f"thumbnails/{other}/64.jpg"]


@pytest.mark.parametrize("size", [0, -1, 10_001, True, "64", 1.5])
def test_thumbnail_sizes_that_are_not_sizes_are_refused(store, size):
    with pytest.raises(KeyRefused):
        store.write_thumbnail(key(), size, b"jpeg")


# --- uploads in parts -------------------------------------------------------------------------


def test_parts_are_listed_for_resume_assembled_in_order_and_discarded(store):
    data = os.urandom(2 * PART + 1000)
    upload = begun(store, data)
    assert store.parts(upload) == {}
    third = store.write_part(upload, 3, [data[2 * PART :]], limit=PART)
    first = store.write_part(upload, 1, [data[:PART]], limit=PART)
    listed = store.parts(upload)
    assert sorted(listed) == [1, 3]
    assert [(listed[n].size, listed[n].md5_hex) for n in (1, 3)] == [(PART, first.md5_hex), (1000, third.md5_hex)]
    assert first.md5_hex == hashlib.md5(data[:PART]).hexdigest()
    with pytest.raises(NotStored):
        store.assemble(upload, [1, 2, 3])
    assert store.size(upload.key) is None  # nothing visible before the upload is whole
    store.write_part(upload, 2, [data[PART : 2 * PART]], limit=PART)
    assert store.assemble(upload, [1, 2, 3]) == len(data)
    assert b"".join(store.open(upload.key)) == data
    store.discard(upload)
    assert store.parts(upload) == {}
    assert stored_names(store) == [f"components/{upload.key[:2]}/{upload.key}"]


def test_a_part_sent_again_replaces_the_first(store):
    data = b"a" * PART + b"bbbb"
    upload = begun(store, data)
    store.write_part(upload, 1, [b"z" * PART], limit=PART)
    with pytest.raises(ChecksumMismatch):
        store.write_part(upload, 1, [b"a" * PART], limit=PART, sha256_hex="0" * 64)
    with pytest.raises(TooLarge):
        store.write_part(upload, 2, [b"bbbb", b"b"], limit=4)
    store.write_part(upload, 1, [b"a" * PART], limit=PART)
    store.write_part(upload, 2, [b"bbbb"], limit=4)
    store.assemble(upload, [1, 2])
    assert b"".join(store.open(upload.key)) == data


def test_an_abandoned_upload_leaves_nothing(store):
    data = os.urandom(PART + 10)
    upload = begun(store, data)
    store.write_part(upload, 1, [data[:PART]], limit=PART)
    store.discard(upload)
    store.discard(upload)  # twice is fine
    assert store.parts(upload) == {}
    assert store.size(upload.key) is None
    assert stored_names(store) == []


# --- a store that is down ---------------------------------------------------------------------


@pytest.fixture(params=["folder", "s3"])
def broken_store(request, tmp_path, unused_port):
    """A store that cannot be written: a folder that is a file; an S3 endpoint where nothing listens."""
    if request.param == "folder":
        (tmp_path / "in-the-way").write_bytes(b"a file, not a folder")
        return FolderStore(tmp_path / "in-the-way")
    request.getfixturevalue("s3_endpoint")
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    from ftrack_like_api.server.files.s3 import S3Store

    client = boto3.session.Session().client("s3", endpoint_url=f"http://127.0.0.1:{unused_port}",
                                            config=Config(retries={"max_attempts": 1}, connect_timeout=2))  # fmt: skip
    return S3Store("studio", "files", client=client)


def test_a_store_that_is_down_is_unavailable(broken_store):
    with pytest.raises(StoreUnavailable):
        broken_store.write_file(key(), [b"data"], limit=10)


def test_a_bucket_that_does_not_exist_is_unavailable_and_says_so(s3_endpoint):
    store = store_for(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/files")
    with pytest.raises(StoreUnavailable, match="NoSuchBucket"):
        store.write_file(key(), [b"data"], limit=10)


# --- presigned transfers: the bytes go between the client and the store -----------------------


@pytest.fixture
def s3_store(s3_bucket):
    return store_for(f"s3://{s3_bucket}/studio/files")


def test_one_presigned_put_makes_the_file(s3_store):
    data = os.urandom(100_000)
    upload = begun(s3_store, data, checksum=md5_b64(data))
    assert upload.store_ref is None  # one part: no multipart upload in the store
    [url] = s3_store.upload_urls(upload, [1], expires=60)
    assert "X-Amz-Signature=" in url
    assert "content-length" in url.lower()  # the length is signed: no more bytes than declared
    answer = requests.put(url, data=data, headers={"Content-Type": "application/octet-stream",
                                                  "Content-MD5": upload.checksum}, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    assert s3_store.complete(upload, []) == len(data)
    assert b"".join(s3_store.open(upload.key)) == data


def test_presigned_parts_resume_and_complete_with_the_etags_the_client_saw(s3_store):
    data = os.urandom(2 * PART + 12345)
    upload = begun(s3_store, data)
    assert upload.store_ref
    urls = s3_store.upload_urls(upload, [1, 2, 3], expires=60)
    assert len(set(urls)) == 3
    # The client sends part 2, is cut off, and asks what the store holds before going on.
    etags = {2: requests.put(urls[1], data=data[PART : 2 * PART], timeout=60).headers["ETag"]}
    held = s3_store.parts(upload)
    assert list(held) == [2] and held[2].size == PART and held[2].md5_hex == etags[2].strip('"')
    for number in (1, 3):
        [url] = s3_store.upload_urls(upload, [number], expires=60)
        answer = requests.put(url, data=data[(number - 1) * PART : number * PART], timeout=60)
        assert answer.status_code == 200, answer.text
        etags[number] = answer.headers["ETag"]
    assert s3_store.size(upload.key) is None  # not visible before it is completed
    with pytest.raises(KeyRefused):
        s3_store.complete(upload, [(1, etags[1]), (2, '"' + "0" * 32 + '"'), (3, etags[3])])
    assert sorted(s3_store.parts(upload)) == [1, 2, 3]  # a refused completion keeps the upload open
    assert s3_store.complete(upload, sorted(etags.items())) == len(data)
    assert b"".join(s3_store.open(upload.key)) == data
    assert stored_names(s3_store) == [f"components/{upload.key[:2]}/{upload.key}"]


def test_parts_that_do_not_make_the_declared_size_are_refused_and_nothing_is_kept(s3_store):
    """S3 holds a client to the lengths the URLs sign; moto does not, so the store checks the result too."""
    upload = begun(s3_store, b"x" * (PART + 4321))
    first, last = s3_store.upload_urls(upload, [1, 2], expires=60)
    etags = [requests.put(first, data=b"a" * PART, timeout=60).headers["ETag"],
             requests.put(last, data=b"short", timeout=60).headers["ETag"]]  # fmt: skip
    with pytest.raises(KeyRefused, match="not the 5247201 declared"):
        s3_store.complete(upload, [(1, etags[0]), (2, etags[1])])
    assert s3_store.size(upload.key) is None
    assert stored_names(s3_store) == []


def test_parts_s3_does_not_take_are_refused_before_anything_starts(s3_store):
    with pytest.raises(KeyRefused, match="too small"):
        s3_store.begin(UploadTarget(key(), key(), 3000, 1000, 3))
    with pytest.raises(KeyRefused, match="too large"):
        s3_store.begin(UploadTarget(key(), key(), 12 * 2**30, 6 * 2**30, 2))
    with pytest.raises(KeyRefused, match="send it in parts"):
        s3_store.upload_urls(UploadTarget(key(), key(), 6 * 2**30, 6 * 2**30, 1), [1], 60)


def test_a_presigned_get_serves_the_file_under_its_name_and_ranges(s3_store):
    component = key()
    data = os.urandom(50_000)
    s3_store.write_file(component, [data], limit=len(data))
    url = s3_store.download_url(component, 'sh010 "comp".v001.exr\r\nX-Evil: 1', expires=60)
    answer = requests.get(url, timeout=30)
    assert answer.content == data
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and "\n" not in disposition and "X-Evil" in disposition
    assert disposition.count('"') == 2
    partial = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=30)
    assert partial.status_code == 206
    assert partial.content == data[100:200]


# --- naming the store -------------------------------------------------------------------------


def test_storage_names(tmp_path):
    assert store_for(str(tmp_path)).root == tmp_path
    assert store_for(tmp_path.as_uri()).root == tmp_path
    s3 = store_for("s3://studio-files/prod/ftrack/")
    assert (s3.bucket, s3.prefix) == ("studio-files", "prod/ftrack")
    assert (store_for("s3://studio-files").prefix, store_for("s3://studio-files/").prefix) == ("", "")


@pytest.mark.parametrize("bad", ["", "  ", "s3://", "s3:///prefix", "s3://bucket/p?x=1", "ftp://host/files",
                                 "file://otherhost/files", "gs://bucket"])  # fmt: skip
def test_storage_names_that_name_nothing_say_what_is_accepted(bad):
    with pytest.raises(ValueError, match="s3://bucket"):
        store_for(bad)
