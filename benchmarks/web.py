"""The web page: how long a project's sheet takes to render, and a status change's trip to another open browser.

    python benchmarks/web.py [--sizes 10000,100000] [--databases sqlite,postgresql] [--repeat 20] [--round-trips 20]
                             [--per-shot 100]

For each size, a new database holds one project of that many tasks (sequences of 10 shots,
shots of 100 tasks; written straight into the tables, as benchmarks/scale.py fills its
databases), served by ``ftrack-like serve`` as a process of its own on 127.0.0.1. Signed
in as the admin, it times ``GET /web/projects/<id>`` — the first page of 100 rows in the
default order (sequence, shot, task), sorted by status, filtered, and the 50th page by its
``after`` cursor — median over ``--repeat`` requests (the time on loopback: the server's
rendering plus a few hundred microseconds of HTTP).

Then, in headless Chromium (Debian's, through Playwright), one page watches the sheet and
another changes a task's Status on its page: the round trip is from the change (the
select's ``change`` event, in the changer's page) to the watcher's row showing the new
status (a MutationObserver in the watcher's page), both read on the same clock;
median and worst over ``--round-trips`` changes.

Targets (issue 21): a 100-row page ≤ 50 ms, flat from 10k to 1M tasks; the round trip
≤ 300 ms on loopback. Figures to benchmarks/results/web.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import re
import shutil
import statistics
import sys
import time
import uuid
from typing import Any

import requests

from ftrack_like_api.server import Backend
from ftrack_like_api.server.engine.seed import OBJECT_TYPES
from ftrack_like_api.server.engine.storage import insert_rows
from scratch import scratch_database, served_process

PASSWORD = "benchmark password"
PRIORITY_ID = "9661b320-3a0c-11e2-81c1-0800200c9a66"
PER_SHOT, PER_SEQUENCE = 100, 10


def fill(url: str, size: int) -> dict[str, Any]:
    """One project of ``size`` tasks in the new database at ``url``: its id and a task's."""
    with Backend.from_url(url) as backend:
        def query(expression: str) -> list[dict[str, Any]]:
            answer = backend.execute([{"action": "query", "expression": expression}], "admin")
            assert isinstance(answer, list), answer
            return answer[0]["data"]

        schema_id = query("ProjectSchema")[0]["id"]
        statuses, types = [s["id"] for s in query("Status")], [t["id"] for t in query("Type")]
        admin = query('User where username is "admin"')[0]["id"]
        backend.auth.set_password("admin", PASSWORD)
        context = backend.storage.tables["context"]
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        project = str(uuid.uuid4())
        common = {"context_type": "task", "project_id": project, "priority_id": PRIORITY_ID, "bid": 0, "created_at": now,
                  "created_by_id": admin, "status_id": statuses[0], "type_id": types[0]}  # fmt: skip
        rows: list[dict[str, Any]] = [{"id": project, "name": "big", "full_name": "Big", "context_type": "show",
                                       "project_id": project, "project_schema_id": schema_id, "status": "active",
                                       "is_global": False, "is_private": False, "root": "", "created_at": now,
                                       "created_by_id": admin}]  # fmt: skip
        first_task = None
        with backend.engine.begin() as connection:
            shots = (size + PER_SHOT - 1) // PER_SHOT
            for s in range(shots):
                if s % PER_SEQUENCE == 0:
                    sequence = str(uuid.uuid4())
                    rows.append({**common, "id": sequence, "name": f"sq{s // PER_SEQUENCE:04d}", "parent_id": project,
                                 "object_type_id": OBJECT_TYPES["Sequence"][0], "sort": s})  # fmt: skip
                shot = str(uuid.uuid4())
                rows.append({**common, "id": shot, "name": f"sh{s:05d}", "parent_id": sequence,
                             "object_type_id": OBJECT_TYPES["Shot"][0], "sort": s})  # fmt: skip
                for t in range(min(PER_SHOT, size - s * PER_SHOT)):
                    task = str(uuid.uuid4())
                    first_task = first_task or task
                    rows.append({**common, "id": task, "name": f"task{t:03d}", "parent_id": shot, "sort": t,
                                 "object_type_id": OBJECT_TYPES["Task"][0], "status_id": statuses[(s + t) % len(statuses)],
                                 "type_id": types[t % len(types)], "bid": t / 10})  # fmt: skip
                if len(rows) >= 10_000:
                    insert_rows(connection, context, rows, 1000)
                    rows.clear()
            insert_rows(connection, context, rows, 1000)
        with backend.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        return {"project": project, "task": first_task, "statuses": statuses}


def signed_in(url: str) -> requests.Session:
    browser = requests.Session()
    browser.trust_env = False
    answer = browser.post(f"{url}/web/signin", data={"username": "admin", "password": PASSWORD}, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return browser


def timed(browser: requests.Session, url: str, repeat: int) -> tuple[float, str]:
    """Median milliseconds of GET ``url`` over ``repeat`` requests (after one to warm), and the page."""
    page = browser.get(url)
    assert page.status_code == 200, page.text[:500]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        page = browser.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert page.status_code == 200
    return statistics.median(times), page.text


def pages(url: str, made: dict[str, Any], repeat: int, size: int) -> dict[str, float]:
    browser = signed_in(url)
    sheet = f"{url}/web/projects/{made['project']}"
    found: dict[str, float] = {}
    found["first page"], text = timed(browser, sheet, repeat)
    assert text.count('class="task ') == 100
    found["sorted by status"], _ = timed(browser, f"{sheet}?sort=status", repeat)
    found["filtered"], _ = timed(browser, f'{sheet}?filter=type.name+is+%22Animation%22+and+bid+%3E+5', repeat)
    following, deep = sheet, min(50, size // 100)
    for _ in range(deep - 1):  # to page 50 (or the last), cursor by cursor
        text = browser.get(following).text
        following = url + re.search(r'<a href="([^"]+)" rel="next">', text).group(1).replace("&amp;", "&")
    found[f"page {deep}"], _ = timed(browser, following, repeat)
    return found


def round_trips(url: str, made: dict[str, Any], count: int) -> dict[str, float] | None:
    """Change → other browser's row, in milliseconds (median, max), or None without chromium/Playwright."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright is not installed: no round trip measured", file=sys.stderr)
        return None
    if not pathlib.Path(chromium).exists():
        print("chromium is not installed: no round trip measured", file=sys.stderr)
        return None
    task, statuses = made["task"], made["statuses"]
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        watcher_context, changer_context = browser.new_context(), browser.new_context()
        for context in (watcher_context, changer_context):
            context.request.post(f"{url}/web/signin", form={"username": "admin", "password": PASSWORD})
        watcher, changer = watcher_context.new_page(), changer_context.new_page()
        watcher.goto(f"{url}/web/projects/{made['project']}")
        watcher.wait_for_selector("body[data-listening]")
        changer.goto(f"{url}/web/entities/Task/{task}")
        for n in range(count):
            wanted = statuses[(n + 1) % len(statuses)]
            seen = watcher.evaluate_handle(
                """([id, wanted]) => ({arrival: new Promise((resolve) => {
                    const check = () => {
                        const select = document.querySelector(`tr[data-id="${id}"] select`);
                        if (select && select.value === wanted) { observer.disconnect(); resolve(Date.now()); }
                    };
                    const observer = new MutationObserver(check);
                    observer.observe(document.querySelector("table.sheet"), {childList: true, subtree: true});
                    setTimeout(() => { observer.disconnect(); resolve(null); }, 10000);
                })})""", [task, wanted])  # fmt: skip  (wrapped: a promise returned would be awaited here)
            sent = changer.evaluate(
                """(wanted) => { const select = document.querySelector("select[aria-label=Status]");
                    select.value = wanted; const at = Date.now(); select.dispatchEvent(new Event("change")); return at; }""",
                wanted)  # fmt: skip
            arrived = watcher.evaluate("(seen) => seen.arrival", seen)
            if arrived is None:
                raise RuntimeError(f"change {n}: the watching page did not show it within 10 s")
            times.append(arrived - sent)
            time.sleep(0.2)
        browser.close()
    return {"median": statistics.median(times), "max": max(times), "changes": count}


def main() -> int:
    global PER_SHOT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--round-trips", type=int, default=20)
    parser.add_argument("--per-shot", type=int, default=100, help="tasks in each shot (a page then spans 100/n shots)")
    options = parser.parse_args()
    PER_SHOT = options.per_shot
    executable = str(pathlib.Path(sys.executable).with_name("ftrack-like"))
    results = []
    for kind in options.databases.split(","):
        for size in (int(s) for s in options.sizes.split(",")):
            with scratch_database(kind) as database:
                started = time.perf_counter()
                made = fill(database, size)
                filled = time.perf_counter() - started
                with served_process(executable, database) as url:
                    timings = pages(url, made, options.repeat, size)
                    found: dict[str, Any] = {"database": kind, "tasks": size, "per_shot": PER_SHOT, "fill_s": round(filled, 1),
                                             "page_ms": {k: round(v, 1) for k, v in timings.items()}}  # fmt: skip
                    trip = round_trips(url, made, options.round_trips) if options.round_trips else None
                    found["round_trip_ms"] = trip and {k: round(v, 1) for k, v in trip.items()}
            print(json.dumps(found), flush=True)
            results.append(found)
    out = pathlib.Path(__file__).with_name("results") / "web.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
