"""What the engine answers when a batch cannot be carried out: error objects in ftrack's format.

An operation that cannot be carried out is a :class:`ValidationError` placed at its index
(:func:`error_object`); a database failure is a ``ServerError`` whose details — SQL,
constraint names, values — go only to the log, under an error id the answer gives
(:func:`database_failed`); a statement too big for the database is a 400 saying so. The
shape of each operation is checked here before any handler sees it (:func:`malformed`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Mapping

import sqlalchemy as sa

from ...exceptions import ValidationError

__all__ = ["DuplicateEntry", "database_failed", "error_answer", "error_object", "kind_of", "log_failure", "malformed", "refused"]

log = logging.getLogger(__name__)


class DuplicateEntry(ValidationError):
    """A create or update that would store a second row with one key or unique value (ftrack's name)."""

    exception = "DuplicateEntryError"


def error_object(error: ValidationError) -> dict[str, Any]:
    answer = error_answer(getattr(error, "exception", "ValidationError"), str(error), error.code)
    answer["operation"] = {
        "index": error.index, "action": error.action, "entity_type": error.entity_type, "entity_key": error.entity_key,
    }  # fmt: skip
    if error.conflict is not None:
        answer["conflict"] = error.conflict
    if getattr(error, "error_id", None):
        answer["error_id"] = error.error_id  # type: ignore[attr-defined]
    return answer


#: What the database says when a statement is too big or too deep for it (the request's size, not a fault).
_TOO_LARGE = ("too many sql variables", "expression tree is too large", "parser stack overflow", "too many terms",
              "stack depth limit exceeded", "number of parameters must be", "too many arguments")  # fmt: skip


def database_failed(error: sa.exc.DBAPIError) -> dict[str, Any]:
    """The answer to a batch the database could not carry out; its details go to the log, never the client.

    What the database says (its SQL, constraint names, values) is for the server's log:
    the answer carries an error id to find it there.
    """
    failed = getattr(error, "ftrack_index", None)
    where = f" at operation {failed}" if failed is not None else ""
    if any(sign in str(error.orig).lower() for sign in _TOO_LARGE):
        error_id = log_failure(error, "batch too large for the database")
        answer = error_answer("ValidationError", f"The batch is too large or nests too deeply for the database{where}: "
                                           f"split it, or use 'in (…)' for many values; nothing was changed", "too_complex")  # fmt: skip
    else:
        error_id = log_failure(error, "batch failed in the database")
        answer = error_answer("ServerError", f"The database could not carry out the batch{where}; nothing was changed "
                                       f"(error id {error_id} in the server's log)", "database")  # fmt: skip
    answer["error_id"] = error_id
    return answer


def refused(error: sa.exc.DBAPIError, what: str) -> ValidationError:
    """A constraint broken in a way no check names: said plainly, the database's words logged under an error id."""
    error_id = log_failure(error, "the database refused a batch")
    refusal = ValidationError(f"{what} (error id {error_id} in the server's log)", "integrity")
    refusal.error_id = error_id  # type: ignore[attr-defined]
    return refusal


def log_failure(error: BaseException, what: str) -> str:
    """Log ``error`` with its traceback under a new error id (uuid hex), and give the id."""
    error_id = uuid.uuid4().hex
    log.error("%s (error id %s)", what, error_id, exc_info=error)
    return error_id


def kind_of(value: Any) -> str:
    """The JSON name of a value's kind, for messages."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def malformed(operation: Mapping[str, Any]) -> str | None:
    """What is wrong with the shape of an operation's fields, or None (each field is checked when present)."""
    for name in ("entity_type", "expression", "reset_type", "after"):
        value = operation.get(name)
        if value is not None and type(value) is not str and not isinstance(value, str):
            return f"{name} is text, not {kind_of(value)}"
    key = operation.get("entity_key")
    if key is not None and not _scalar(key):
        if not isinstance(key, list) or not all(_scalar(v) for v in key):
            return f"entity_key is a value or a list of values, not {kind_of(key)}" + (
                " holding other things" if isinstance(key, list) else ""
            )
    data = operation.get("entity_data")
    if data is not None and type(data) is not dict and not isinstance(data, Mapping):
        return f"entity_data is an object, not {kind_of(data)}"
    values = operation.get("values")
    if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
        return f"values is a list of names, not {kind_of(values)}" + (" holding other things" if isinstance(values, list) else "")
    return None


#: The types a key value may have (JSON's: a bool is not one).
_SCALARS = frozenset({str, int, float, type(None)})


def _scalar(value: Any) -> bool:
    return type(value) in _SCALARS or (isinstance(value, (str, int, float)) and not isinstance(value, bool))


def error_answer(exception: str, content: str, code: str | None) -> dict[str, Any]:
    return {"exception": exception, "content": content, "error_code": code}
