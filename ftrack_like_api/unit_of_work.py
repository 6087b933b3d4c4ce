"""The unit of work: what a session changed, as operations, and the batch they make.

A session records every create, attribute change and delete as an operation value in
an :class:`Operations` queue. The queue keeps them in order and indexed by entity, so
"what is pending for this entity" and its :class:`~ftrack_like_api.symbol.State` are
answered without a scan. :meth:`Operations.plan` folds the queue into the batch sent on
``commit()``:

- a create and a later delete of the same entity cancel out, with everything between;
- the last write to an attribute wins;
- changes to an entity created in the same unit of work fold into its create — but a
  reference to an entity created after it goes in an update of its own, after that
  create (``component["version"] = version``, the version made after the component);
- each entity's operation keeps the place of its first operation, and a delete the place
  of the delete, so creates come before whatever refers to them;
- asked to (``expect=True``), an update carries ``expected``: for each attribute, the
  server's value as it was read when the last change to it was made (none if never read).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union

from .symbol import NOT_SET, State

__all__ = [
    "CreateEntityOperation",
    "DeleteEntityOperation",
    "Identity",
    "Operation",
    "Operations",
    "UpdateEntityOperation",
    "batch_limits",
    "chunked",
]

#: Operations in one batch when the server does not say how many it takes (``max_operations``).
DEFAULT_MAX_OPERATIONS = 10_000
#: Bytes of JSON in one batch when the server does not say how many it takes (``max_body``).
DEFAULT_MAX_BODY = 16 * 1024 * 1024

#: (entity type, primary key values): one entity.
Identity = tuple[str, tuple[Any, ...]]


@dataclasses.dataclass(frozen=True)
class _EntityOperation:
    entity_type: str
    entity_key: Mapping[str, Any]

    @property
    def identity(self) -> Identity:
        """(entity type, primary key values): the entity this operation concerns."""
        return (self.entity_type, tuple(self.entity_key.values()))


@dataclasses.dataclass(frozen=True)
class CreateEntityOperation(_EntityOperation):
    """An entity created with ``entity_data`` (attribute name → value)."""

    entity_data: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class UpdateEntityOperation(_EntityOperation):
    """One attribute of an entity changed from ``old_value`` to ``new_value``.

    ``remote_value`` is the server's value as the session had read it then (``NOT_SET``:
    never read, or not a value a commit can expect: a collection).
    """

    attribute_name: str
    old_value: Any
    new_value: Any
    remote_value: Any = NOT_SET


@dataclasses.dataclass(frozen=True)
class DeleteEntityOperation(_EntityOperation):
    """An entity deleted."""


Operation = Union[CreateEntityOperation, UpdateEntityOperation, DeleteEntityOperation]


@dataclasses.dataclass
class _Pending:
    """What one entity's operations add up to, and where in the batch it goes."""

    action: str  # "create", "update" or "delete"
    entity_type: str
    entity_key: Mapping[str, Any]
    data: dict[str, Any]
    place: int
    expected: dict[str, Any] = dataclasses.field(default_factory=dict)


_NO_DATA = _Pending("update", "", {}, {}, 0)


def _refers_after(value: Any, place: int, pending: Mapping[Identity, _Pending]) -> bool:
    """Whether ``value`` (an entity, or entities) names one whose create is pending after ``place``."""
    items = value if isinstance(value, collections.abc.Sequence) and not isinstance(value, (str, bytes)) else (value,)
    for item in items:
        identity = getattr(item, "identity", None)
        if isinstance(identity, tuple):
            created = pending.get(identity)
            if created is not None and created.action == "create" and created.place > place:
                return True
    return False


class Operations:
    """An ordered queue of operations, indexed by the entity they concern."""

    def __init__(self) -> None:
        self._operations: list[Operation] = []
        self._by_entity: dict[Identity, list[Operation]] = {}

    def push(self, operation: Operation) -> None:
        """Record ``operation`` after every operation so far."""
        self._operations.append(operation)
        self._by_entity.setdefault(operation.identity, []).append(operation)

    def __len__(self) -> int:
        return len(self._operations)

    def __iter__(self) -> Iterator[Operation]:
        return iter(list(self._operations))

    def __bool__(self) -> bool:
        return bool(self._operations)

    def clear(self) -> None:
        self._operations.clear()
        self._by_entity.clear()

    def discard(self, identities: Iterable[Identity]) -> None:
        """Forget the operations of these entities (their changes were committed), in one pass."""
        gone = {identity for identity in identities if self._by_entity.pop(identity, None) is not None}
        if gone:
            self._operations = [o for o in self._operations if o.identity not in gone]

    def for_entity(self, identity: Identity) -> list[Operation]:
        """The operations recorded for one entity, in order."""
        return list(self._by_entity.get(identity, ()))

    def entities(self) -> list[Identity]:
        """Every entity with an operation, in the order of its first one."""
        return list(self._by_entity)

    def state(self, identity: Identity) -> State:
        """Where the entity stands: created, deleted, modified or unchanged here."""
        operations = self._by_entity.get(identity)
        if not operations:
            return State.UNCHANGED
        if isinstance(operations[-1], DeleteEntityOperation):
            return State.DELETED
        if isinstance(operations[0], CreateEntityOperation):
            return State.CREATED
        return State.MODIFIED

    def plan(self, encode: Callable[[Any], Any] = lambda value: value, expect: bool = False) -> list[dict[str, Any]]:
        """The batch these operations add up to, in the wire format; ``encode`` writes each value.

        With ``expect``, each update names the server values it replaces (``expected``).
        """
        pending: dict[Identity, _Pending] = {}
        done: list[_Pending] = []  # entities deleted and created again under the same key
        later: dict[Identity, _Pending] = {}  # updates of created entities that refer to entities created after them
        for place, operation in enumerate(self._operations):
            identity = operation.identity
            current = pending.get(identity)
            if isinstance(operation, CreateEntityOperation):
                if current is not None:
                    done.append(pending.pop(identity))
                    if identity in later:
                        done.append(later.pop(identity))
                pending[identity] = _Pending(
                    "create", operation.entity_type, operation.entity_key, dict(operation.entity_data), place
                )
            elif isinstance(operation, UpdateEntityOperation):
                name = operation.attribute_name
                if current is not None and current.action == "create" and (
                    name in later.get(identity, _NO_DATA).data or _refers_after(operation.new_value, current.place, pending)
                ):
                    current = later.get(identity)
                    if current is None:
                        current = later[identity] = _Pending("update", operation.entity_type, operation.entity_key, {}, place)
                elif current is None or current.action == "delete":
                    if current is not None:
                        done.append(pending.pop(identity))
                    current = pending[identity] = _Pending(
                        "update", operation.entity_type, operation.entity_key, {}, place
                    )
                current.data[name] = operation.new_value
                current.expected[name] = operation.remote_value
            else:
                if current is not None and current.action == "create":
                    del pending[identity]  # created and deleted here: the server never hears of it
                    later.pop(identity, None)
                    continue
                pending[identity] = _Pending("delete", operation.entity_type, operation.entity_key, {}, place)
        batch = []
        for entry in sorted([*done, *pending.values(), *later.values()], key=lambda entry: entry.place):
            key = [encode(value) for value in entry.entity_key.values()]
            written: dict[str, Any] = {"action": entry.action, "entity_type": entry.entity_type, "entity_key": key}
            if entry.action == "create":
                data = {"__entity_type__": entry.entity_type, **entry.entity_key, **entry.data}
                written["entity_data"] = {name: encode(value) for name, value in data.items()}
            elif entry.action == "update":
                written["entity_data"] = {name: encode(value) for name, value in entry.data.items()}
                expected = {name: encode(value) for name, value in entry.expected.items() if value is not NOT_SET}
                if expect and expected:
                    written["expected"] = expected
            batch.append(written)
        return batch


def batch_limits(information: Mapping[str, Any], chunk_size: int | None = None) -> tuple[int | None, int | None]:
    """(operations, bytes of JSON) one batch may hold, from a ``query_server_information`` answer.

    Our server states ``max_operations`` and ``max_body``; None there means no limit (the
    embedded mode). A server that does not state them (ftrack's) gets
    :data:`DEFAULT_MAX_OPERATIONS` and :data:`DEFAULT_MAX_BODY`. ``chunk_size``, when
    given, caps the operations further.
    """
    limits = []
    for name, default in (("max_operations", DEFAULT_MAX_OPERATIONS), ("max_body", DEFAULT_MAX_BODY)):
        value = information.get(name, default)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            value = default  # a server's odd answer is no reason to fail: the safe default instead
        limits.append(value)
    operations, body = limits
    if chunk_size is not None:
        operations = chunk_size if operations is None else min(chunk_size, operations)
    return operations, body


def chunked(
    batch: Sequence[dict[str, Any]], size: int | None, max_bytes: int | None = None
) -> list[list[dict[str, Any]]]:
    """``batch`` in consecutive chunks of at most ``size`` operations (no limit if None) and at most
    ``max_bytes`` of JSON text each (no limit if None), as ``json.dumps`` writes the chunk.

    An operation whose JSON alone is over ``max_bytes`` goes in a chunk of its own (the
    server then refuses it, saying so).
    """
    if size is not None and size < 1:
        raise ValueError(f"a chunk holds at least one operation, not {size}")
    if not batch:
        return []
    if max_bytes is not None and len(json.dumps(batch)) > max_bytes:
        return _chunked_by_bytes(batch, size, max_bytes)
    if size is None:
        return [list(batch)]
    return [list(batch[start : start + size]) for start in range(0, len(batch), size)]


def _chunked_by_bytes(batch: Sequence[dict[str, Any]], size: int | None, max_bytes: int) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = []
    chunk: list[dict[str, Any]] = []
    written = 2  # "[" and "]"
    for operation in batch:
        length = len(json.dumps(operation)) + (2 if chunk else 0)  # ", " between operations
        if chunk and (written + length > max_bytes or len(chunk) == size):
            chunks.append(chunk)
            chunk, written, length = [], 2, length - 2
        chunk.append(operation)
        written += length
    chunks.append(chunk)
    return chunks
