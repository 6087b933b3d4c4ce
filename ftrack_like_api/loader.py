"""Loading: the server's schemas, query pages, values never fetched on first read, the entity cache.

A session's :class:`Loader` loads the schemas on first use (from the schema file cache
when it has them) and builds the entity classes, runs a page of a query and merges it, fetches what an
entity lacks (with the same attribute of every entity that came in the same answer, in
one round trip), and keeps the server values of what it merged in the session's
``cache`` when it has one, reading them back before asking the server.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple, Sequence

from . import collector
from .cache import SchemaFileCache
from .entity import Entity, EntityState, build_types
from .event.base import Event
from .query import ast, bind, parse, render
from .exceptions import TransportError
from .schema import Kind, Schema
from .symbol import NOT_SET, State
from .wire import decode_value, encode_value

if TYPE_CHECKING:
    from .merge import Listing, Merger
    from .session import Session

__all__ = ["CONSTRUCT_ENTITY_TYPE", "Loader", "POPULATE_CHUNK", "Page", "Server"]

log = logging.getLogger(__name__)

#: Published once per entity type as the classes are built; a subscriber may answer with the class to use.
CONSTRUCT_ENTITY_TYPE = "ftrack.api.session.construct-entity-type"

#: How many entities one populate query asks for at most.
POPULATE_CHUNK = 500


class Server(NamedTuple):
    """What a server is: its ``query_server_information`` and ``query_schemas`` answers, and the classes built."""

    information: dict[str, Any]
    schemas: list[dict[str, Any]]
    types: dict[str, type[Entity]]


class Page(NamedTuple):
    """One page of a query: its entities, and where the next starts (both None at the end)."""

    entities: list[Entity]
    #: ftrack's: how many rows to skip for the next page.
    offset: int | None
    #: Ours: the cursor of the last row, for reading the next page by key (None from servers without it).
    after: str | None


class Loader:
    """Fetches for one session: the schemas, query pages, missing attributes, cached entities."""

    def __init__(self, session: Session, merger: Merger, lock: threading.RLock, schema_cache: SchemaFileCache | None = None) -> None:
        self.session = session
        self.merger = merger
        self.schema_cache = schema_cache
        self._lock = lock
        self._server: Server | None = None
        self._information: dict[str, Any] | None = None

    def server(self) -> Server:
        """The server's information, schemas and entity classes: fetched on first use, then kept."""
        server = self._server
        if server is None:
            with self._lock:
                if self._server is None:
                    self._server = self._load()
                server = self._server
        return server

    def information(self) -> dict[str, Any]:
        """The server's ``query_server_information`` answer: one call the first time (the schemas wait)."""
        if self._server is not None:
            return self._server.information
        with self._lock:
            if self._information is None:
                self._information = self.session.call([{"action": "query_server_information"}])[0]
            return self._information

    def _load(self) -> Server:
        call = self.session.call
        information = self.information()
        schema_hash = str(information.get("schema_hash", ""))
        schemas = None if self.schema_cache is None else self.schema_cache.get(schema_hash)
        if schemas is None:
            schemas = call([{"action": "query_schemas"}])[0]
            if self.schema_cache is not None:
                self.schema_cache.put(schema_hash, schemas)
        by_name = {schema["id"]: schema for schema in schemas}
        types = build_types(Schema.from_ftrack(schemas), construct=lambda name, made: self._construct(name, made, by_name))
        return Server(information, schemas, types)

    def _construct(self, name: str, made: type[Entity], schemas: Mapping[str, Any]) -> type[Entity]:
        """The class for ``name``: a plugin's, if one answers the construct-entity-type event."""
        event = Event(CONSTRUCT_ENTITY_TYPE, data={"schema": schemas[name], "schemas": schemas, "default": made})
        for answer in self.session.event_hub.publish(event, synchronous=True):
            if isinstance(answer, type) and issubclass(answer, Entity):
                return answer
            log.warning("a %s subscriber answered %r, which is not an Entity class; ignored", CONSTRUCT_ENTITY_TYPE, answer)
        return made

    def fetch(self, query: ast.Query) -> tuple[list[Entity], int | None]:
        """Run one page of a query: its entities, and the offset of the next page (None at the end).

        A query with aggregates gives rows, not entities: plain dicts keyed ``count_id``, ``status_id``.
        """
        page = self.page(query)
        return page.entities, page.offset

    def page(self, query: ast.Query, after: str | None = None) -> Page:
        """Run one page of a query, from just after the row the cursor ``after`` names when given.

        ``after`` is the ``after`` of the previous :class:`Page`: a wire extension (see
        docs/reference/protocol.rst) that servers speaking only ftrack's protocol never give.
        """
        return self.read(query, self.ask(query, after))

    def ask(self, query: ast.Query, after: str | None = None, listing: tuple[str, int] | None = None) -> Mapping[str, Any]:
        """The server's answer to one page of a query, as it came (see :meth:`page`); nothing merged.

        ``listing``: (its token, how many referenced entities the answers to its earlier pages
        included), when the page is one of a listing whose every page is kept (``all()``): a
        server that has ``compact_listings`` then refers to those entities by their places
        instead of sending them again (see server/engine/listings.py).
        """
        operation: dict[str, Any] = {"action": "query", "expression": render(query)}
        if after is not None:
            operation["after"] = after
        information = self.information()
        if information.get("compact_answers") is True:  # ours: see server/engine/compact.py
            operation["compact"] = True
            if listing is not None and information.get("compact_listings") is True:
                operation["listing"], operation["known"] = listing
        return _checked(self.session.call([operation])[0])

    def listed(self, listing: tuple[str, int], answer: Mapping[str, Any]) -> tuple[str, int]:
        """``listing`` once its client holds ``answer`` too: the referenced entities it included counted."""
        base = answer.get("included_base")
        if base is None:  # a server that sends each page in full
            return listing
        return listing[0], base + len(answer.get("included") or ())

    @staticmethod
    def following(answer: Mapping[str, Any]) -> tuple[int | None, str | None]:
        """Where the page after ``answer`` starts: its offset and its cursor (None, None at the end)."""
        following = answer["metadata"]["next"]
        return following.get("offset"), following.get("after")

    def read(self, query: ast.Query, answer: Mapping[str, Any], listing: Listing | None = None) -> Page:
        """The :class:`Page` of ``answer``, the answer to a page of ``query``: its entities merged
        (``listing``: shared by the pages of one listing, see :meth:`.Merger.merge_all`)."""
        offset, cursor = self.following(answer)  # an answer :meth:`ask` gave: checked there
        if any(isinstance(projection, ast.Aggregate) for projection in query.projections):
            rows = [{key: decode_value(value) for key, value in row.items()} for row in answer["data"]]
            return Page(rows, offset, cursor)  # type: ignore[arg-type]
        with self._lock, collector.paused_for(len(answer["data"]), self.session.pause_gc):
            cache = self.session.cache is not None
            entities, touched = self.merger.merge_all(
                answer["data"], listing, touched=cache, included=answer.get("included"), base=answer.get("included_base")
            )  # fmt: skip
            if cache:
                self.keep(touched)
        return Page(entities, offset, cursor)

    def get(self, entity_type: str, names: Sequence[str], values: list[Any]) -> Entity | None:
        """The entity keyed ``names`` = ``values``: from the identity map, the cache, or the server."""
        known = self.session.identity_map.get((entity_type, tuple(values))) or self.from_cache(entity_type, values)
        if known is not None:
            return known
        condition = " and ".join(f"{name} is :k{index}" for index, name in enumerate(names))
        return self.session.query(f"{entity_type} where {condition}", **{f"k{i}": v for i, v in enumerate(values)}).first()

    def populate(self, entities: Iterable[Entity], projections: str) -> None:
        """Fetch ``projections`` for ``entities``: one query per type and chunk; new entities are skipped."""
        by_type: dict[str, list[Entity]] = {}
        for entity in entities:
            if self.session.state(entity) is not State.CREATED:
                by_type.setdefault(entity.entity_type, []).append(entity)
        for entity_type, members in by_type.items():
            names = self.session.types[entity_type].schema.primary_key
            for start in range(0, len(members), POPULATE_CHUNK):
                chunk = members[start : start + POPULATE_CHUNK]
                if len(names) == 1:
                    query = parse(f"select {projections} from {entity_type} where {names[0]} in :keys")
                    query = bind(query, keys=[e.identity[1][0] for e in chunk])
                else:
                    query = self._composite(entity_type, projections, names, chunk)
                self.fetch(query)

    @staticmethod
    def _composite(entity_type: str, projections: str, names: Sequence[str], chunk: list[Entity]) -> ast.Query:
        clauses, values = [], {}
        for row, entity in enumerate(chunk):
            parts = []
            for column, (name, value) in enumerate(zip(names, entity.identity[1])):
                values[f"v{row}_{column}"] = value
                parts.append(f"{name} is :v{row}_{column}")
            clauses.append(f"({' and '.join(parts)})")
        return bind(parse(f"select {projections} from {entity_type} where {' or '.join(clauses)}"), values)

    def populate_on_read(self, entity: Entity, name: str) -> Any:
        """A value read but never fetched: fetch it, with the same attribute of the entity's group."""
        session = self.session
        if not session.auto_populate or session.state(entity) is State.CREATED:
            return NOT_SET
        state = EntityState(entity)
        wanted = [e for e in self.siblings(entity) if EntityState(e).missing(name) and session.state(e) is not State.CREATED]
        if entity not in wanted:
            wanted.append(entity)
        if session.cache is not None:
            for member in wanted:
                self.from_cache(member.entity_type, member.identity[1])
            wanted = [e for e in wanted if name not in EntityState(e).remote]
            if not wanted:
                return state.remote.get(name, NOT_SET)
        attribute = entity.attribute(name)
        if attribute.kind is Kind.MAPPED:
            target = session.types[attribute.target].schema  # type: ignore[index]
            projection = f"{name}.{attribute.key}, {name}.{attribute.value}"
            if target.primary_key:
                projection += "".join(f", {name}.{k}" for k in target.primary_key)
        else:
            projection = name
        self.populate(wanted, projection)
        return state.remote.get(name, NOT_SET)

    def siblings(self, entity: Entity) -> list[Entity]:
        """The entities of ``entity``'s type that came in the same answer and are still in the session."""
        group = EntityState(entity).group
        if group is None:
            return [entity]
        lookup, entity_type = self.session.identity_map.lookup, entity.entity_type
        return [sibling for sibling in (lookup(entity_type, key) for key in group) if sibling is not None]

    # --- the cache ---------------------------------------------------------------------------------

    def keep(self, entities: Iterable[Entity]) -> None:
        """Write the server values of ``entities`` into the cache."""
        session = self.session
        kept = {session.cache_key(entity.entity_type, entity.identity[1]): self.server_data(entity) for entity in entities}
        if kept:
            session.cache.update(kept)  # type: ignore[union-attr]

    def from_cache(self, entity_type: str, key: Sequence[Any]) -> Entity | None:
        """The entity as the cache has it (merged into the session), or None."""
        cache = self.session.cache
        if cache is None:
            return None
        try:
            data = cache[self.session.cache_key(entity_type, key)]
        except KeyError:
            return None
        with self._lock:
            return self.merger.merge(data)

    @staticmethod
    def server_data(entity: Entity) -> dict[str, Any]:
        """The server values of ``entity`` in wire format, as a query answer carries them."""
        data = {"__entity_type__": entity.entity_type}
        data.update((name, encode_value(value)) for name, value in EntityState(entity).remote.items())
        return data


def _checked(answer: Any) -> Mapping[str, Any]:
    """``answer``, an answer to a query, if it has what a page needs: its rows and where the next starts."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("data"), list):
        raise TransportError(f"The server's answer to a query holds no list of rows: {answer!r:.80}")
    following = answer.get("metadata")
    if not isinstance(following, Mapping) or not isinstance(following.get("next"), Mapping):
        raise TransportError(f"The server's answer to a query says nothing of the next page: {answer!r:.80}")
    return answer
