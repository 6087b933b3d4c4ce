"""Parse time per query, cold and cached, for a corpus of realistic queries.

    python benchmarks/query_parse.py [--repeat 7] [--output benchmarks/results/query_parse.json]

Cold: the parse cache is cleared before each parse, so the grammar runs every time.
Cached: the same text again, a hit in the LRU. A plain ``dict`` lookup of the text is
measured beside it as the yardstick: a cached parse should cost about as much. Bind and
render (what a client does with a parameterised query before sending it) are measured
too. Every figure is the median of ``--repeat`` runs; the table goes to the terminal
and the figures to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import sys
import time
import uuid

import pyparsing

from ftrack_like_api.query import bind, parse, render

IDS = [str(uuid.UUID(int=n * 7919 + 11)) for n in range(50)]
PROJECT = "5671dcb0-66de-11e1-8e6e-f23c91df25eb"

CORPUS = {
    "type only": "Task",
    "by id (client style)": f"Task where id is {IDS[0]}",
    "select + filter": f"select name, status.name, created_at from Task where project_id is {PROJECT}",
    "paged (client style)": f"select name from Task where project_id is {PROJECT} offset 500 limit 500",
    "ordered page": 'select name from Task where project.name is "tutorial" order by name desc offset 10 limit 5',
    "nested paths": "select id, name, status.name, assignments.resource.username from Task "
    "where status.state.short is NOT_STARTED",
    "and/or/not": 'Shot where parent.name is "sq010" and (status.name is "Approved" or not status.name like "%Omit%")',
    "any/has": 'Task where assignments any (resource.username is "jo") and timelogs any () '
    'and parent has (name like "sh0%")',
    "subquery": f"Note where parent_id in (select id from Shot where project_id is {PROJECT})",
    "group by": 'select count(id), status_id from Task where project_id is "x" group by status_id',
    "composite keys (client)": " or ".join(
        f'(component_id is "{IDS[i]}"and note_id is "{IDS[i + 1]}")' for i in range(0, 10, 2)
    ).join(("NoteComponent where ", "")),
    "custom attribute": 'Task where custom_attributes any (key is "fps" and value is 25)',
    "populate 50 ids (client)": f"select name, status_id, bid from Task where id in ({', '.join(IDS)})",
    "parameters": "User where username is :name and is_active is :active",
}
PARAMETERS = {"parameters": {"name": 'jo "the" dev', "active": True}}


def per_call(function, loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        function()
    return (time.perf_counter() - start) / loops


def median_of(repeat: int, function, loops: int) -> float:
    return statistics.median(per_call(function, loops) for _ in range(repeat))


def cold_parse(text: str) -> None:
    parse.cache_clear()
    parse(text)


def measure(repeat: int) -> list[dict]:
    rows = []
    for name, text in CORPUS.items():
        table = {text: 1}
        parse(text)  # warm the cache for the cached figure
        cold = median_of(repeat, lambda: cold_parse(text), 20)
        parse(text)
        cached = median_of(repeat, lambda: parse(text), 20_000)
        lookup = median_of(repeat, lambda: table[text], 20_000)
        values = PARAMETERS.get(name, {})
        query = parse(text)
        bind_render = median_of(repeat, lambda: render(bind(query, values)), 500)
        rows.append(
            {
                "query": name,
                "characters": len(text),
                "cold_parse_us": cold * 1e6,
                "cached_parse_us": cached * 1e6,
                "dict_lookup_us": lookup * 1e6,
                "cached_over_dict": cached / lookup,
                "bind_render_us": bind_render * 1e6,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure; the median is reported")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "query_parse.json")
    options = parser.parse_args()

    rows = measure(options.repeat)
    header = f"{'query':26} {'chars':>5} {'cold µs':>9} {'cached µs':>10} {'dict µs':>8} {'ratio':>6} {'bind+render µs':>15}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['query']:26} {row['characters']:5d} {row['cold_parse_us']:9.1f} {row['cached_parse_us']:10.3f}"
            f" {row['dict_lookup_us']:8.3f} {row['cached_over_dict']:6.1f} {row['bind_render_us']:15.1f}"
        )
    cold = statistics.median(r["cold_parse_us"] for r in rows)
    cached = statistics.median(r["cached_parse_us"] for r in rows)
    print(f"\nmedian over the corpus: cold {cold:.1f} µs, cached {cached:.3f} µs per parse")

    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(
        json.dumps(
            {
                "benchmark": "query_parse",
                "python": sys.version.split()[0],
                "pyparsing": pyparsing.__version__,
                "machine": platform.machine(),
                "repeat": options.repeat,
                "median_cold_parse_us": cold,
                "median_cached_parse_us": cached,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"written to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
