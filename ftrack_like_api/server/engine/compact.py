"""A query's answer in the compact form this package's own client asks for.

ftrack's answer nests each referenced entity in the row that refers to it: in full the
first time the answer meets it, as ``{"__entity_type__": …, "id": …}`` after. A client
reading that JSON makes a dict per row holding a dict per reference, and a dict holding a
dict is one more object for Python's cyclic garbage collector to walk, for as long as the
page is being merged: 10,000 of them per page of tasks.

The compact form, given when a query operation says ``"compact": true`` (which servers
announce with ``compact_answers`` in ``query_server_information``, and which the official
client never sends), writes each referenced entity once in the answer's ``included``
list — its fullest writing, where the answer had it in full at one place and as a bare
reference at others — and every reference to it as its place there (an integer; a
collection, a list of them). The rows and the entities keep their fields and values
otherwise. A row then holds only values: no dict the collector tracks, and fewer bytes
(16 % fewer for a page of tasks with their status and shot).
"""

from __future__ import annotations

from typing import Any

from ...schema import Kind, Schema

__all__ = ["compacted"]


def compacted(answer: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """``answer`` (a query's, as the reader made it) in the compact form, changed in place."""
    rows = answer.get("data")
    included: list[Any] = []
    answer["included"] = included
    if not isinstance(rows, list):
        return answer
    places: dict[int, int] = {}  # id of a dict written for an entity -> the entity's place in included
    identities: dict[tuple[Any, ...], int] = {}  # (type, key values) -> its place
    plans: dict[tuple[Any, tuple[str, ...]], tuple[tuple[str, bool], ...]] = {}
    keys: dict[Any, tuple[str, ...]] = {}

    def relations(entity: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
        """The fields of ``entity`` that hold entities, each with whether it holds a list of them."""
        fields = tuple(entity)
        name = entity.get("__entity_type__")
        plan = plans.get((name, fields))
        if plan is None:
            attributes = schema[name].attributes if isinstance(name, str) and name in schema else {}
            plan = plans[(name, fields)] = tuple(
                (field, attributes[field].kind is not Kind.REFERENCE)
                for field in fields
                if field in attributes and attributes[field].kind is not Kind.SCALAR
            )
        return plan

    def place(entity: Any) -> Any:
        if type(entity) is not dict:  # already a place (a dict both a row and a reference), or None
            return entity
        found = places.get(id(entity))
        if found is not None:
            return found
        name = entity.get("__entity_type__")
        names = keys.get(name)
        if names is None:
            names = keys[name] = schema[name].primary_key if isinstance(name, str) and name in schema else ()
        identity = (name, *(entity.get(key) for key in names))
        found = identities.get(identity)
        if found is None:
            found = identities[identity] = len(included)
            included.append(entity)
        elif len(entity) > len(included[found]):  # the full writing, met after a reference: it is the one kept
            included[found] = entity
        places[id(entity)] = found
        walk(entity)
        return found

    def walk(entity: dict[str, Any]) -> None:
        for field, many in relations(entity):
            value = entity[field]
            if value is None:
                continue
            entity[field] = [place(item) for item in value] if many else place(value)

    for row in rows:
        if type(row) is dict:
            walk(row)
    return answer
