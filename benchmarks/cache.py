"""Disk cache: writing entities and starting warm, against PERFORMANCE.md.

    python benchmarks/cache.py [--entities 4000] [--repeat 5]

Writes realistic serialised entities into a ``SerialisedCache(FileCache(...))`` one at
a time and in one ``update``, then opens a second cache on the same file and reads
everything back (a warm start). Targets: <= 50 µs per entity written; <= 0.2 s to read
4,000 back. Medians of ``--repeat`` runs; figures to benchmarks/results/cache.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time
import uuid

from ftrack_like_api.cache import FileCache, SerialisedCache


def entity(n: int) -> dict:
    return {
        "__entity_type__": "Task", "id": str(uuid.UUID(int=n)), "name": f"task{n:05d}", "bid": 2.5,
        "status_id": str(uuid.UUID(int=7)), "type_id": str(uuid.UUID(int=8)), "parent_id": str(uuid.UUID(int=9)),
        "project_id": str(uuid.UUID(int=10)), "context_type": "task", "description": "a task among many",
        "start_date": {"__type__": "datetime", "value": "2024-05-01T08:00:00"},
    }  # fmt: skip


def run(count: int, directory: pathlib.Path, round_: int) -> dict[str, float]:
    path = directory / f"cache{round_}.sqlite"
    entities = {f"Task:{n}": entity(n) for n in range(count)}
    cache = SerialisedCache(FileCache(path))
    start = time.perf_counter()
    for key, value in entities.items():
        cache[key] = value
    one_by_one = (time.perf_counter() - start) / count
    cache.clear()
    start = time.perf_counter()
    cache.update(entities)
    batched = (time.perf_counter() - start) / count
    cache.proxied.close()
    start = time.perf_counter()
    warm = SerialisedCache(FileCache(path))
    read = dict(warm.items())
    warm_start = time.perf_counter() - start
    assert len(read) == count
    warm.proxied.close()
    return {"write_one_us": one_by_one * 1e6, "write_batched_us": batched * 1e6, "warm_start_s": warm_start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "cache.json")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        runs = [run(options.entities, pathlib.Path(directory), n) for n in range(options.repeat)]
    result = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
    print(f"file cache, {options.entities} entities, median of {options.repeat}:")
    print(f"  write one entity at a time   {result['write_one_us']:8.1f} µs per entity  (target 50 µs)")
    print(f"  write all in one update      {result['write_batched_us']:8.1f} µs per entity")
    print(f"  warm start, read all back    {result['warm_start_s'] * 1000:8.1f} ms            (target 200 ms)")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"benchmark": "cache", "entities": options.entities, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
