"""The file store a ``--storage`` value (or ``FTRACK_LIKE_STORAGE``) names: :func:`store_for`.

- ``s3://bucket`` or ``s3://bucket/prefix``: an :class:`~.s3.S3Store` (the ``s3`` extra; the
  endpoint, region and credentials come from the environment the standard AWS way);
- ``file:///path`` or a plain path: a :class:`~.store.FolderStore` there.

>>> store_for("s3://studio-files/prod")
S3Store('studio-files', 'prod')
>>> store_for("/srv/ftrack/files")
FolderStore('/srv/ftrack/files')
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from .store import FileStore, FolderStore

__all__ = ["store_for"]


def store_for(url_or_path: str | os.PathLike[str]) -> FileStore:
    """The store that ``url_or_path`` names; a ValueError saying what is accepted when it names none."""
    text = os.fspath(url_or_path)
    if not text.strip():
        raise ValueError("No storage named: give a folder, file:///folder or s3://bucket/prefix")
    scheme = urlsplit(text).scheme.lower()
    if scheme == "s3":
        return _s3(text)
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"A file: storage URL names a folder on this machine, not on {parts.netloc!r}: "
                             "give a folder, file:///folder or s3://bucket/prefix")
        return FolderStore(unquote(parts.path))
    if len(scheme) > 1:  # one letter is a Windows drive (C:\files)
        raise ValueError(f"Unknown storage {text!r}: give a folder, file:///folder or s3://bucket/prefix")
    return FolderStore(text)


def _s3(url: str) -> FileStore:
    from .s3 import S3Store  # boto3 is imported only when a client is made

    parts = urlsplit(url)
    if not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"Not an S3 storage URL: {url!r} (s3://bucket or s3://bucket/prefix)")
    return S3Store(parts.netloc, unquote(parts.path))
