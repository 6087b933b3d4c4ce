"""DiskAccessor on real files: paths under its prefix, containers, errors with ftrack's names; Data objects."""

import os

import pytest

from ftrack_like_api.accessor.disk import DiskAccessor
from ftrack_like_api.data import Data, File, String
from ftrack_like_api.exceptions import (
    AccessorContainerNotEmptyError,
    AccessorFilesystemPathError,
    AccessorParentResourceNotFoundError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorUnsupportedOperationError,
)


@pytest.fixture
def accessor(tmp_path):
    return DiskAccessor(tmp_path / "store")


def test_paths_are_under_the_prefix(accessor, tmp_path):
    prefix = str(tmp_path / "store")
    assert accessor.prefix == prefix
    assert accessor.get_filesystem_path("") == prefix
    assert accessor.get_filesystem_path("sh010/v001/plate.exr") == os.path.join(prefix, "sh010", "v001", "plate.exr")
    assert accessor.get_filesystem_path("sh010/../plate.exr") == os.path.join(prefix, "plate.exr")
    assert accessor.get_filesystem_path("sh010/") == os.path.join(prefix, "sh010")
    assert accessor.get_filesystem_path(os.path.join(prefix, "a.txt")) == os.path.join(prefix, "a.txt")


@pytest.mark.parametrize("outside", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "../store-sibling/x", "a\0b"])
def test_nothing_climbs_out_of_the_prefix(accessor, outside, tmp_path):
    with pytest.raises(AccessorFilesystemPathError):
        accessor.get_filesystem_path(outside)
    with pytest.raises(AccessorFilesystemPathError):
        accessor.open(outside, "wb")
    assert sorted(os.listdir(tmp_path)) == []  # nothing was written anywhere


def test_a_prefix_with_user_and_variables_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_ROOT", str(tmp_path))
    assert DiskAccessor("$STUDIO_ROOT/projects").prefix == str(tmp_path / "projects")
    assert DiskAccessor("~").prefix == os.path.expanduser("~")


def test_an_empty_prefix_takes_paths_as_they_are(tmp_path):
    accessor = DiskAccessor("")
    path = str(tmp_path / "plate.exr")
    assert accessor.get_filesystem_path(path) == path
    assert accessor.get_container(path) == str(tmp_path)


def test_write_read_list_and_remove(accessor):
    accessor.make_container("sh010/v001")
    assert accessor.is_container("sh010") and not accessor.is_file("sh010")
    with accessor.open("sh010/v001/notes.txt", "w") as data:
        assert isinstance(data, Data)
        data.write("first take")
    assert accessor.exists("sh010/v001/notes.txt") and accessor.is_file("sh010/v001/notes.txt")
    data = accessor.open("sh010/v001/notes.txt", "r")
    assert data.read() == "first take"
    data.close()
    assert accessor.list("sh010/v001") == [os.path.join("sh010/v001", "notes.txt")]
    assert accessor.get_container("sh010/v001/notes.txt") == os.path.join("sh010", "v001")
    with pytest.raises(AccessorContainerNotEmptyError):
        accessor.remove("sh010/v001")
    accessor.remove("sh010/v001/notes.txt")
    accessor.remove("sh010/v001")
    assert not accessor.exists("sh010/v001")


def test_errors_carry_ftracks_names(accessor):
    with pytest.raises(AccessorResourceNotFoundError) as caught:
        accessor.open("missing.txt", "rb")
    assert caught.value.resource_identifier == "missing.txt" and caught.value.operation == "open"
    with pytest.raises(AccessorResourceNotFoundError):
        accessor.remove("missing.txt")
    with pytest.raises(AccessorResourceNotFoundError):
        accessor.list("missing")
    with pytest.raises(AccessorParentResourceNotFoundError):
        accessor.make_container("a/b/c", recursive=False)
    accessor.make_container("")
    with accessor.open("file.txt", "wb") as data:
        data.write(b"x")
    with pytest.raises(AccessorResourceInvalidError):
        accessor.list("file.txt")
    with pytest.raises(AccessorUnsupportedOperationError):
        accessor.is_sequence("plate.%04d.exr")
    with pytest.raises(AccessorParentResourceNotFoundError):
        accessor.get_container("")  # the prefix's own container is outside it


def test_making_a_container_twice_keeps_it(accessor):
    accessor.make_container("a/b")
    with accessor.open("a/b/kept.txt", "wb") as data:
        data.write(b"kept")
    accessor.make_container("a/b")
    accessor.make_container("a/b", recursive=False)
    assert accessor.list("a/b") == [os.path.join("a/b", "kept.txt")]


def test_write_from_copies_in_chunks(accessor, tmp_path, monkeypatch):
    import ftrack_like_api.accessor.base as base

    monkeypatch.setattr(base, "CHUNK_SIZE", 1000)
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(4500))
    reads = []
    data = File(source, "rb")
    original = data.read
    data.read = lambda limit=None: reads.append(limit) or original(limit)
    accessor.make_container("")
    accessor.write_from("copy.bin", data, 4500)
    data.close()
    assert (tmp_path / "store" / "copy.bin").read_bytes() == source.read_bytes()
    assert set(reads) == {1000}  # never the whole file at once


def test_string_data_gives_back_what_it_was_given():
    text = String("a note")
    assert text.read() == "a note"
    text.close()
    binary = String(b"\x00\x01")
    binary.seek(0, os.SEEK_END)
    binary.write(b"\x02")
    binary.seek(0)
    assert binary.read() == b"\x00\x01\x02" and binary.tell() == 3
    binary.close()
    assert binary.closed
