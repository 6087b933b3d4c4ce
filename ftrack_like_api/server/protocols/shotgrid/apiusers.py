"""``ApiUser``: ShotGrid's scripts, which here are our named API keys — read in SQL over the key table.

A script is a key's name under its owner: the keys of one owner and one name (a key rotated
keeps its name) are one ``ApiUser``, numbered in ``shotgrid_id`` under ``apikey:<owner>:<name>``
as EventLogEntry's ``user`` already names it, so a script's id is stable and the same in both.
Keys are not entities of the engine, so ``find("ApiUser", …)`` is not a query of ours: it is one
SQL statement over ``api_key`` (grouped by owner and name), the owner's row and the numbers, its
filters compiled here to SQL with ShotGrid's operators as they apply to these fields. Scripts
are numbered first by one ``INSERT … SELECT`` (those never answered before). A script with an
unrevoked key is live; one whose keys are all revoked is retired (``retired_only``).

Read-only through this endpoint: scripts are made and revoked with ``ftrack-like key`` (and our
Session's key calls), never by ``create`` / ``update`` / ``delete`` here. Every signed-in caller
reads them (EventLogEntry names them to everyone); a key's secret is never read.
"""

from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ....exceptions import ValidationError

__all__ = ["ApiUsers", "FIELDS", "READ_ONLY"]

#: ApiUser's fields and ShotGrid's data types for them.
FIELDS = {"id": "number", "firstname": "text", "lastname": "text", "cached_display_name": "text", "email": "text",
          "description": "text", "created_at": "date_time", "updated_at": "date_time", "created_by": "entity",
          "generate_event_log_entries": "checkbox"}  # fmt: skip
#: The words every write of an ApiUser is refused with.
READ_ONLY = ("ApiUser is read-only here: a script is one of our named API keys, made and revoked with "
             "'ftrack-like key' (or an admin's Session), not through the ShotGrid API")  # fmt: skip

_TEXT = ("is", "is_not", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with")
_ORDERED = ("is", "is_not", "in", "not_in", "greater_than", "less_than", "between", "not_between")


class ApiUsers:
    """Pages of ApiUser rows over the key table."""

    def __init__(self, keys: sa.Table, users: sa.Table, numbers: sa.Table) -> None:
        self.keys, self.users, self.numbers = keys, users, numbers
        self.ident = sa.literal("apikey:") + keys.c.user_id + sa.literal(":") + keys.c.name

    def page(self, connection: sa.Connection, filters: Any, fields: list[str], sorts: Any, per_page: int, page: int,
             retired: bool, owner_of: Callable[[list[int]], dict[int, str]],
             user_link: Callable[[list[str]], dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:  # fmt: skip
        """(page ``page`` of the scripts the filters find, whether another follows). ``owner_of(numbers)`` gives the
        users numbered (``created_by`` filtered on), ``user_link(uuids)`` their HumanUser links."""
        for name in fields:
            if name not in FIELDS and name != "type":
                raise ValidationError(f"ApiUser.{name} doesn't exist", "unknown_field")
        self._number(connection)
        keys, users, numbers = self.keys, self.users, self.numbers
        grouped = (sa.select(keys.c.user_id, keys.c.name, sa.func.min(keys.c.created_at).label("created_at"),
                             sa.func.max(sa.func.coalesce(keys.c.revoked_at, keys.c.created_at)).label("updated_at"),
                             sa.func.count(keys.c.revoked_at).label("revoked"), sa.func.count().label("made"),
                             self.ident.label("ident"))
                   .group_by(keys.c.user_id, keys.c.name).subquery("script"))  # fmt: skip
        columns = {"id": numbers.c.number, "firstname": grouped.c.name, "cached_display_name": grouped.c.name,
                   "email": users.c.email, "created_at": grouped.c.created_at, "updated_at": grouped.c.updated_at,
                   "created_by": grouped.c.user_id, "lastname": sa.null(), "description": sa.null()}  # fmt: skip
        live = grouped.c.revoked == grouped.c.made if retired else grouped.c.revoked < grouped.c.made
        where = _Compiler(columns, owner_of).compile(filters)
        statement = (sa.select(numbers.c.number, grouped.c.name, grouped.c.user_id, users.c.email, grouped.c.created_at,
                               grouped.c.updated_at)
                     .select_from(grouped.join(numbers, numbers.c.entity_id == grouped.c.ident)
                                  .join(users, users.c.id == grouped.c.user_id))
                     .where(live, *([where] if where is not None else []))
                     .order_by(*_order(columns, sorts), numbers.c.number)
                     .offset((page - 1) * per_page).limit(per_page + 1))  # fmt: skip
        rows = connection.execute(statement).mappings().all()
        more, rows = len(rows) > per_page, rows[:per_page]
        links = user_link(sorted({row["user_id"] for row in rows})) if "created_by" in fields else {}
        answered = []
        for row in rows:
            every = {"firstname": row["name"], "lastname": None, "cached_display_name": row["name"], "email": row["email"],
                     "description": None, "created_at": _when(row["created_at"]), "updated_at": _when(row["updated_at"]),
                     "created_by": links.get(row["user_id"]), "generate_event_log_entries": True}  # fmt: skip
            answered.append({"type": "ApiUser", "id": row["number"],
                             **{name: every[name] for name in fields if name not in ("id", "type")}})  # fmt: skip
        return answered, more

    def _number(self, connection: sa.Connection) -> None:
        """Give a number to every script that has none yet: one statement."""
        numbers = self.numbers
        named = (sa.select(self.ident, sa.literal("ApiUser")).distinct()
                 .where(~sa.exists().where(numbers.c.entity_id == self.ident)))  # fmt: skip
        insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(numbers)
        connection.execute(insert.from_select(["entity_id", "entity_type"], named)
                           .on_conflict_do_nothing(index_elements=["entity_id"]))  # fmt: skip


class _Compiler:
    """ShotGrid's filters on ApiUser's fields as one SQL condition."""

    def __init__(self, columns: dict[str, Any], owner_of: Callable[[list[int]], dict[int, str]]) -> None:
        self.columns, self.owner_of = columns, owner_of

    def compile(self, filters: Any) -> Any:
        if filters is None or filters == []:
            return None
        if isinstance(filters, list):
            return sa.and_(*(self.condition(c) for c in filters))
        return self.group(filters)

    def group(self, group: Any) -> Any:
        operator = group.get("logical_operator", "and") if isinstance(group, dict) else None
        if operator not in ("and", "or") or not isinstance(group.get("conditions"), list):
            raise ValidationError(f"A filter group is {{'logical_operator': 'and'|'or', 'conditions': [...]}}, not {group!r}",
                                  "bad_filter")  # fmt: skip
        parts = [self.condition(c) for c in group["conditions"]]
        return (sa.and_ if operator == "and" else sa.or_)(*parts) if parts else sa.true()

    def condition(self, condition: Any) -> Any:
        if isinstance(condition, dict) and "conditions" in condition:
            return self.group(condition)
        if not isinstance(condition, dict) or not isinstance(condition.get("path"), str):
            raise ValidationError(f"A filter is [field, relation, value…], not {condition!r}", "bad_filter")
        path, relation, values = condition["path"], condition.get("relation"), list(condition.get("values") or [None])
        if path not in self.columns:
            raise ValidationError(f"ApiUser.{path} doesn't exist or can't be filtered on here", "unknown_field")
        column = self.columns[path]
        if path == "created_by":
            return self._owner(column, relation, values)
        served = _ORDERED if path in ("id", "created_at", "updated_at") else _TEXT
        if relation not in served:
            raise ValidationError(f"ApiUser.{path} is filtered with {', '.join(served)} here, not {relation!r}", "bad_filter")
        return _compare(column, relation, values)

    def _owner(self, column: Any, relation: Any, values: list[Any]) -> Any:
        """``created_by``: the key's owner, a HumanUser link (``is`` / ``is_not`` / ``in`` / ``not_in``)."""
        if relation not in ("is", "is_not", "in", "not_in"):
            raise ValidationError(f"ApiUser.created_by is filtered with is, is_not, in, not_in here, not {relation!r}",
                                  "bad_filter")  # fmt: skip
        if values == [None]:
            return sa.false() if relation in ("is", "in") else sa.true()
        wanted = []
        for value in values:
            if not (isinstance(value, dict) and value.get("type") == "HumanUser" and isinstance(value.get("id"), int)):
                raise ValidationError(f"ApiUser.created_by takes HumanUser links, not {value!r}", "bad_filter")
            wanted.append(value["id"])
        uuids = sorted(set(self.owner_of(wanted).values()))
        return column.in_(uuids) if relation in ("is", "in") else column.not_in(uuids)


def _compare(column: Any, relation: str, values: list[Any]) -> Any:
    value = values[0]
    if relation in ("is", "is_not"):
        found = column.is_(None) if value is None else column == value
        return found if relation == "is" else sa.or_(~found, column.is_(None)) if value is not None else column.is_not(None)
    if relation in ("in", "not_in"):
        flat = values[0] if len(values) == 1 and isinstance(values[0], list) else values
        return column.in_(flat) if relation == "in" else sa.or_(column.not_in(flat), column.is_(None))
    if relation in ("between", "not_between"):
        if len(values) != 2:
            raise ValidationError(f"{relation} takes two values, not {values!r}", "bad_filter")
        inside = column.between(values[0], values[1])
        return inside if relation == "between" else ~inside
    if relation in ("greater_than", "less_than"):
        return column > value if relation == "greater_than" else column < value
    if not isinstance(value, str):
        raise ValidationError(f"{relation} takes a text, not {value!r}", "bad_filter")
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = {"contains": f"%{escaped}%", "not_contains": f"%{escaped}%", "starts_with": f"{escaped}%",
               "ends_with": f"%{escaped}"}[relation]  # fmt: skip
    matched = sa.func.lower(column).like(pattern.lower(), escape="\\")
    return sa.or_(~matched, column.is_(None)) if relation == "not_contains" else matched


def _order(columns: dict[str, Any], sorts: Any) -> list[Any]:
    keys = []
    for sort in sorts or ():
        name = sort.get("field_name") if isinstance(sort, dict) else None
        if name not in columns or name == "created_by":
            raise ValidationError(f"ApiUser is sorted by {', '.join(n for n in columns if n != 'created_by')} here, "
                                  f"not {sort!r}", "bad_order")  # fmt: skip
        keys.append(columns[name].desc() if sort.get("direction") == "desc" else columns[name].asc())
    return keys


def _when(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None
