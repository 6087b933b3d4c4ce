"""Caches: plain mappings from text keys to values, in memory, on disk, or layered.

Every cache is a :class:`~collections.abc.MutableMapping` (``cache[key]``,
``cache[key] = value``, ``del cache[key]``, ``in``, ``len``, iteration, ``update``,
``clear``) and safe to share between threads; one contract test suite runs against
each. ::

    cache = LayeredCache([MemoryCache(), SerialisedCache(FileCache("~/.cache/studio.sqlite"))])

- :class:`MemoryCache` — bounded (least recently used goes first), on ``cachetools``.
- :class:`FileCache` — one SQLite file in WAL mode; several processes may share it.
  It stores text or bytes; put a :class:`SerialisedCache` in front for other values.
- :class:`SerialisedCache` — encodes values on the way in, decodes them on the way out
  (JSON by default).
- :class:`LayeredCache` — reads through its layers in order and copies a value found in
  a lower layer into the layers above it; writes and deletes go to every layer.

Key makers turn what identifies a value into a text key: :class:`StringKeyMaker`
(``str`` of the parts) and :class:`ObjectKeyMaker` (a stable JSON form of any parts).

:class:`SchemaFileCache` keeps a server's schemas between sessions, one JSON file per
server and schema hash.
"""

from __future__ import annotations

import abc
import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import MutableMapping
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import cachetools

log = logging.getLogger(__name__)

__all__ = [
    "Cache",
    "FileCache",
    "KeyMaker",
    "LayeredCache",
    "MemoryCache",
    "ObjectKeyMaker",
    "SchemaFileCache",
    "SerialisedCache",
    "StringKeyMaker",
    "schema_cache_folder",
]


class Cache(MutableMapping):  # type: ignore[type-arg]
    """The contract every cache keeps: a thread-safe mutable mapping with ``str`` keys."""

    @staticmethod
    def _check_key(key: object) -> str:
        if not isinstance(key, str):
            raise TypeError(f"cache keys are text (str), not {type(key).__name__}: use a key maker")
        return key


class MemoryCache(Cache):
    """In memory, holding at most ``maxsize`` values; the least recently used goes first."""

    def __init__(self, maxsize: int = 100_000) -> None:
        self._data: cachetools.LRUCache[str, Any] = cachetools.LRUCache(maxsize=maxsize)
        self._lock = threading.RLock()

    @property
    def maxsize(self) -> int:
        return int(self._data.maxsize)

    def __getitem__(self, key: str) -> Any:
        with self._lock:
            return self._data[self._check_key(key)]

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[self._check_key(key)] = value

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._data[self._check_key(key)]

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._data))

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class FileCache(Cache):
    """One SQLite file (WAL mode), shared safely by threads and processes.

    Values are ``str`` or ``bytes``. The file and its folder are made on first use;
    ``update`` writes many values in one transaction.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.expanduser(os.fspath(path))
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            folder = os.path.dirname(self.path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            self._connection = connection
        return self._connection

    @staticmethod
    def _check_value(value: object) -> str | bytes:
        if not isinstance(value, (str, bytes)):
            raise TypeError(f"a FileCache stores text or bytes, not {type(value).__name__}: wrap it in a SerialisedCache")
        return value

    def __getitem__(self, key: str) -> Any:
        with self._lock:
            row = self._db().execute("SELECT value FROM cache WHERE key = ?", (self._check_key(key),)).fetchone()
        if row is None:
            raise KeyError(key)
        return row[0]

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            self._db().execute(
                "INSERT OR REPLACE INTO cache (key, value) VALUES (?, ?)", (self._check_key(key), self._check_value(value))
            )

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        """Write many values in one transaction."""
        rows = [(self._check_key(key), self._check_value(value)) for key, value in _items(other, kwargs)]
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO cache (key, value) VALUES (?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def __delitem__(self, key: str) -> None:
        with self._lock:
            deleted = self._db().execute("DELETE FROM cache WHERE key = ?", (self._check_key(key),)).rowcount
        if not deleted:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            return self._db().execute("SELECT 1 FROM cache WHERE key = ?", (key,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter([row[0] for row in self._db().execute("SELECT key FROM cache")])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db().execute("SELECT count(*) FROM cache").fetchone()[0])

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        """Every key and value, read in one query (a warm start reads the file this way)."""
        with self._lock:
            return [(key, value) for key, value in self._db().execute("SELECT key, value FROM cache")]

    def clear(self) -> None:
        with self._lock:
            self._db().execute("DELETE FROM cache")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __repr__(self) -> str:
        return f"FileCache({self.path!r})"


class SerialisedCache(Cache):
    """Encodes values into ``proxied`` and decodes them back (JSON text by default)."""

    def __init__(
        self,
        proxied: MutableMapping,  # type: ignore[type-arg]
        encode: Callable[[Any], Any] | None = None,
        decode: Callable[[Any], Any] | None = None,
    ) -> None:
        self.proxied = proxied
        self.encode = encode or _json_encode
        self.decode = decode or json.loads

    def __getitem__(self, key: str) -> Any:
        return self.decode(self.proxied[self._check_key(key)])

    def __setitem__(self, key: str, value: Any) -> None:
        self.proxied[self._check_key(key)] = self.encode(value)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        self.proxied.update({self._check_key(key): self.encode(value) for key, value in _items(other, kwargs)})

    def __delitem__(self, key: str) -> None:
        del self.proxied[self._check_key(key)]

    def __contains__(self, key: object) -> bool:
        return key in self.proxied

    def __iter__(self) -> Iterator[str]:
        return iter(self.proxied)

    def __len__(self) -> int:
        return len(self.proxied)

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return [(key, self.decode(value)) for key, value in self.proxied.items()]

    def clear(self) -> None:
        self.proxied.clear()


class LayeredCache(Cache):
    """Reads through ``layers`` in order, copying a value found below into the layers above it."""

    def __init__(self, layers: Sequence[MutableMapping]) -> None:  # type: ignore[type-arg]
        if not layers:
            raise ValueError("a LayeredCache needs at least one layer")
        self.layers = list(layers)

    def __getitem__(self, key: str) -> Any:
        self._check_key(key)
        for depth, layer in enumerate(self.layers):
            try:
                value = layer[key]
            except KeyError:
                continue
            for above in self.layers[:depth]:
                above[key] = value
            return value
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        for layer in self.layers:
            layer[self._check_key(key)] = value

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        items = dict(_items(other, kwargs))
        for layer in self.layers:
            layer.update(items)

    def __delitem__(self, key: str) -> None:
        found = False
        for layer in self.layers:
            try:
                del layer[self._check_key(key)]
                found = True
            except KeyError:
                pass
        if not found:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(key in layer for layer in self.layers)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(key for layer in self.layers for key in list(layer)))

    def __len__(self) -> int:
        return len(dict.fromkeys(key for layer in self.layers for key in list(layer)))

    def clear(self) -> None:
        for layer in self.layers:
            layer.clear()


class KeyMaker(abc.ABC):
    """Turns what identifies a value into a text key."""

    @abc.abstractmethod
    def key(self, *parts: Any) -> str:
        """The key for ``parts``: equal parts give equal keys."""


class StringKeyMaker(KeyMaker):
    """``str`` of each part, joined by ``separator``: readable, for parts that are text already."""

    def __init__(self, separator: str = ":") -> None:
        self.separator = separator

    def key(self, *parts: Any) -> str:
        return self.separator.join(str(part) for part in parts)


class ObjectKeyMaker(KeyMaker):
    """A stable JSON form of the parts: mappings by sorted key, tuples as lists, anything else by ``repr``."""

    def key(self, *parts: Any) -> str:
        return json.dumps(parts, sort_keys=True, separators=(",", ":"), default=repr)


class SchemaFileCache:
    """A server's ``query_schemas`` answer kept in ``folder``, one file per server and schema hash.

    A changed schema has a new hash, so a new file: nothing is ever stale. An unreadable
    file reads as missing; a file that cannot be written is logged, never fatal. Writers
    replace the file whole, so readers in other processes see all of it or none.
    """

    def __init__(self, folder: str, server_url: str) -> None:
        self.folder = folder
        self._server = hashlib.sha1(str(server_url).encode()).hexdigest()[:12]

    def path(self, schema_hash: str) -> str:
        """The file for ``schema_hash``."""
        return os.path.join(self.folder, f"ftrack_like_api_schemas_{self._server}_{schema_hash}.json")

    def get(self, schema_hash: str) -> list[dict[str, Any]] | None:
        """The schemas kept for ``schema_hash``, or None."""
        if not schema_hash:
            return None
        path = self.path(schema_hash)
        try:
            with open(path, encoding="utf-8") as file:
                schemas = json.load(file)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            log.warning("schema cache %s is unreadable (%s); fetching the schemas again", path, error)
            return None
        return schemas if isinstance(schemas, list) else None

    def put(self, schema_hash: str, schemas: list[dict[str, Any]]) -> None:
        """Keep ``schemas`` under ``schema_hash``."""
        if not schema_hash:
            return
        path = self.path(schema_hash)
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            partial = f"{path}.{os.getpid()}.{threading.get_ident()}.part"
            with open(partial, "w", encoding="utf-8") as file:
                json.dump(schemas, file)
            os.replace(partial, path)  # readers see the whole file or none
        except OSError as error:
            log.warning("cannot keep the schemas in %s: %s", path, error)


def _json_encode(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise TypeError(f"this value cannot be cached as JSON: {error}") from error


def _items(source: Mapping[str, Any] | Iterable[tuple[str, Any]], more: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The (key, value) pairs of ``update(source, **more)``."""
    return [*(source.items() if isinstance(source, Mapping) else source), *more.items()]


def schema_cache_folder() -> str:
    """Where sessions keep servers' schemas by default: this user's cache folder, as the platform puts it.

    (``~/.cache/ftrack-like/schemas`` on Linux, ``~/Library/Caches/ftrack-like/schemas`` on
    macOS, ``%LOCALAPPDATA%\\ftrack-like\\Cache\\schemas`` on Windows), never a shared
    temporary folder where another user could plant a file under a name we would read.
    """
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("ftrack-like", appauthor=False), "schemas")
