"""The Session: the facade a script talks to.

::

    session = Session(server_url="sqlite:///studio.db", api_user="admin")
    shot = session.query('Shot where name is "sh010"').one()
    task = session.create("Task", {"name": "comp", "parent": shot})
    task["bid"] = 2.5
    session.commit()                      # one batch: the create, with bid folded in

The session wires the parts together and keeps none of their logic: the transport
(how batches travel), the unit of work (what changed), the identity map (one object
per entity), the merger (server data into entities) and the entity classes built
from the server's schemas. Nothing reaches the server until it is needed: the
schemas load on first use.

Threads: reads and queries may run on several threads at once; recording changes,
``commit`` and ``rollback`` take the session's lock, so they are safe too, but two
threads changing the same entities at once will interleave their changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from collections.abc import MutableMapping
from typing import Any, Callable, Iterator, Mapping, Sequence

from . import collector, wire
from .cache import KeyMaker, SchemaFileCache, StringKeyMaker, schema_cache_folder
from .credential_store import kept_sign_in
from .entity import Entity, EntityState
from .event.hub import EventHub
from .exceptions import ImmutableAttributeError, UnknownAttributeError
from .identity_map import IdentityMap
from .loader import Loader
from .merge import Merger
from .plugin import discover
from .query import ast, bind, parse
from .query_result import QueryResult
from .schema import Kind, Schema
from .session_account import SessionAccount
from .session_files import SessionFiles
from .symbol import NOT_SET, State
from .transport import Transport, transport_for
from .unit_of_work import (
    CreateEntityOperation,
    DeleteEntityOperation,
    Identity,
    Operations,
    UpdateEntityOperation,
    batch_limits,
    chunked,
)

__all__ = ["Session", "schema_cache_folder"]

log = logging.getLogger(__name__)


class Session(SessionAccount, SessionFiles):
    """A connection to a studio's data: query, create, change, delete, commit.

    ``server_url`` (or ``FTRACK_SERVER``) is a database URL for the embedded mode —
    ``sqlite:///studio.db`` (a new file is created and seeded, with an ``admin`` user),
    ``postgresql://…`` — and the session acts as ``api_user`` (or ``FTRACK_API_USER``).
    ``http(s)://`` URLs reach a server (``ftrack-like serve``) with ``api_key`` (or
    ``FTRACK_API_KEY``/``FTRACK_APIKEY``), or a ``token`` from
    :func:`ftrack_like_api.signin`, waiting at most ``timeout`` seconds (connect, read).
    With ``auto_populate`` off, a value never fetched reads as ``NOT_SET``. Plugins under
    ``plugin_paths`` (or ``FTRACK_EVENT_PLUGIN_PATH``) register when the session is made,
    with the ``plugin_arguments`` they accept. ``page_size`` is the rows a query asks
    for a page (None: a first page of 500, then pages four times larger up to 10,000 —
    see :class:`~ftrack_like_api.query_result.QueryResult`). ``chunk_size``
    splits a large commit into batches of that many operations (each atomic on its own).
    With ``check_conflicts``, a commit fails with :class:`~ftrack_like_api.exceptions.ConflictError`
    instead of overwriting a value someone changed since this session read it (our server
    only; off by default, as ftrack has no such check). With ``pause_gc`` (the default),
    Python's cyclic garbage collector is paused while the session merges an answer of 1,000
    rows or more, plans a commit or settles a batch of as many operations — stretches of its
    own Python work, tens of milliseconds for 10,000 rows, never while it waits on the
    network; the collector is the process's, so another thread goes without it for as long
    (it runs little meanwhile: the merge holds the GIL). ``pause_gc=False`` never touches it
    (see docs/howto/open-session.rst). With
    ``auto_connect_event_hub``, ``event_hub`` connects to the server's event log in the
    background (see :mod:`ftrack_like_api.event.hub`). Given no key nor token, a session on a
    server uses the sign-in ``ftrack-like login`` kept (with no ``server_url``: the server
    signed in to last); ``reauthenticate(session)`` answers a new token when that expires.
    ``proxy`` (or ``FTRACK_LIKE_PROXY``) sends everything through a proxy: ``socks5://host:1080``.
    """

    def __init__(
        self,
        server_url: str | None = None,
        api_key: str | None = None,
        api_user: str | None = None,
        auto_populate: bool = True,
        plugin_paths: Sequence[str] | str | None = None,
        plugin_arguments: Mapping[str, Any] | None = None,
        schema_cache_path: str | os.PathLike[str] | bool | None = None,
        cache: MutableMapping[str, Any] | Callable[[Session], MutableMapping[str, Any]] | None = None,
        cache_key_maker: KeyMaker | None = None,
        transport: Transport | None = None,
        token: Any = None,
        timeout: float | tuple[float, float] = (10.0, 300.0),
        page_size: int | None = None,
        chunk_size: int | None = None,
        check_conflicts: bool = False,
        auto_connect_event_hub: bool = False,
        pause_gc: bool = True,
        reauthenticate: Callable[[Session], Any] | None = None,
        proxy: str | None = None,
    ) -> None:
        self.server_url = server_url or os.environ.get("FTRACK_SERVER")
        self.api_user = api_user or os.environ.get("FTRACK_API_USER")
        self.api_key = api_key or os.environ.get("FTRACK_API_KEY") or os.environ.get("FTRACK_APIKEY")
        if token is None and not self.api_key and transport is None:
            kept = kept_sign_in(self.server_url, self.api_user)  # what `ftrack-like login` kept
            if kept is not None:
                self.server_url, token = kept.server_url, kept
                self._kept_sign_in = True
        if token is not None and not self.api_user:
            self.api_user = getattr(token, "username", None)
        if transport is None:
            transport = transport_for(self.server_url, self.api_user, self.api_key, timeout, token, proxy)
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        self.transport = transport
        self.reauthenticate = reauthenticate
        self._renewing = threading.Lock()
        if hasattr(transport, "renew"):  # its event and file channels sign in again through the session
            transport.renew = self._signed_in_again
        self.auto_populate = auto_populate
        self.record_operations = True
        self.page_size = page_size
        self.chunk_size = chunk_size
        #: Whether a commit sends the values its updates replace, for the server to check.
        self.check_conflicts = check_conflicts
        #: Whether merging a query's answer, and a commit, pause the cyclic garbage collector (process-wide).
        self.pause_gc = pause_gc
        self.identity_map = IdentityMap()
        self.recorded_operations = Operations()
        self._merger = Merger(self)
        self._lock = threading.RLock()
        if schema_cache_path is None:
            schema_cache_path = os.environ.get("FTRACK_API_SCHEMA_CACHE_PATH") or schema_cache_folder()
        #: Where the server's schemas are kept between sessions (None: not kept).
        self.schema_cache_path = None if schema_cache_path is False else os.path.expanduser(os.fspath(schema_cache_path))  # type: ignore[arg-type]
        schema_cache = None if self.schema_cache_path is None else SchemaFileCache(self.schema_cache_path, str(self.server_url))
        #: What fetches: the schemas, query pages, values never fetched, entities from the cache.
        self.loader = Loader(self, self._merger, self._lock, schema_cache)
        #: Where entities' server values are kept beyond the identity map (None: nowhere).
        self.cache = cache(self) if callable(cache) and not isinstance(cache, MutableMapping) else cache
        self.cache_key_maker = cache_key_maker or StringKeyMaker()
        #: Events: subscribe, publish, connect to the server's event log (:class:`~.event.hub.EventHub`).
        self.event_hub = EventHub(transport, self.api_user)
        #: The plugin files registered with this session.
        self.plugins = discover(plugin_paths, self, plugin_arguments)
        if auto_connect_event_hub:
            # In the background, as ftrack's: the session is usable at once; it keeps trying.
            self.event_hub.connect(timeout=None)

    # --- what the server is ---------------------------------------------------------------------

    @property
    def server_information(self) -> dict[str, Any]:
        """What the server says of itself (version, schema hash, …): one call, the schemas not loaded."""
        return self.loader.information()

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """The server's ``query_schemas`` answer."""
        return self.loader.server().schemas

    @property
    def types(self) -> dict[str, type[Entity]]:
        """The entity classes, by type name, built from the schemas."""
        return self.loader.server().types

    def _type(self, name: str) -> type[Entity]:
        cls = self.types.get(name)
        if cls is None:
            raise UnknownAttributeError(f"Unknown entity type {name!r}{Schema.suggest(name, self.types)}")
        return cls

    def call(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Send a batch of wire-format operations as it is; the results."""
        return self._sent(batch)

    def reset_remote(self, reset_type: str, entity: Entity | None = None) -> Any:
        """A reset the server carries out at once, as ftrack's: an attribute of ``entity`` back to its
        default (``reset_type`` names it), or ``"api_key"`` for a user (``{"api_key": …}``)."""
        operation: dict[str, Any] = {"action": "reset_remote", "reset_type": reset_type}
        if entity is not None:
            operation.update(entity_type=entity.entity_type, entity_key=list(entity.primary_key.values()))
        return self.call([operation])[0]["data"]

    # --- reading ----------------------------------------------------------------------------------

    def query(self, expression: str, page_size: int | None = None, **values: Any) -> QueryResult:
        """The entities ``expression`` finds, fetched lazily; ``:name`` parameters take ``values``.

        Entities given as values stand for their primary key.
        """
        query = parse(expression)
        if values:
            log.debug("query %s with %r", expression, values)
            query = bind(query, {name: self._key_value(value) for name, value in values.items()})
        self._type(query.entity_type)
        return QueryResult(self, query, page_size or self.page_size)

    def _key_value(self, value: Any) -> Any:
        if isinstance(value, Entity):
            key = value.identity[1]
            return key[0] if len(key) == 1 else list(key)
        if isinstance(value, (list, tuple, set)):
            return [self._key_value(item) for item in value]
        return value

    def fetch(self, query: ast.Query) -> tuple[list[Entity], int | None]:
        """Run one page of a query: its entities, and the offset of the next page (None at the end).

        A query with aggregates (``select count(id), status_id … group by status_id``)
        gives rows, not entities: plain dicts keyed ``count_id``, ``status_id``.
        """
        return self.loader.fetch(query)

    def merge(self, value: Any) -> Any:
        """Bring entities into this session: wire-format data, an entity of another session, or lists of them.

        Only the values present are merged; values changed here and not committed stay.
        """
        if isinstance(value, Entity):
            if value.session is self:
                return value
            return self.merge(self.loader.server_data(value))
        if isinstance(value, Mapping) and "__entity_type__" in value:
            with self._lock:
                return self._merger.merge(value)
        if isinstance(value, (list, tuple)):
            return [self.merge(item) for item in value]
        return value

    # --- the cache ---------------------------------------------------------------------------------

    def cache_key(self, entity_type: str, key: Sequence[Any]) -> str:
        """The cache key of an entity: server, type and primary key, by ``cache_key_maker``."""
        return self.cache_key_maker.key(self.server_url, entity_type, *key)

    def get(self, entity_type: str, key: Any) -> Entity | None:
        """The entity of ``entity_type`` with primary key ``key`` (a value, a list or a mapping), or None."""
        cls = self._type(entity_type)
        names = cls.schema.primary_key
        values = [key[n] for n in names] if isinstance(key, Mapping) else list(key) if isinstance(key, (list, tuple)) else [key]
        if len(values) != len(names):
            raise ValueError(f"{entity_type} is keyed by {', '.join(names)}, not {key!r}")
        return self.loader.get(entity_type, names, values)

    def populate(self, entities: Entity | Sequence[Entity], projections: str) -> None:
        """Fetch ``projections`` (``"name, status.name"``) for ``entities``: one query per type and chunk."""
        self.loader.populate([entities] if isinstance(entities, Entity) else list(entities), projections)

    # --- changing ---------------------------------------------------------------------------------

    def create(self, entity_type: str, data: Mapping[str, Any] | None = None) -> Entity:
        """A new entity, recorded for the next commit; defaults apply (``{uid}`` is a new uuid)."""
        cls = self._type(entity_type)
        schema = cls.schema
        entity = cls(self)
        values: dict[str, Any] = {}
        for attribute in schema.attributes.values():
            if attribute.kind is Kind.SCALAR and attribute.has_default and not attribute.computed:
                values[attribute.name] = str(uuid.uuid4()) if attribute.default == "{uid}" else attribute.default
        for name, value in (data or {}).items():
            attribute = entity.attribute(name)
            if attribute.computed:
                raise ImmutableAttributeError(f"{entity_type}.{name} is computed by the server and cannot be set")
            values[name] = entity._checked(attribute, value)
        state = EntityState(entity)
        for name, value in values.items():
            state.set_local(name, value)
        if any(state.local.get(k) is None for k in schema.primary_key):
            raise ValueError(f"{entity_type} needs {', '.join(schema.primary_key)} to be created")
        with self._lock:
            if entity.identity in self.identity_map:
                raise ValueError(f"{entity!r} exists in this session already")
            self.identity_map.add(entity)
            self.identity_map.hold(entity)
            self._record(CreateEntityOperation(entity_type, entity.primary_key, dict(values)))
        return entity

    def ensure(
        self, entity_type: str, data: Mapping[str, Any], identifying_keys: Sequence[str] | None = None
    ) -> Entity:
        """The entity of ``entity_type`` matching ``data`` on ``identifying_keys`` (default: every key).

        Found: its other keys are set from ``data`` where they differ. Not found: it is
        created from ``data``. Values are bound into the query, never formatted into it.
        As ftrack's ``ensure``, a create or a change is committed at once — with everything
        else pending in the session — so a second ``ensure`` of the same data finds it.
        """
        keys = list(identifying_keys) if identifying_keys is not None else list(data)
        if not keys:
            raise ValueError("ensure needs at least one identifying key")
        missing = [key for key in keys if key not in data]
        if missing:
            raise ValueError(f"identifying keys {missing} have no value in data")
        condition = " and ".join(
            f"{key} is None" if data[key] is None else f"{key} is :v{index}" for index, key in enumerate(keys)
        )  # fmt: skip
        values = {f"v{index}": data[key] for index, key in enumerate(keys) if data[key] is not None}
        found = self.query(f"{entity_type} where {condition}", **values).first()
        if found is None:
            made = self.create(entity_type, data)
            self.commit()
            return made
        changed = False
        for key, value in data.items():
            if key not in keys and found[key] != value:
                found[key] = value
                changed = True
        if changed:
            self.commit()
        return found

    def delete(self, entity: Entity) -> None:
        """Delete ``entity`` on the next commit."""
        with self._lock:
            self.identity_map.hold(entity)
            self._record(DeleteEntityOperation(entity.entity_type, entity.primary_key))

    def record_update(self, entity: Entity, name: str, old: Any, new: Any) -> None:
        """Record that one attribute of ``entity`` changed (entities call this)."""
        kind = entity.schema.attributes[name].kind
        remote = EntityState(entity).remote.get(name, NOT_SET) if kind in (Kind.SCALAR, Kind.REFERENCE) else NOT_SET
        with self._lock:
            self.identity_map.hold(entity)  # a change not committed yet: kept until commit or rollback
            self._record(UpdateEntityOperation(entity.entity_type, entity.primary_key, name, old, new, remote))

    def _record(self, operation: Any) -> None:
        if self.record_operations:
            self.recorded_operations.push(operation)

    def state(self, entity: Entity) -> State:
        """Where ``entity`` stands: created, modified, deleted here, or unchanged."""
        return self.recorded_operations.state(entity.identity)

    def _entities_in(self, state: State) -> list[Entity]:
        found = []
        for identity in self.recorded_operations.entities():
            entity = self.identity_map.get(identity)
            if entity is not None and self.recorded_operations.state(identity) is state:
                found.append(entity)
        return found

    @property
    def created(self) -> list[Entity]:
        return self._entities_in(State.CREATED)

    @property
    def modified(self) -> list[Entity]:
        return self._entities_in(State.MODIFIED)

    @property
    def deleted(self) -> list[Entity]:
        return self._entities_in(State.DELETED)

    def commit(self) -> None:
        """Send every recorded change, then forget them: in one batch, or several when it is large.

        A batch holds at most what the server takes (its ``max_operations`` and ``max_body``;
        a server that does not say gets 10,000 operations and 16 MiB), and at most
        ``chunk_size`` operations when the session has one. Each batch is one transaction
        and carries its own idempotency key. If the server refuses one, nothing of that
        batch is stored and a ServerError says which operation and why; the batches before
        it are stored and settled here, and every change of that batch and the ones after
        it is still recorded: fix it and commit again, or ``rollback()``. With
        ``check_conflicts``, a value changed on the server since this session read it is a
        ConflictError: read it again, set it, and commit.
        """
        with self._lock:
            with collector.paused_for(len(self.recorded_operations), self.pause_gc):
                batch = self.recorded_operations.plan(wire.encode_value, expect=self.check_conflicts)
            if not batch:
                return
            chunks = chunked(batch, *batch_limits(self.server_information, self.chunk_size))
            settled: list[Identity] = []
            try:
                for index, chunk in enumerate(chunks):
                    try:
                        results = self.call(chunk)
                    except Exception:
                        if len(chunks) > 1:
                            log.warning("commit: batch %d of %d failed; %d operation(s) before it are stored, %d stay "
                                        "pending", index + 1, len(chunks), sum(map(len, chunks[:index])),
                                        sum(map(len, chunks[index:])))  # fmt: skip
                        raise
                    with collector.paused_for(len(chunk), self.pause_gc):  # not while the batch was on the wire
                        touched = self._committed(chunk, results, settled)
                        if self.cache is not None:
                            self.loader.keep(touched)  # what changed, not the whole session: cost follows the change
            finally:
                # Once for the whole commit, however many batches: cost follows its size.
                self.recorded_operations.discard(settled)

    def _committed(self, chunk: list[dict[str, Any]], results: list[Any], settled: list[Identity]) -> list[Entity]:
        """Settle what one committed batch changed (its entities go into ``settled``); the entities
        still in the session it touched."""
        touched = []
        for operation, result in zip(chunk, results):
            identity = (operation["entity_type"], tuple(operation["entity_key"]))
            entity = self.identity_map.get(identity)
            if operation["action"] == "delete":
                self.identity_map.discard(identity)
                if self.cache is not None:
                    self.cache.pop(self.cache_key(*identity), None)
            elif entity is not None:
                EntityState(entity).commit()
                self.identity_map.release(identity)
                data = result.get("data") if isinstance(result, dict) else None
                if isinstance(data, dict) and "__entity_type__" in data:
                    self._merger.merge(data)
                touched.append(entity)
            settled.append(identity)
        return touched

    def rollback(self) -> None:
        """Forget every recorded change: created entities go, changed ones read as the server has them."""
        with self._lock:
            for identity in self.recorded_operations.entities():
                entity = self.identity_map.get(identity)
                if entity is None:
                    continue
                if self.recorded_operations.state(identity) is State.CREATED:
                    self.identity_map.discard(identity)  # it keeps its values, but leaves the session
                else:
                    EntityState(entity).rollback()
                    self.identity_map.release(identity)
            self.recorded_operations.clear()

    def reset(self) -> None:
        """Forget everything: recorded changes and every entity seen (the schemas stay)."""
        with self._lock:
            self.rollback()
            self.identity_map.clear()
            self.forget_locations()

    def close(self) -> None:
        """Disconnect the event hub (after sending what it holds) and let go of the transport's connections."""
        self.event_hub.disconnect()
        self.transport.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- modes ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def auto_populating(self, enabled: bool) -> Iterator[None]:
        """Auto-populate on or off inside the block."""
        before, self.auto_populate = self.auto_populate, enabled
        try:
            yield
        finally:
            self.auto_populate = before

    @contextlib.contextmanager
    def operation_recording(self, enabled: bool) -> Iterator[None]:
        """Record changes as operations, or not, inside the block."""
        before, self.record_operations = self.record_operations, enabled
        try:
            yield
        finally:
            self.record_operations = before

    # --- encoding -----------------------------------------------------------------------------------

    def encode_value(self, value: Any) -> Any:
        """A value as the wire carries it: entities as references, datetimes and dates tagged."""
        return wire.encode_value(value)

    def encode(self, data: Any) -> str:
        """``data`` as JSON text, entities as references."""
        return wire.encode(data)

    def decode(self, text: str) -> Any:
        """JSON text from :meth:`encode` or the server: entities merged into this session."""
        with self._lock:
            return wire.decode(text, entity=self._merger.merge)

    def __repr__(self) -> str:
        return f"<Session {self.server_url!r} as {self.api_user!r}>"
