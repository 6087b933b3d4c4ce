"""Where the files go and their limits: serve's options, the default folder beside SQLite, none on PostgreSQL."""

import datetime
import subprocess

import pytest

from ftrack_like_api.exceptions import ValidationError
from ftrack_like_api.server import Backend
from ftrack_like_api.server.files import NoStorage
from ftrack_like_api.server.files.settings import parse_age, parse_size
from ftrack_like_api.server.files.store import FolderStore


@pytest.mark.parametrize(("text", "size"), [("0", None), ("10", 10), ("1K", 1024), ("20G", 20 * 1024**3), ("1.5m", 1572864),
                                            ("2GiB", 2 * 1024**3)])  # fmt: skip
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "age"), [("24h", datetime.timedelta(hours=24)), ("90", datetime.timedelta(seconds=90)),
                                           ("2d", datetime.timedelta(days=2))])  # fmt: skip
def test_ages(text, age):
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["lots", "-1G", "10X"])
def test_bad_sizes_say_what_is_taken(text):
    with pytest.raises(ValidationError, match="such as 20G"):
        parse_size(text)


def test_serve_refuses_a_bad_limit_before_starting(ftrack_like, tmp_path):
    run = subprocess.run([ftrack_like, "serve", "--database", f"sqlite:///{tmp_path / 'x.db'}", "--max-upload", "lots"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and "such as 20G" in run.stderr
    run = subprocess.run([ftrack_like, "serve", "--database", f"sqlite:///{tmp_path / 'x.db'}", "--upload-expiry", "0"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and "such as 24h" in run.stderr


def test_the_default_storage_is_a_folder_beside_the_sqlite_file(fresh_database, monkeypatch):
    monkeypatch.delenv("FTRACK_LIKE_STORAGE", raising=False)
    with Backend.from_url(fresh_database) as backend:
        if fresh_database.startswith("sqlite"):
            store = backend.files.store
            assert isinstance(store, FolderStore)
            assert store.root.name == "studio.files" and store.root.parent.joinpath("studio.db").exists()
        else:
            with pytest.raises(NoStorage, match="--storage"):
                _ = backend.files.store


def test_the_environment_names_the_storage(fresh_database, monkeypatch, tmp_path):
    monkeypatch.setenv("FTRACK_LIKE_STORAGE", str(tmp_path / "shared"))
    with Backend.from_url(fresh_database) as backend:
        assert backend.files.store.root == tmp_path / "shared"
