"""Server data → the session's entities, field by field, only for the fields present.

Merging never touches a value changed in the session and not committed: those live
apart (an entity's local values) and keep winning on read until commit or rollback.
Entities that arrive in one answer are grouped by type, so reading an attribute none
of them has fetches it for the whole group in one round trip. A group holds its
members' keys, not the members: an entity nobody refers to any more can go. Each
entity's server values are one tuple in a layout its answer's entities share (see
:mod:`.entity.layout`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

from weakref import ref as weakref

from .entity import EntityState
from .entity.state import NO_LOCAL
from .entity.layout import Layout, Shape
from .exceptions import TransportError
from .schema import Kind
from .wire import decode_value

if TYPE_CHECKING:
    from .entity import Entity
    from .session import Session

__all__ = ["Merger"]


class _Answer:
    """What the entities of one answer share while it is merged: per type, the keys (the
    group) and the shapes by layout; one copy of each short string that repeats in it; and
    the listing it is a page of, if any (see :meth:`Merger.merge_all`)."""

    __slots__ = ("types", "strings", "listing", "included", "made", "base", "placed")

    def __init__(self, listing: Listing | None = None, included: list[Any] | None = None, base: int | None = None) -> None:
        self.types: dict[Any, tuple[list[Any], dict[Layout, Shape]]] = {}
        self.strings: dict[str, str] = {}
        self.listing = listing
        #: A compact answer's referenced entities, each written once; a reference is its place here.
        self.included = included
        #: The entity merged for each place of ``included``, once it was.
        self.made: list[Entity | None] = [None] * len(included) if included else []
        #: A page of a named listing: where its ``included`` starts among the listing's places,
        #: and the entities of the places before (its earlier pages'), by place.
        self.base = base or 0
        self.placed: dict[Any, Entity] | None = None
        if base is not None:
            if listing is None:
                raise TransportError("The server sent a page of a listing to a query that is not one")
            self.placed = listing.setdefault(PLACED, {})


#: Where a listing keeps the entities its pages' compact answers placed, by place (see _Answer.placed).
PLACED = "\0placed"


#: The referenced entities a listing's pages have written in full so far: type -> key -> the
#: entity (no tuple per entry: each would be one more object for the cyclic collector to walk,
#: 15,000 of them in a 75,000-task listing). Whether it came with the same fields is told by
#: its layout, the one its row gave it.
Listing = dict[Any, dict[Any, "Entity"]]


class _Row(NamedTuple):
    """How to merge rows with one type's fields in one order, worked out once per type and fields."""

    #: The layout of the known fields.
    layout: Layout
    #: The kind of each field (None: not an attribute, skipped).
    kinds: tuple[int | None, ...]
    #: Rows that start with ``__entity_type__`` and hold attributes only, none a collection
    #: (most rows): their values, as they come, are the entity's data once the first (the
    #: type's name) is replaced by the shape; then only these positions need work —
    #: the scalars (a short string shared, an encoded value decoded) and the references.
    straight: bool
    scalars: tuple[int, ...]
    references: tuple[int, ...]


class _Plan(NamedTuple):
    """How to merge one type, worked out once: its class, key names, and each field's kind."""

    cls: type[Entity]
    key_names: tuple[str, ...]
    kinds: dict[str, int]
    #: The fields of a row, in order (as the server sends them) -> how to merge such rows.
    rows: dict[tuple[str, ...], _Row]


class Merger:
    """Folds wire-format entities into one session's identity map."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._plans: dict[Any, _Plan] = {}
        #: The shape of entities that came in no answer (made here, or merged alone).
        self.loose = Shape(session)

    def merge_all(
        self,
        items: list[Mapping[str, Any]],
        listing: Listing | None = None,
        touched: bool = True,
        included: list[Any] | None = None,
        base: int | None = None,
    ) -> tuple[list[Entity], list[Entity]]:
        """Merge the entities of one answer; they form one group per type.

        The entities of the answer, and every entity it changed, nested ones included
        (``touched`` False: an empty list instead, for a caller that does not need them —
        looking each one up again costs a tenth of the merge).
        ``listing`` (one dict for all the pages of one listing, empty at first): a referenced
        entity an earlier page wrote in full with the same fields is not merged again — as
        within one answer, where the server writes it in full once. A page is an answer of
        its own, so a shot whose tasks fall on four pages comes in full four times.
        ``included``: a compact answer's referenced entities (see :meth:`_included`); ``base``: where
        they start among the places of ``listing``, a page of which the answer is (its earlier pages'
        entities are referred to by their places, not sent again).
        """
        answer = _Answer(listing, included, base)
        merged = self._merge_rows(items, answer)
        placed = answer.placed
        if placed is not None:  # the next pages may refer to this one's included entities by their places
            made, start = answer.made, answer.base
            for offset in range(len(made)):
                entity = made[offset]
                placed[start + offset] = entity if entity is not None else self._included(start + offset, answer)
        if not touched:
            return merged, []
        lookup = self.session.identity_map.lookup
        changed = [
            lookup(entity_type, key) for name, (keys, _) in answer.types.items()
            for entity_type in (self._plan(name).cls.entity_type,) for key in keys
        ]  # fmt: skip
        return merged, changed  # type: ignore[return-value]

    def _merge_rows(self, items: list[Mapping[str, Any]], answer: _Answer) -> list[Entity]:
        """:meth:`merge` of each of ``items``, the rows of one answer, in order.

        The rows of a large answer come with the same fields, in the same order, and most are
        entities the session does not hold yet: for those, what :meth:`merge` works out per row
        (plan, row, key, shape, group, the identity map's dict) is worked out once per run of
        rows alike, and a compact reference is looked up once per entity referred to, not per row.
        Any other row goes through :meth:`merge`.
        """
        merged: list[Entity] = []
        keep = merged.append
        merge = self.merge
        fields: tuple[str, ...] | None = None
        name: Any = None
        fast = False
        strings = answer.strings
        share = strings.setdefault
        found: dict[int, Entity] = {}  # a compact reference -> its entity, once met (this page's or an earlier one's)
        included = self._included
        reference_of = self._reference
        identity_map = self.session.identity_map
        died = identity_map.died
        try:
            for data in items:
                if type(data) is not dict:
                    if not isinstance(data, Mapping):
                        raise TransportError(f"The server sent {type(data).__name__} {data!r:.60} where an entity goes")
                    keep(merge(data, answer))
                    continue
                these, kind = tuple(data), data.get("__entity_type__")
                if these != fields or kind != name:  # a run of rows alike begins (the names are one object each: quick)
                    fields, name = these, kind
                    plan = self._plans.get(name) or self._plan(name)
                    row = plan.rows.get(these) or self._row(plan, these)
                    fast = row.straight and len(plan.key_names) == 1 and plan.key_names[0] in these
                    if fast:
                        at = these.index(plan.key_names[0])
                        cls, scalars, references = plan.cls, row.scalars, row.references
                        new = cls.__new__
                        entities = identity_map.of_type(cls.entity_type)
                        group, shapes = answer.types.get(name) or answer.types.setdefault(name, ([], {}))
                        shape = shapes.get(row.layout) or shapes.setdefault(row.layout, Shape(self.session, row.layout, group))
                        joined = group.append
                if not fast:
                    keep(merge(data, answer))
                    continue
                values = list(data.values())
                bare = values[at]
                reference = entities.get(bare)
                if bare is None or (reference is not None and reference() is not None):
                    keep(merge(data, answer))  # held already: its values merged into it, as merge() does
                    continue
                for position in scalars:
                    value = values[position]
                    if type(value) is str:
                        if len(value) <= _SHARE_UP_TO:
                            values[position] = share(value, value)
                    elif type(value) is dict:
                        values[position] = decode_value(value)
                for position in references:
                    value = values[position]
                    if type(value) is int:
                        entity = found.get(value)
                        if entity is None:
                            entity = found[value] = included(value, answer)
                        values[position] = entity
                    elif value is not None:
                        values[position] = reference_of(value, answer)
                if references and entities.get(bare) is not reference:  # a reference brought this very entity in
                    keep(merge(data, answer))
                    continue
                entity = new(cls)  # as EntityState.new makes one, without the call
                values[0] = shape
                entity._data = tuple(values)
                entity._local = NO_LOCAL
                entities[bare] = weakref(entity, died)
                joined(bare)
                keep(entity)
        finally:  # the identity map told of the keys put straight into it, a row failing or not
            identity_map.grew()
        return merged

    def _plan(self, name: Any) -> _Plan:
        plan = self._plans.get(name)
        if plan is None:
            cls = self.session.types.get(name)
            if cls is None:
                raise TransportError(f"The server sent an entity of type {name!r}, which its schemas do not have")
            kinds = {a.name: _HOW[a.kind] for a in cls.schema.attributes.values()}
            for key in cls.schema.primary_key:  # unique per entity: nothing to share
                kinds[key] = _UNSHARED
            plan = self._plans[name] = _Plan(cls, cls.schema.primary_key, kinds, {})
        return plan

    @staticmethod
    def _row(plan: _Plan, fields: tuple[str, ...]) -> _Row:
        """How to merge rows with ``fields``, worked out once per type and fields."""
        kinds = tuple(plan.kinds.get(field) for field in fields)
        straight = bool(fields) and fields[0] == "__entity_type__" and None not in kinds[1:] and _MANY not in kinds
        row = _Row(
            Layout.of(field for field, kind in zip(fields, kinds) if kind is not None),
            kinds,
            straight,
            tuple(position for position, kind in enumerate(kinds) if kind == _SCALAR),
            tuple(position for position, kind in enumerate(kinds) if kind == _REFERENCE),
        )
        if len(plan.rows) < _MAX_ROW_PLANS:
            plan.rows[fields] = row
        return row

    def _included(self, place: int, answer: _Answer | None) -> Entity:
        """The entity at ``place`` of a compact answer's ``included`` (merged the first time it is met).

        In a compact answer (asked for by our own client only, see docs/reference/protocol.rst) a
        reference is an integer, the place of the entity in the answer's ``included`` list, where
        it is written in full once: the rows then hold no dict of their own, and the cyclic
        collector does not track them.
        """
        made = None if answer is None else answer.made
        local = place - answer.base if answer is not None else place
        if made is None or not 0 <= local < len(made):
            placed = None if answer is None else answer.placed
            earlier = None if placed is None or local >= 0 else placed.get(place)
            if earlier is not None:  # sent by an earlier page of the listing
                return earlier
            raise TransportError(f"The server sent a reference to entity {place} of an answer that includes {len(made or ())}")
        entity = made[local]
        if entity is None:
            entity = made[local] = self._reference(answer.included[local], answer)  # type: ignore[union-attr, index]
        return entity

    def _reference(self, value: Mapping[str, Any], answer: _Answer | None) -> Entity:
        """A referenced entity; a bare reference to one already known costs a lookup, no merge."""
        name = value.get("__entity_type__")
        plan = self._plans.get(name) or self._plan(name)
        key_names = plan.key_names
        if len(value) == len(key_names) + 1:
            try:
                key = value[key_names[0]] if len(key_names) == 1 else tuple(value[k] for k in key_names)
            except KeyError:
                key = None
            if key is not None:
                reference = self.session.identity_map.of_type(plan.cls.entity_type).get(key)
                known = None if reference is None else reference()
                if known is not None:
                    return known
            return self.merge(value, answer)
        listing = None if answer is None else answer.listing
        if listing is None or len(key_names) != 1:
            return self.merge(value, answer)
        fields = tuple(value)
        row = plan.rows.get(fields) or self._row(plan, fields)
        seen_of_type = listing.get(name)
        if seen_of_type is None:
            seen_of_type = listing[name] = {}
        key = value.get(key_names[0])
        seen = seen_of_type.get(key)
        if seen is not None and seen._data[0].layout is row.layout:
            return seen
        entity = self.merge(value, answer)
        seen_of_type[key] = entity
        return entity

    def merge(self, data: Mapping[str, Any], answer: _Answer | None = None) -> Entity:
        """The session's entity for ``data``, its server values brought up to date."""
        name = data.get("__entity_type__")
        plan = self._plans.get(name) or self._plan(name)
        try:
            key = (data[plan.key_names[0]],) if len(plan.key_names) == 1 else tuple(data[k] for k in plan.key_names)
        except KeyError as missing:
            raise TransportError(f"The server sent a {name} without its key {missing.args[0]!r}") from None
        fields = tuple(data)
        row = plan.rows.get(fields) or self._row(plan, fields)
        layout = row.layout
        strings = None if answer is None else answer.strings
        identity_map = self.session.identity_map
        values: list[Any]
        if row.straight:  # most rows: the values as they come, the shape in the type name's place
            values = list(data.values())
            for position in row.scalars:
                value = values[position]
                if type(value) is str:
                    # Keys and names repeat across an answer's rows: keep one copy of each.
                    if strings is not None and len(value) <= _SHARE_UP_TO:
                        values[position] = strings.setdefault(value, value)
                elif type(value) is dict:
                    values[position] = decode_value(value)
            for position in row.references:
                value = values[position]
                if value is not None:
                    values[position] = self._included(value, answer) if type(value) is int else self._reference(value, answer)
        else:
            values = [None]  # the shape goes first, once known
            append = values.append
            for how, value in zip(row.kinds, data.values()):
                if how is None:
                    continue
                if how == _SCALAR:
                    if type(value) is str:
                        if strings is not None and len(value) <= _SHARE_UP_TO:
                            value = strings.setdefault(value, value)
                    elif type(value) is dict:
                        value = decode_value(value)
                elif how == _REFERENCE:
                    if value is not None:
                        value = self._included(value, answer) if type(value) is int else self._reference(value, answer)
                elif how == _MANY:
                    value = tuple(
                        self._included(item, answer) if type(item) is int else self.merge(item, answer) for item in value or ()
                    )
                append(value)
        # An entity belongs to the answer it last came in: its siblings there (their keys:
        # the group holds none of them alive) are what a read of a missing attribute
        # fetches along with it.
        cls = plan.cls
        bare = key[0] if len(key) == 1 else key  # the key the map and the group know it by
        entities = identity_map.of_type(cls.entity_type)
        reference = entities.get(bare)
        entity = None if reference is None else reference()
        group = shape = None
        if answer is not None:
            known = answer.types.get(name)
            if known is None:
                known = answer.types[name] = ([], {})
            group, shapes = known
            shape = shapes.get(layout)
            if shape is None:
                shape = shapes[layout] = Shape(self.session, layout, group)
        if entity is None:  # most of a large answer: one tuple of values, its layout shared
            values[0] = shape if shape is not None else self.loose.moved(layout)
            entity = EntityState.new(cls, tuple(values))
            identity_map.put(entities, bare, entity)
            if group is not None:
                group.append(bare)
            return entity
        state = EntityState(entity)
        if shape is None:
            shape = state.shape.moved(layout)
        elif state.group is not group:
            group.append(bare)  # type: ignore[union-attr]
        values[0] = shape
        state.merge_data(tuple(values))
        return entity


_SCALAR, _REFERENCE, _MANY, _UNSHARED = 0, 1, 2, 3
_HOW = {Kind.SCALAR: _SCALAR, Kind.REFERENCE: _REFERENCE, Kind.COLLECTION: _MANY, Kind.MAPPED: _MANY}
#: Strings up to this long are shared within an answer (longer ones rarely repeat).
_SHARE_UP_TO = 40
#: Row plans kept per type at most (rows come in a few shapes per query).
_MAX_ROW_PLANS = 1_000
