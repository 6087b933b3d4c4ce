"""Zou's side of ``benchmarks/peers.py``: build a production in a running Zou, then time gazu's calls on it.

    <zou venv>/bin/python benchmarks/peers_zou.py URL EMAIL PASSWORD DATABASE_URL TASKS [--reuse]

Run by ``peers.py`` with the Python of Zou's own virtual environment (Zou and gazu pin
what this package does not). Prints the ids of what it built as one JSON line, then
answers rounds: a line ``NAME COUNT`` on stdin (a method of :class:`Measures`) is
answered by a JSON line of the seconds of each of COUNT calls, so that the caller takes
turns with its own measures and a busy machine slows both alike.

The production: one project, one sequence, ``TASKS / 5`` shots, 5 tasks a shot (one per
shot task type), each task at a status picked at random. The first shot and its tasks are
made through gazu, as a studio would; the others are copies of them made in SQL on Zou's
database (``DATABASE_URL``), because 75,000 tasks made through gazu take a quarter of an
hour (the issue measured 86 entities a second). With ``--reuse``, a production of TASKS
tasks built before in that database is used again.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from typing import Any, Callable

import gazu
import psycopg

PER_SHOT = 5


def timed(function: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Seconds of each of ``runs`` calls of ``function``, and what the last returned."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def build(database: str, tasks: int) -> dict[str, Any]:
    """The production (see the module's docstring); the ids the measures need."""
    statuses = gazu.task.all_task_statuses()
    shot_types = [t for t in gazu.task.all_task_types() if t.get("for_entity") == "Shot"][:PER_SHOT]
    if len(shot_types) < PER_SHOT:
        raise SystemExit(f"Zou has {len(shot_types)} shot task types, {PER_SHOT} needed (zou init-data makes them)")
    project = gazu.project.new_project(f"bench{tasks}_{uuid.uuid4().hex[:6]}", "featurefilm")
    for task_type in shot_types:
        gazu.project.add_task_type(project, task_type, 1)
    for status in statuses:
        gazu.project.add_task_status(project, status)
    sequence = gazu.shot.new_sequence(project, "SQ001")
    shot = gazu.shot.new_shot(project, sequence, "SH00000")
    for task_type in shot_types:
        gazu.task.new_task(shot, task_type)
    shots = max(1, tasks // PER_SHOT)
    rng = random.Random(7)
    with psycopg.connect(database, autocommit=False) as connection:
        columns = [row[0] for row in connection.execute(
            "select column_name from information_schema.columns where table_name = 'entity' and table_schema = 'public'"
            " order by ordinal_position")]  # fmt: skip
        copied = [c for c in columns if c not in ("id", "name")]
        shot_ids = [str(uuid.uuid4()) for _ in range(shots - 1)]
        connection.execute(
            f"insert into entity (id, name, {', '.join(copied)}) "
            f"select ids.id::uuid, 'SH' || lpad(ids.n::text, 5, '0'), {', '.join('e.' + c for c in copied)} "
            "from entity e, unnest(%s::text[]) with ordinality as ids(id, n) where e.id = %s",
            (shot_ids, shot["id"]),
        )  # fmt: skip
        task_columns = [row[0] for row in connection.execute(
            "select column_name from information_schema.columns where table_name = 'task' and table_schema = 'public'"
            " order by ordinal_position")]  # fmt: skip
        kept = [c for c in task_columns if c not in ("id", "entity_id", "task_status_id")]
        status_ids = [s["id"] for s in statuses]
        templates = connection.execute("select id from task where entity_id = %s order by id", (shot["id"],)).fetchall()
        for (template,) in templates:
            picks = [rng.choice(status_ids) for _ in shot_ids]
            connection.execute(
                f"insert into task (id, entity_id, task_status_id, {', '.join(kept)}) "
                f"select gen_random_uuid(), s.shot::uuid, s.status::uuid, {', '.join('t.' + c for c in kept)} "
                "from task t, unnest(%s::text[], %s::text[]) as s(shot, status) where t.id = %s",
                (shot_ids, picks, template),
            )  # fmt: skip
        connection.execute("analyze entity")
        connection.execute("analyze task")
        connection.commit()
    some_task = gazu.task.all_tasks_for_shot(shot)[0]
    return {"project": project["id"], "shot": shot_ids[len(shot_ids) // 2] if shot_ids else shot["id"],
            "status": status_ids[0], "statuses": status_ids[:2], "task": some_task["id"], "shots": shots}  # fmt: skip


def built_before(database: str, tasks: int) -> dict[str, Any] | None:
    """The ids :func:`build` gave for ``tasks`` tasks in ``database``, when it built them there before."""
    with psycopg.connect(database) as connection:
        found = connection.execute(
            "select p.id::text from project p where p.name like %s and (select count(*) from task t where "
            "t.project_id = p.id) = %s order by p.created_at desc limit 1", (f"bench{tasks}_%", tasks)).fetchone()  # fmt: skip
        if found is None:
            return None
        project = found[0]
        shots = max(1, tasks // PER_SHOT)
        first, middle = (connection.execute(
            "select id::text from entity where project_id = %s and name = %s", (project, name)).fetchone()[0]
            for name in ("SH00000", f"SH{(shots - 1) // 2 + 1:05d}"))  # fmt: skip
    statuses = gazu.task.all_task_statuses()
    status_ids = [s["id"] for s in statuses]
    some_task = gazu.task.all_tasks_for_shot(first)[0]
    return {"project": project, "shot": middle if shots > 1 else first, "status": status_ids[0],
            "statuses": status_ids[:2], "task": some_task["id"], "shots": shots}  # fmt: skip


class Measures:
    """One round of each measure, on the production ``built`` made."""

    def __init__(self, built: dict[str, Any]) -> None:
        self.built = built
        self.flip = 0

    def list(self) -> int:
        # What a client of the board needs: the statuses and task types by id, and every shot with its tasks.
        gazu.client.fetch_all("task-status")
        gazu.client.fetch_all("task-types")
        shots = gazu.client.fetch_all("shots/with-tasks", {"project_id": self.built["project"]})
        return sum(len(shot["tasks"]) for shot in shots)

    def list_compact(self) -> int:
        gazu.client.fetch_all("task-status")
        gazu.client.fetch_all("task-types")
        answer = gazu.client.fetch_all("shots/with-tasks", {"project_id": self.built["project"], "compact": "true"})
        rows = answer.get("rows", answer) if isinstance(answer, dict) else answer
        return len(rows)

    def shot_tasks(self) -> int:
        return len(gazu.client.get(f"data/shots/{self.built['shot']}/tasks"))

    def status(self) -> int:
        return len(gazu.client.get(f"data/task-status/{self.built['status']}"))

    def status_page(self) -> int:
        page = {"project_id": self.built["project"], "task_status_id": self.built["status"], "page": 1, "limit": 100}
        answer = gazu.client.get("data/tasks", params=page)
        return len(answer["data"] if isinstance(answer, dict) else answer)

    def update(self) -> int:
        self.flip += 1
        status = self.built["statuses"][self.flip % 2]
        gazu.client.put(f"data/tasks/{self.built['task']}", {"task_status_id": status})
        return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("email")
    parser.add_argument("password")
    parser.add_argument("database")
    parser.add_argument("tasks", type=int)
    parser.add_argument("--reuse", action="store_true", help="use a production built before in that database")
    options = parser.parse_args()
    gazu.set_host(options.url)
    gazu.log_in(options.email, options.password)
    start = time.perf_counter()
    built = (options.reuse and built_before(options.database, options.tasks)) or build(options.database, options.tasks)
    built["build_s"] = time.perf_counter() - start
    print(json.dumps(built), flush=True)
    measures = Measures(built)
    # Then rounds, as the caller asks for them (it takes turns with its own): "NAME COUNT" a line,
    # answered by one line: the seconds of each of COUNT calls and what the last found.
    for line in sys.stdin:
        name, count = line.split()
        function = getattr(measures, name)
        try:
            times, found = timed(function, int(count))
            print(json.dumps({"seconds": times, "found": found}), flush=True)
        except Exception as error:  # said to the caller, which decides (compact=true is an option of this Zou only)
            print(json.dumps({"error": repr(error)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
