"""A sheet's default order, read by walking the project's tree: a page costs the same at 1,000 tasks as at 1,000,000.

Sorting every task of a project by its sequence's and shot's names is a join no index
serves: the database reads and sorts the whole project for each page. The walk reads
instead what a page shows, from the ``context(parent_id, name, id)`` index: at each
place in the tree (the project, a sequence, a shot, …) its own tasks in name order,
then its other children (sequences, shots, asset builds, …) in name order, each walked
the same way (descending: the same order backwards). A node's tasks and its next
children are one batch of two queries, each a range of that index, so a page is a few
small batches whatever the project's size.

The cursor to the next page is the path to the last row shown — each container from
the project down, and the task, as (name, id) — so the next page resumes just after it:
no row is skipped or repeated, and a row added meanwhile shifts nothing. Every read is
a ``query`` operation run as the visitor (:mod:`.reads`): permissions are the engine's.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ...engine.seed import OBJECT_TYPES
from .reads import Entities, Reads, expression
from .visitors import Visitor

__all__ = ["BadCursor", "walk"]

#: The object type of tasks: the tree's leaves.
TASK = OBJECT_TYPES["Task"][0]
#: Children fetched at once, to walk into one after another.
CHILDREN = 20
#: The longest cursor accepted.
MAX_CURSOR = 4096
_MARK = "w."


class BadCursor(Exception):
    """An ``after`` that is not a cursor this walk gave."""


def _encode(path: list[tuple[str, str]]) -> str:
    return _MARK + base64.urlsafe_b64encode(json.dumps(path, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[tuple[str, str]]:
    if not cursor.startswith(_MARK) or len(cursor) > MAX_CURSOR:
        raise BadCursor("This page's link is not one the sheet gave: open the project again")
    try:
        text = cursor[len(_MARK) :]
        path = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        raise BadCursor("This page's link is not one the sheet gave: open the project again") from None
    if not (isinstance(path, list) and path and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in path)):  # fmt: skip
        raise BadCursor("This page's link is not one the sheet gave: open the project again")
    return [(name, id_) for name, id_ in path]


class _Walker:
    def __init__(self, reads: Reads, visitor: Visitor, columns: str, descending: bool, wanted: int) -> None:
        self.reads, self.visitor, self.columns = reads, visitor, columns
        self.descending, self.wanted = descending, wanted
        self.rows: list[Any] = []
        self.paths: list[list[tuple[str, str]]] = []  # each row's path, for the cursor

    def _after(self, after: tuple[str, str] | None) -> tuple[str, dict[str, Any]]:
        if after is None:
            return "", {}
        later = "<" if self.descending else ">"
        return (f" and (name {later} :after_name or (name is :after_name and id {later} :after_id))",
                {"after_name": after[0], "after_id": after[1]})  # fmt: skip

    async def _batch(self, node: str, tasks_after: tuple[str, str] | None, tasks: bool,
                     children_after: tuple[str, str] | None, children: bool) -> tuple[Entities | None, list[dict[str, Any]]]:  # fmt: skip
        """The node's tasks after ``tasks_after`` and its next children after ``children_after``: one batch."""
        order = "name desc, id desc" if self.descending else "name, id"
        operations = []
        if tasks:
            condition, values = self._after(tasks_after)
            limit = self.wanted - len(self.rows)
            text = f"select {self.columns} from Task where parent_id is :node{condition} order by {order} limit {limit}"
            operations.append({"action": "query", "expression": expression(text, node=node, **values)})
        if children:
            condition, values = self._after(children_after)
            text = (f"select name from TypedContext where parent_id is :node and object_type_id is_not :task{condition} "
                    f"order by {order} limit {CHILDREN}")  # fmt: skip
            operations.append({"action": "query", "expression": expression(text, node=node, task=TASK, **values)})
        answers = await self.reads.run(self.visitor, operations)
        found = Entities(answers[0]["data"]) if tasks else None
        return found, (answers[-1]["data"] if children else [])

    def _take(self, found: Entities | None, above: list[tuple[str, str]]) -> None:
        for task in found.rows if found is not None else ():
            self.rows.append(task)
            self.paths.append([*above, (str(task.get("name") or ""), str(task["id"]))])

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.wanted

    async def node(self, node: str, above: list[tuple[str, str]], resume: list[tuple[str, str]] | None) -> None:
        """Walk ``node`` (reached by the containers ``above``), from just after ``resume`` (its path below ``node``)."""
        # Where to start: from the node's start; after one of its tasks; or inside (or after) one of its children.
        in_tasks = resume is not None and len(resume) == 1
        inside = resume[0] if resume is not None and len(resume) > 1 else None
        tasks_first = not self.descending
        # Tasks still to read here: ascending they come first, so not once a child was reached.
        read_tasks = resume is None or in_tasks or (not tasks_first)
        tasks_after = resume[0] if resume is not None and in_tasks else None
        if resume is not None and inside is not None:
            await self.node(inside[1], [*above, inside], resume[1:])
            if self.full:
                return
        # Children still to read: descending they come first, so not once a task was reached.
        read_children = not (in_tasks and not tasks_first)
        children_after = inside
        if tasks_first and read_tasks:
            found, children = await self._batch(node, tasks_after, True, children_after, read_children)
            self._take(found, above)
            read_tasks = False
        else:
            children = (await self._batch(node, None, False, children_after, True))[1] if read_children else []
        while read_children and children and not self.full:
            for child in children:
                await self.node(str(child["id"]), [*above, (str(child.get("name") or ""), str(child["id"]))], None)
                if self.full:
                    return
            last = children[-1]
            if len(children) < CHILDREN:
                break
            children = (await self._batch(node, None, False, (str(last.get("name") or ""), str(last["id"])), True))[1]
        if read_tasks and not self.full:
            found, _ = await self._batch(node, tasks_after, True, None, False)
            self._take(found, above)


async def walk(reads: Reads, visitor: Visitor, project: str, columns: str, descending: bool, page: int,
               after: str | None) -> tuple[Entities, str | None]:  # fmt: skip
    """A page of ``page`` tasks of ``project`` in tree order from ``after``, and the cursor to the next page (None: last).

    :class:`BadCursor` when ``after`` is not a cursor this walk gave.
    """
    resume = _decode(after) if after else None
    walker = _Walker(reads, visitor, columns, descending, page + 1)
    await walker.node(project, [], resume)
    rows, paths = walker.rows[:page], walker.paths[:page]
    following = _encode(paths[-1]) if len(walker.rows) > page else None
    return Entities(rows), following
