"""Aquarium's item and edge types onto ours: the one reader of ``mapping.json``.

An item type is *mapped* (an entity of ours: its ``data`` keys named in the mapping are
attributes, the others are kept beside it) or *generic* (kept whole in ``aquarium_item``).
An edge type is mapped onto a relation of ours (``parent``, ``assignment``, ``membership``,
``link``) between the pairs of item types it names, or generic (kept whole in ``aquarium_edge``).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
from typing import Any

__all__ = ["EdgeType", "ItemType", "Mapping", "load_mapping"]


@dataclasses.dataclass(frozen=True)
class ItemType:
    """An Aquarium item type held by an entity type of ours."""

    name: str
    ours: str
    table: str
    #: Aquarium data key -> our attribute.
    data: dict[str, str]
    #: Attributes of ours given the same value on create (Aquarium key -> attribute).
    also: dict[str, str]
    object_type: str | None = None
    #: For a type kept in the resource table: which (``user``, ``group``).
    resource_type: str | None = None
    #: Data keys written to an attribute of ours in another form (key -> (attribute, form)), and kept as sent.
    converted: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def child(self) -> bool:
        """Whether the type is a child entity of ours (a version, component, note, timelog: :mod:`.entities`)."""
        return self.table not in ("context", "resource")


@dataclasses.dataclass(frozen=True)
class EdgeType:
    """An Aquarium edge type held by a relation of ours between some item types."""

    name: str
    ours: str
    #: The (source types, target types) between which the edge is our relation.
    pairs: tuple[tuple[frozenset[str], frozenset[str]], ...]

    def holds(self, source: str, target: str) -> bool:
        """Whether an edge of this type from a ``source`` item to a ``target`` item is our relation."""
        return any(source in sources and target in targets for sources, targets in self.pairs)

    @property
    def targets(self) -> frozenset[str]:
        """Every type an edge of this type may lead to as our relation."""
        return frozenset().union(*(targets for _, targets in self.pairs))


class Mapping:
    """Every mapped item and edge type, by Aquarium's name."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.items = {
            name: ItemType(name, spec["ours"], spec["table"], dict(spec["data"]), dict(spec.get("also", {})),
                           spec.get("object_type"), spec.get("resource_type"),
                           {k: (v[0], v[1]) for k, v in spec.get("converted", {}).items()})  # fmt: skip
            for name, spec in definition["items"].items()
        }
        self.edges = {
            name: EdgeType(name, spec["ours"], tuple((frozenset(p["from"]), frozenset(p["to"])) for p in spec["pairs"]))
            for name, spec in definition["edges"].items()
        }
        #: Every data key some mapped type keeps in an attribute (as it is, or converted): the columns of the item relation.
        self.columns = sorted({key for t in self.items.values() for key in (*t.data, *t.converted)})

    def item(self, name: str) -> ItemType | None:
        """The mapped type called ``name``; None for a generic one."""
        return self.items.get(name)

    def contexts(self) -> list[ItemType]:
        """The mapped types kept as contexts (Project first)."""
        return [t for t in self.items.values() if t.table == "context"]

    def children(self) -> list[ItemType]:
        """The mapped types kept as child entities (versions, components, notes, timelogs)."""
        return [t for t in self.items.values() if t.child]

    def links(self) -> list[str]:
        """The edge types held as context links (TypedContextLink), the first the one a link made elsewhere reads as."""
        return [name for name, t in self.edges.items() if t.ours == "link"]

    def list_items(self) -> list[str]:
        """The edge types held as a version in a list (ListObject)."""
        return [name for name, t in self.edges.items() if t.ours == "list_item"]

    def resources(self) -> list[ItemType]:
        """The mapped types kept in the resource table (users, groups)."""
        return [t for t in self.items.values() if t.table == "resource"]

    def edge(self, name: str, source: str, target: str) -> EdgeType | None:
        """The relation of ours an edge ``name`` from a ``source`` item to a ``target`` item is; None: generic."""
        found = self.edges.get(name)
        return found if found is not None and found.holds(source, target) else None


@functools.lru_cache(maxsize=1)
def load_mapping() -> Mapping:
    """The mapping shipped beside this module."""
    text = importlib.resources.files(__package__).joinpath("mapping.json").read_text(encoding="utf-8")
    return Mapping(json.loads(text))
