"""The server location's files: where they are kept, how they are uploaded and served.

- ``store.py`` the :class:`~.store.FileStore` interface and :class:`~.store.FolderStore`
"""

from __future__ import annotations
