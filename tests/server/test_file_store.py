"""The folder store: atomic writes, keys that cannot leave the folder, parts, ranges, removal."""

import base64
import hashlib
import os
import uuid

import pytest

from ftrack_like_api.server.files.store import (
    ChecksumMismatch,
    FolderStore,
    KeyRefused,
    NotStored,
    StoreUnavailable,
    TooLarge,
    UploadTarget,
)

#: An id the hostile keys are built around: fixed, so every collection of the suite (each xdist worker) names the same tests.
_SOME_ID = "0f5d2c9e-6a3b-4e1f-9c8d-7b2a1e0f3d4c"


@pytest.fixture
def store(tmp_path):
    return FolderStore(tmp_path / "storage")


def key():
    return str(uuid.uuid4())


def files_under(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_a_file_is_kept_under_its_id_and_read_back(store):
    component = key()
    data = os.urandom(3 * 1024 * 1024 + 17)
    part = store.write_file(component, [data[:1000], data[1000:]], limit=len(data))
    assert part.size == len(data)
    assert part.md5_hex == hashlib.md5(data).hexdigest()
    assert part.sha256_hex == hashlib.sha256(data).hexdigest()
    assert store.path(component) == store.root / "components" / component[:2] / component
    assert b"".join(store.open(component)) == data
    assert store.size(component) == len(data)
    assert files_under(store.root) == [f"components/{component[:2]}/{component}"]


def test_ranges_read_the_bytes_asked_for(store):
    component = key()
    data = bytes(range(256)) * 10
    store.write_file(component, [data], limit=len(data))
    assert b"".join(store.open(component, 10, 20)) == data[10:20]
    assert b"".join(store.open(component, 2500)) == data[2500:]
    assert b"".join(store.open(component, 2550, 9999)) == data[2550:]
    assert b"".join(store.open(component, 5, 5)) == b""


def test_a_file_is_read_a_chunk_at_a_time(store):
    component = key()
    data = os.urandom(5 * 1024 * 1024)
    store.write_file(component, [data], limit=len(data))
    chunks = list(store.open(component))
    assert max(len(chunk) for chunk in chunks) <= 1024 * 1024
    assert len(chunks) == 5


@pytest.mark.parametrize(
    "hostile",
    ["..", "../../etc/passwd", "/etc/passwd", "a\x00b", "x" * 4000, "", "../" + _SOME_ID,
     _SOME_ID + "/..", _SOME_ID[:-1] + "\x00", " " + _SOME_ID[1:], None, 7],
)  # fmt: skip
def test_hostile_keys_are_refused_and_nothing_is_written(store, hostile):
    with pytest.raises(KeyRefused):
        store.write_file(hostile, [b"data"], limit=10)
    with pytest.raises(KeyRefused):
        store.open(hostile)
    with pytest.raises(KeyRefused):
        store.remove(hostile)
    with pytest.raises(KeyRefused):
        store.write_part(UploadTarget(hostile, key(), 4, 4, 1), 1, [b"data"], limit=10)
    with pytest.raises(KeyRefused):
        store.write_thumbnail(hostile, 64, b"jpeg")
    assert not store.root.exists()


@pytest.mark.parametrize("number", [0, -1, 10_001, True, "1", 1.0])
def test_part_numbers_out_of_range_are_refused(store, number):
    with pytest.raises(KeyRefused):
        store.write_part(UploadTarget(key(), key(), 4, 4, 1), number, [b"data"], limit=10)


def test_over_the_limit_nothing_is_kept(store):
    component = key()
    with pytest.raises(TooLarge):
        store.write_file(component, [b"x" * 600, b"x" * 600], limit=1000)
    assert files_under(store.root) == []
    assert store.size(component) is None


def test_a_bad_checksum_keeps_nothing_and_the_old_file_stays(store):
    component = key()
    store.write_file(component, [b"old"], limit=10)
    with pytest.raises(ChecksumMismatch):
        store.write_file(
            component, [b"new"], limit=10, md5_b64=base64.b64encode(hashlib.md5(b"other").digest()).decode()
        )
    with pytest.raises(ChecksumMismatch):
        store.write_file(component, [b"new"], limit=10, sha256_hex=hashlib.sha256(b"other").hexdigest())
    assert b"".join(store.open(component)) == b"old"
    assert files_under(store.root) == [f"components/{component[:2]}/{component}"]
    good = base64.b64encode(hashlib.md5(b"new").digest()).decode()
    store.write_file(component, [b"new"], limit=10, md5_b64=good, sha256_hex=hashlib.sha256(b"new").hexdigest())
    assert b"".join(store.open(component)) == b"new"


def test_a_write_that_fails_half_way_leaves_the_old_file_whole(store):
    component = key()
    store.write_file(component, [b"whole old file"], limit=100)

    def broken():
        yield b"half of the new "
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.write_file(component, broken(), limit=100)
    assert b"".join(store.open(component)) == b"whole old file"
    assert files_under(store.root) == [f"components/{component[:2]}/{component}"]


def test_unwritable_storage_is_unavailable_and_keeps_nothing(tmp_path):
    (tmp_path / "not-a-folder").write_bytes(b"in the way")
    store = FolderStore(tmp_path / "not-a-folder")
    with pytest.raises(StoreUnavailable):
        store.write_file(key(), [b"data"], limit=10)
    assert (tmp_path / "not-a-folder").read_bytes() == b"in the way"


def test_a_disk_that_takes_no_more_is_unavailable_and_keeps_nothing(store):
    """A write the system refuses half-way (here: past the process's file size limit) leaves nothing."""
    resource = pytest.importorskip("resource")
    import signal

    component = key()
    store.write_file(component, [b"old"], limit=10)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, limits[1]))
    try:
        with pytest.raises(StoreUnavailable):
            store.write_file(component, [b"x" * 600, b"x" * 600], limit=10_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    assert b"".join(store.open(component)) == b"old"
    assert files_under(store.root) == [f"components/{component[:2]}/{component}"]


def test_parts_are_listed_assembled_in_order_and_discarded(store):
    data = os.urandom(2500)
    upload = UploadTarget(key(), key(), len(data), 1000, 3)
    assert store.parts(upload) == {}
    third = store.write_part(upload, 3, [data[2000:]], limit=1000)
    first = store.write_part(upload, 1, [data[:1000]], limit=1000)
    assert store.parts(upload) == {1: first, 3: third}
    assert first.md5_hex == hashlib.md5(data[:1000]).hexdigest()
    with pytest.raises(NotStored):
        store.assemble(upload, [1, 2, 3])
    assert store.size(upload.key) is None  # nothing visible before the upload is whole
    store.write_part(upload, 2, [data[1000:2000]], limit=1000)
    assert sorted(store.parts(upload)) == [1, 2, 3]
    assert store.assemble(upload, [1, 2, 3]) == len(data)
    assert b"".join(store.open(upload.key)) == data
    store.discard(upload)
    assert store.parts(upload) == {}
    assert files_under(store.root) == [f"components/{upload.key[:2]}/{upload.key}"]


def test_a_part_sent_again_replaces_the_first(store):
    upload = UploadTarget(key(), key(), 8, 4, 2)
    store.write_part(upload, 1, [b"aaaa"], limit=4)
    store.write_part(upload, 2, [b"bbbb"], limit=4)
    with pytest.raises(ChecksumMismatch):
        store.write_part(upload, 2, [b"cccc"], limit=4, sha256_hex="0" * 64)
    assert sorted(store.parts(upload)) == [1]  # the bad resend keeps nothing, not even the old part
    store.write_part(upload, 2, [b"cccc"], limit=4)
    store.assemble(upload, [1, 2])
    assert b"".join(store.open(upload.key)) == b"aaaacccc"


def test_parts_larger_than_the_declared_file_are_refused_on_assembly(store):
    upload = UploadTarget(key(), key(), 6, 4, 2)
    store.write_part(upload, 1, [b"aaaa"], limit=4)
    store.write_part(upload, 2, [b"bbbb"], limit=4)
    with pytest.raises(TooLarge):
        store.assemble(upload, [1, 2])
    assert store.size(upload.key) is None


def test_remove_takes_the_file_and_its_thumbnails(store):
    component = key()
    assert store.remove(component) is False
    store.write_file(component, [b"image"], limit=10)
    store.write_thumbnail(component, 64, b"jpeg")
    assert store.read_thumbnail(component, 64) == b"jpeg"
    assert store.thumbnail_path(component, 64) == store.root / "thumbnails" / component / "64.jpg"
    assert store.remove(component) is True
    assert store.size(component) is None
    assert store.read_thumbnail(component, 64) is None
    with pytest.raises(NotStored):
        store.open(component)


def test_a_folder_store_presigns_nothing(store):
    upload = UploadTarget(key(), key(), 4, 4, 1)
    assert store.begin(upload) is None
    assert store.upload_urls(upload, [1], 60) is None
    assert store.download_url(upload.key, "a.txt", 60) is None
    assert store.complete(upload, [(1, "etag")]) is None


def test_upload_ids_lists_the_unfinished_uploads(store):
    upload = UploadTarget(key(), key(), 4, 4, 1)
    assert store.upload_ids() == []
    store.write_part(upload, 1, [b"aaaa"], limit=4)
    assert store.upload_ids() == [upload.id]


def test_a_part_sent_with_its_sha256_only_is_hashed_once_and_named_by_it(store):
    """Only the digest the sender gave is computed (MD5 is the costlier half); the part's e_tag is then its SHA-256."""
    data = os.urandom(3000)
    upload = UploadTarget(key(), key(), len(data), 1000, 3)
    sums = [hashlib.sha256(data[start : start + 1000]).hexdigest() for start in (0, 1000, 2000)]
    parts = [
        store.write_part(upload, n + 1, [data[n * 1000 : n * 1000 + 1000]], limit=1000, sha256_hex=sums[n])
        for n in range(3)
    ]
    assert [(part.md5_hex, part.sha256_hex, part.e_tag) for part in parts] == [("", digest, digest) for digest in sums]
    assert store.parts(upload) == dict(enumerate(parts, 1))
    with_md5 = store.write_part(
        upload, 1, [data[:1000]], limit=1000, md5_b64=base64.b64encode(hashlib.md5(data[:1000]).digest()).decode()
    )
    assert (with_md5.md5_hex, with_md5.sha256_hex, with_md5.e_tag) == (
        hashlib.md5(data[:1000]).hexdigest(),
        "",
        with_md5.md5_hex,
    )
    assert store.assemble(upload, [1, 2, 3]) == len(data)
    assert b"".join(store.open(upload.key)) == data


def test_assembly_renames_the_upload_file_the_parts_were_written_into(store):
    """No second pass over the bytes: the component's file is the upload's (one inode); a part sent again later changes it not."""
    data = os.urandom(2500)
    upload = UploadTarget(key(), key(), len(data), 1000, 3)
    for number in (3, 1, 2):
        start = (number - 1) * 1000
        store.write_part(upload, number, [data[start : start + 1000]], limit=1000)
    assert store.assemble(upload, [1, 2, 3]) == len(data)
    held = store.root / "uploads" / upload.id / "data"
    assert os.stat(store.path(upload.key)).st_ino == os.stat(held).st_ino
    store.write_part(upload, 1, [b"x" * 1000], limit=1000)
    assert b"".join(store.open(upload.key)) == data
    store.discard(upload)
    assert b"".join(store.open(upload.key)) == data


def test_parts_assembled_out_of_their_order_are_copied(store):
    data = os.urandom(2000)
    upload = UploadTarget(key(), key(), len(data), 1000, 2)
    store.write_part(upload, 1, [data[:1000]], limit=1000)
    store.write_part(upload, 2, [data[1000:]], limit=1000)
    assert store.assemble(upload, [2, 1]) == len(data)
    assert b"".join(store.open(upload.key)) == data[1000:] + data[:1000]
