"""A sheet's default order, read by walking the project's tree: a page costs the same at 1,000 tasks as at 1,000,000.

Sorting every task of a project by its sequence's and shot's names is a join no index
serves: the database reads and sorts the whole project for each page. The walk reads
instead what a page shows, from the ``context(parent_id, name, id)`` index: at each
place in the tree (the project, a sequence, a shot, …) its own tasks in name order,
then its other children (sequences, shots, asset builds, …) in name order, each walked
the same way (descending: the same order backwards). A node's tasks and its next
children are one batch of two queries, each a range of that index; siblings are read a
few at once (as many as the page still needs at the last one's size: twenty shots of five
tasks in one batch of two queries), so a page is a few small batches whatever the
project's size.

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

__all__ = ["BY_REFERENCE", "BadCursor", "walk", "walk_by"]

#: The object type of tasks: the tree's leaves.
TASK = OBJECT_TYPES["Task"][0]
#: Children fetched at once, to walk into one after another.
CHILDREN = 20
#: The longest cursor accepted.
MAX_CURSOR = 4096
_MARK = "w."


class BadCursor(Exception):
    """An ``after`` that is not a cursor this walk gave."""


def _bound(text: str, **values: Any) -> str:
    """``text`` with the ``values`` it names bound (a segment may not name them all)."""
    return expression(text, **{name: value for name, value in values.items() if f":{name}" in text})


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
        self.ahead: dict[str, tuple[list[Any], list[dict[str, Any]]]] = {}  # read with their siblings, not yet walked
        self.read: set[str] = set()  # nodes whose tasks were read ahead
        self.last = 0  # tasks the last node read that had any held: how many nodes a page may still need

    def _segments(self, after: tuple[str, str] | None) -> list[tuple[str, dict[str, Any]]]:
        """The conditions of the rows after ``after``, in order: each one index range read in its order.

        (The same name and a later id, then a later name: two ranges, where ``a or b`` would
        have the database gather both and sort them.)
        """
        if after is None:
            return [("", {})]
        later = "<" if self.descending else ">"
        values = {"after_name": after[0], "after_id": after[1]}
        return [(f" and name is :after_name and id {later} :after_id", values), (f" and name {later} :after_name", values)]

    async def _batch(self, node: str, tasks_after: tuple[str, str] | None, tasks: bool,
                     children_after: tuple[str, str] | None, children: bool) -> tuple[list[Any], list[dict[str, Any]]]:  # fmt: skip
        """The node's tasks after ``tasks_after`` and its next children after ``children_after``: one batch."""
        # By name (the engine orders by the id after it, in the same direction): the index's order.
        order = "name desc" if self.descending else "name"
        operations, kinds = [], []
        limit = self.wanted - len(self.rows)
        for condition, values in self._segments(tasks_after) if tasks else ():
            text = f"select {self.columns} from Task where parent_id is :node{condition} order by {order} limit {limit}"
            operations.append({"action": "query", "expression": _bound(text, node=node, **values)})
            kinds.append("tasks")
        for condition, values in self._segments(children_after) if children else ():
            text = (f"select name from TypedContext where parent_id is :node and object_type_id is_not :task{condition} "
                    f"order by {order} limit {CHILDREN}")  # fmt: skip
            operations.append({"action": "query", "expression": _bound(text, node=node, task=TASK, **values)})
            kinds.append("children")
        answers = await self.reads.run(self.visitor, operations) if operations else []
        found = [row for kind, answer in zip(kinds, answers) if kind == "tasks" for row in answer["data"]]
        if tasks and tasks_after is None and found:
            self.last = len(found)
        following = [row for kind, answer in zip(kinds, answers) if kind == "children" for row in answer["data"]]
        return found[:limit], following[:CHILDREN]

    def _take(self, found: list[Any], above: list[tuple[str, str]]) -> None:
        for task in found:
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
        if resume is None and node in self.ahead:  # read with its siblings' (see _children)
            found, children = self.ahead.pop(node)
        elif tasks_first and read_tasks:
            found, children = await self._batch(node, tasks_after, True, children_after, read_children)
        else:
            found = []
            children = (await self._batch(node, None, False, children_after, True))[1] if read_children else []
        if tasks_first and read_tasks:
            self._take(found, above)
            read_tasks = False
        if read_children:
            await self._children(node, above, children)
        if read_tasks and not self.full:
            if resume is not None or node not in self.read:  # else ``found`` holds them: read with the children
                found, _ = await self._batch(node, tasks_after, True, None, False)
            self._take(found, above)

    async def _children(self, node: str, above: list[tuple[str, str]], children: list[dict[str, Any]]) -> None:
        """Walk ``children`` of ``node`` and the ones after them, until the page is full.

        Children are read a few at once (their tasks and their own children, in one batch): as
        many as the page still needs if each holds as many tasks as the last one read did.
        """
        while children and not self.full:
            for n, child in enumerate(children):
                if str(child["id"]) not in self.ahead:
                    need = self.wanted - len(self.rows)
                    count = min(CHILDREN, max(1, -(-need // self.last))) if self.last else 1
                    await self._read_ahead([str(c["id"]) for c in children[n : n + count]])
                await self.node(str(child["id"]), [*above, (str(child.get("name") or ""), str(child["id"]))], None)
                if self.full:
                    return
            last = children[-1]
            if len(children) < CHILDREN:
                return
            children = (await self._batch(node, None, False, (str(last.get("name") or ""), str(last["id"])), True))[1]

    async def _read_ahead(self, nodes: list[str]) -> None:
        """``nodes``' tasks (as many as the page still needs) and first children: one batch of two queries.

        Each query reads all the nodes at once, in ``parent_id, name`` order (one index range
        per node); where its limit cut the rows short, the nodes from the cut on are read on
        their own when reached.
        """
        order = "parent_id desc, name desc" if self.descending else "parent_id, name"
        limit, kids = self.wanted - len(self.rows), CHILDREN * len(nodes)
        answers = await self.reads.run(self.visitor, [
            {"action": "query", "expression": _bound(
                f"select {self.columns} from Task where parent_id in :nodes order by {order} limit {limit}", nodes=nodes)},
            {"action": "query", "expression": _bound(
                f"select name, parent_id from TypedContext where parent_id in :nodes and object_type_id is_not :task "
                f"order by {order} limit {kids}", nodes=nodes, task=TASK)},
        ])  # fmt: skip
        tasks, children = _by_parent(answers[0]["data"], nodes, limit), _by_parent(answers[1]["data"], nodes, kids)
        for node in nodes:
            if node in tasks and node in children:
                self.ahead[node] = (tasks[node], children[node][:CHILDREN])
                self.read.add(node)
                if tasks[node]:
                    self.last = len(tasks[node])


def _by_parent(rows: list[dict[str, Any]], nodes: list[str], limit: int) -> dict[str, list[dict[str, Any]]]:
    """``rows`` (in parent order) by their parent: only the nodes whose rows are all there (the limit cut none)."""
    found: dict[str, list[dict[str, Any]]] = {node: [] for node in nodes}
    for row in rows:
        found.setdefault(str(row.get("parent_id") or _parent_id(row)), []).append(row)
    if len(rows) >= limit and rows:  # cut short: the last parent's rows, and those of parents after it, may be missing
        cut = str(rows[-1].get("parent_id") or _parent_id(rows[-1]))
        seen = {str(row.get("parent_id") or _parent_id(row)) for row in rows}
        return {node: found[node] for node in nodes if node in seen and node != cut}
    return found


def _parent_id(row: dict[str, Any]) -> str:
    parent = row.get("parent")
    return str(parent.get("id")) if isinstance(parent, dict) else ""


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


#: The sorts read by walking what the tasks refer to (few: statuses, types), each one's tasks in turn.
BY_REFERENCE = {"status": "Status", "type": "Type"}
_BY = "r."


async def walk_by(reads: Reads, visitor: Visitor, project: str, columns: str, sort: str, descending: bool, page: int,
                  after: str | None) -> tuple[Entities, str | None]:  # fmt: skip
    """A page of ``project``'s tasks sorted by ``sort`` (a key of :data:`BY_REFERENCE`) from ``after``, and the next cursor.

    The order is the referred entity's name (then its id), then the task's id; tasks that
    refer to none come last (first, descending). For each referred entity in that order,
    its tasks are one range of the ``context(project_id, <reference>_id, id)`` index, so a
    page costs the same in a project of any size. :class:`BadCursor` for a cursor not given here.
    """
    reference = f"{sort}_id"
    order = "name desc, id desc" if descending else "name, id"
    known, _ = await reads.query(visitor, f"select name from {BY_REFERENCE[sort]} order by {order} limit 1000")
    groups: list[str | None] = [str(row["id"]) for row in known]
    groups = [*groups, None] if not descending else [None, *groups]
    start, task_after = 0, None
    if after:
        group, task_after = _decode_by(after, sort)
        if group not in groups:
            raise BadCursor("This page's link is not one the sheet gave: open the project again")
        start = groups.index(group)
    later = "<" if descending else ">"
    rows: list[Any] = []
    for group in groups[start:]:
        condition = f" and id {later} :after" if task_after is not None else ""
        text = (f"select {columns} from Task where project_id is :project and {reference} is :group{condition} "
                f"order by id{' desc' if descending else ''} limit {page + 1 - len(rows)}")  # fmt: skip
        values = {"project": project, "group": group, **({"after": task_after} if task_after is not None else {})}
        found, _ = await reads.query(visitor, expression(text, **values))
        rows += [(group, row) for row in found.rows]
        task_after = None
        if len(rows) > page:
            break
    following = _encode_by(sort, rows[page - 1][0], str(rows[page - 1][1]["id"])) if len(rows) > page else None
    return Entities([row for _, row in rows[:page]]), following


def _encode_by(sort: str, group: str | None, task: str) -> str:
    text = json.dumps([sort, group, task], separators=(",", ":"))
    return _BY + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_by(cursor: str, sort: str) -> tuple[str | None, str]:
    refused = BadCursor("This page's link is not one the sheet gave: open the project again")
    if not cursor.startswith(_BY) or len(cursor) > MAX_CURSOR:
        raise refused
    try:
        text = cursor[len(_BY) :]
        found = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        raise refused from None
    if not (isinstance(found, list) and len(found) == 3 and found[0] == sort and isinstance(found[2], str)
            and (found[1] is None or isinstance(found[1], str))):  # fmt: skip
        raise refused
    return found[1], found[2]
