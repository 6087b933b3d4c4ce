"""LocalFileChannel: the embedded mode's files, straight to the backend's storage, as the session's user."""

import io
import os
import pathlib
import tracemalloc
import urllib.parse

import pytest

from ftrack_like_api.exceptions import FileTransferError
from ftrack_like_api.session import Session

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def local_session(database, tmp_path_factory):
    """A Session in-process on the module's database, its files in a folder of their own (FTRACK_LIKE_STORAGE)."""
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FTRACK_LIKE_STORAGE", str(tmp_path_factory.mktemp("local-storage")))
        with Session(server_url=database, api_user="admin", schema_cache_path=False) as session:
            yield session


@pytest.fixture(scope="module")
def local_version(local_session):
    project = local_session.create("Project", {"name": "files", "project_schema": local_session.query("ProjectSchema").first()})
    shot = local_session.create("Shot", {"name": "sh010", "parent": project})
    asset = local_session.create("Asset", {"name": "plate", "parent": shot, "type": local_session.query("AssetType").first()})
    version = local_session.create("AssetVersion", {"asset": asset})
    local_session.commit()
    return version


@pytest.fixture
def component_id(local_session, local_version):
    component = local_session.create("FileComponent", {"name": "plate", "file_type": ".exr", "version_id": local_version["id"]})
    local_session.commit()
    return component["id"]


def test_a_file_goes_in_and_comes_back(local_session, component_id, tmp_path):
    channel = local_session.transport.files()
    data = os.urandom(3 * MIB + 17)
    (tmp_path / "plate.exr").write_bytes(data)
    said = []
    channel.upload(component_id, "plate.exr", tmp_path / "plate.exr", progress=lambda done, total: said.append((done, total)))
    assert said[-1] == (len(data), len(data))
    out = io.BytesIO()
    assert channel.download(component_id, out) == len(data) and out.getvalue() == data
    out = io.BytesIO()
    assert channel.download(component_id, out, start=1000) == len(data) - 1000 and out.getvalue() == data[1000:]
    with channel.open(component_id) as stream:
        assert stream.read(5) == data[:5] and stream.read() == data[5:]


def test_the_url_is_the_stored_file(local_session, component_id):
    channel = local_session.transport.files()
    channel.upload(component_id, "plate.exr", io.BytesIO(b"frame"))
    url = channel.url(component_id)
    assert url.startswith("file://")
    assert pathlib.Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).read_bytes() == b"frame"


def test_a_removed_file_is_gone(local_session, component_id):
    channel = local_session.transport.files()
    channel.upload(component_id, "plate.exr", io.BytesIO(b"frame"))
    channel.remove(component_id)
    with pytest.raises(FileTransferError) as gone:
        channel.download(component_id, io.BytesIO())
    assert gone.value.code == "not_found"


def test_an_unknown_component_has_no_file(local_session):
    with pytest.raises(FileTransferError) as unknown:
        local_session.transport.files().download("00000000-0000-4000-8000-000000000000", io.BytesIO())
    assert unknown.value.code == "not_found"


def test_memory_does_not_grow_with_the_file_size(local_session, local_version, tmp_path):
    channel = local_session.transport.files()
    peaks = []
    for size in (8 * MIB, 64 * MIB):
        component = local_session.create("FileComponent", {"name": "big", "version_id": local_version["id"]})
        local_session.commit()
        (tmp_path / "big").write_bytes(os.urandom(size))
        tracemalloc.start()
        try:
            channel.upload(component["id"], "big", tmp_path / "big")
            with open(tmp_path / "back", "wb") as out:
                channel.download(component["id"], out)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert (tmp_path / "back").read_bytes() == (tmp_path / "big").read_bytes()
    assert peaks[1] < 8 * MIB and peaks[1] < 1.5 * peaks[0] + MIB, peaks


def test_progress_true_draws_a_bar_on_a_terminal_only(local_session, component_id, monkeypatch):
    termios = pytest.importorskip("termios", reason="a pseudo-terminal is POSIX's")
    import fcntl
    import pty
    import select
    import struct

    channel = local_session.transport.files()
    data = os.urandom(2 * MIB)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 wide
    with os.fdopen(terminal, "w", closefd=True) as stderr:
        monkeypatch.setattr("sys.stderr", stderr)
        channel.upload(component_id, "plate.exr", io.BytesIO(data), progress=True)
        stderr.flush()
        drawn = ""
        while select.select([controller], [], [], 0.5)[0]:
            drawn += os.read(controller, 65536).decode(errors="replace")
    os.close(controller)
    assert "plate.exr" in drawn and "100%" in drawn and "2.00M" in drawn

    piped = io.StringIO()  # not a terminal: a log file, a pipe
    monkeypatch.setattr("sys.stderr", piped)
    out = io.BytesIO()
    channel.download(component_id, out, progress=True)
    assert out.getvalue() == data and piped.getvalue() == ""
