"""Moving a large file over HTTP on loopback against a plain copy on the same disk (issue 17: at least half its speed).

    python benchmarks/files.py [--size 1G] [--part-size 64M] [--parallel 4] [--repeat 3] [--folder /tmp]

A SQLite database and the server's storage (``FTRACK_LIKE_STORAGE``) in a scratch folder
under ``--folder``, where the source file and its plain copy are made too: one disk for
all. ``ftrack-like serve`` runs as a process of its own. Timed, ``--repeat`` rounds of the
three side by side (the machine is shared and noisy: medians, and every round in the JSON):

- the plain copy (``shutil.copyfile`` and an fsync, as the server's store syncs what it writes);
  each step starts once the machine has written out what the one before left (``sync``);
- an upload through ``session.transport.files()`` (parts of ``--part-size``, ``--parallel``
  at a time, each with its SHA-256; the server checks it, keeps the part and assembles the
  file on completion), then a download into a file (synced);

then once:

- an upload cut at 50 % and sent again: the time of the second half, and the parts it sent;
- thumbnails served per second (``GET /component/thumbnail``, cached after the first), from
  one connection asking one after the other (the client's own cost is half of it) and from
  four at once, with the server's CPU time per thumbnail (what one worker can serve: 1 / that),
  when the server has that route and Pillow is installed.

Memory: the client's peak (this process's ``ru_maxrss``) and the server's (``VmHWM`` in
``/proc/<pid>/status``, Linux), each beside what it held before the first transfer. A table to
the terminal and benchmarks/results/files.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Callable

import requests

from ftrack_like_api import Session
from ftrack_like_api.server import Backend
from scratch import cpu_seconds, ftrack_like, served_process

MIB = 1024 * 1024
UNITS = {"K": 1024, "M": MIB, "G": 1024 * MIB}


def size(text: str) -> int:
    """``1G``, ``256M``, ``64K`` or a number of bytes."""
    text = text.strip().upper().rstrip("B").rstrip("I")
    return int(float(text[:-1]) * UNITS[text[-1]]) if text and text[-1] in UNITS else int(text)


def make_source(path: pathlib.Path, total: int) -> None:
    """``total`` bytes that do not compress (a 16 MiB random block, over and over)."""
    block = os.urandom(16 * MIB)
    with open(path, "wb") as out:
        left = total
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))


def settle() -> None:
    """Write out what the machine still has to write (``sync``), so a timed step does not pay for the one before.

    Without it a download timed right after an upload spent 3 s of system time in its writes
    instead of 0.6 s: the kernel was still writing the upload out.
    """
    if hasattr(os, "sync"):
        os.sync()
    time.sleep(0.5)


def synced_copy(source: pathlib.Path, target: pathlib.Path) -> float:
    settle()
    started = time.perf_counter()
    shutil.copyfile(source, target)
    with open(target, "rb+") as copied:
        os.fsync(copied.fileno())
    return time.perf_counter() - started


def processes(pid: int) -> list[int]:
    """``pid`` and its children (``serve --workers N`` runs its workers as children; Linux: /proc)."""
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        children = []
    return [pid, *(int(child) for child in children)]


def server_cpu(pid: int) -> float:
    """CPU seconds the server (and its workers) used so far."""
    return sum(cpu_seconds(each) for each in processes(pid))


def peak_kib(pid: int) -> int | None:
    """The peak resident memory (VmHWM, KiB) of process ``pid``, None where /proc does not say."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def client_peak_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


class Cut(Exception):
    """Raised by a progress callback: the transfer stops there, as a dropped connection or Ctrl-C stops it."""


def client_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def transfers(url: Any, key: str, source: pathlib.Path, folder: pathlib.Path, options: argparse.Namespace) -> dict[str, Any]:
    total = source.stat().st_size
    rounds: list[dict[str, Any]] = []
    result: dict[str, Any] = {"rounds": rounds}
    with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
        project = session.create("Project", {"name": "bench-files", "project_schema": session.query("ProjectSchema").first()})
        shot = session.create("Shot", {"name": "sh010", "parent": project})
        asset = session.create("Asset", {"name": "plate", "parent": shot, "type": session.query("AssetType").first()})
        version = session.create("AssetVersion", {"asset": asset})
        components = [session.create("FileComponent", {"name": f"plate{n}", "file_type": ".bin", "size": total,
                                                       "version_id": version["id"]}) for n in range(options.repeat + 1)]  # fmt: skip
        session.commit()
        channel = session.transport.files()
        result["server_before_mib"] = max(resident_kib(each) for each in processes(url.pid)) / 1024
        result["client_before_mib"] = client_peak_kib() / 1024

        def timed(work: Callable[[], None]) -> tuple[float, dict[str, float]]:
            settle()
            started, cpu, served = time.perf_counter(), client_cpu(), server_cpu(url.pid)
            work()
            return time.perf_counter() - started, {"client": client_cpu() - cpu, "server": server_cpu(url.pid) - served}

        target = folder / "downloaded.bin"

        def download(component_id: str) -> None:
            with open(target, "wb") as out:
                channel.download(component_id, out)
                out.flush()
                os.fsync(out.fileno())

        for component in components[:-1]:
            copy_s = synced_copy(source, folder / "copy.bin")
            (folder / "copy.bin").unlink()
            upload_s, upload_cpu = timed(lambda: channel.upload(component["id"], source.name, source,
                                                                part_size=options.part_size, parallel=options.parallel))  # fmt: skip
            download_s, download_cpu = timed(lambda: download(component["id"]))
            if target.stat().st_size != total:
                raise SystemExit(f"the download has {target.stat().st_size} bytes, not {total}")
            target.unlink()
            rounds.append({"copy_s": copy_s, "upload_s": upload_s, "download_s": download_s,
                           "upload_vs_copy": copy_s / upload_s, "download_vs_copy": copy_s / download_s,
                           "upload_cpu_s": upload_cpu, "download_cpu_s": download_cpu})  # fmt: skip

        def at_half(done: int, whole: int) -> None:
            if done >= whole // 2:
                raise Cut()

        cut = components[-1]["id"]
        try:
            channel.upload(cut, source.name, source, part_size=options.part_size, parallel=options.parallel,
                           progress=at_half)  # fmt: skip
        except Cut:
            pass
        said: list[int] = []
        started = time.perf_counter()
        channel.upload(cut, source.name, source, part_size=options.part_size, parallel=options.parallel,
                       progress=lambda done, whole: said.append(done))  # fmt: skip
        result["resume_s"] = time.perf_counter() - started
        result["parts"] = -(-total // options.part_size)
        # The parts the server held are counted first, in one step of whole parts.
        result["resume_sent_bytes"] = total - (said[0] if said and said[0] >= options.part_size else 0)
        result["thumbnails"] = thumbnails(session, url, key, version, folder)
    return result


def thumbnails(session: Any, url: Any, key: str, version: Any, folder: pathlib.Path, count: int = 400) -> dict[str, Any] | None:
    """Cached thumbnails at 300 px served per second, one connection then four; None without the route or Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return None
    image = folder / "frame.jpg"
    Image.new("RGB", (2048, 1152), (40, 90, 160)).save(image, quality=90)
    component = session.create("FileComponent", {"name": "frame", "file_type": ".jpg", "size": image.stat().st_size,
                                                 "version_id": version["id"]})  # fmt: skip
    session.commit()
    session.transport.files().upload(component["id"], image.name, image)
    headers = {"ftrack-user": "admin", "ftrack-api-key": key}
    address, params = f"{url}/component/thumbnail", {"id": component["id"], "size": 300}
    with requests.Session() as http:
        started = time.perf_counter()
        first = http.get(address, params=params, headers=headers, timeout=60)
        scaled_s = time.perf_counter() - started
        if first.status_code != 200:
            return None if first.status_code == 404 and "json" not in first.headers.get("content-type", "") else {
                "error": first.status_code}

    def ask(times: int) -> None:
        with requests.Session() as http:
            for _ in range(times):
                http.get(address, params=params, headers=headers, timeout=60).raise_for_status()

    measured: dict[str, Any] = {"first_scaled_s": scaled_s, "size_px": 300}
    for connections in (1, 4):
        threads = [threading.Thread(target=ask, args=(count // connections,)) for _ in range(connections)]
        started, served = time.perf_counter(), server_cpu(url.pid)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed, used = time.perf_counter() - started, server_cpu(url.pid) - served
        count_served = count // connections * connections
        measured[f"per_s_{connections}"] = count_served / elapsed
        measured[f"server_cpu_ms_{connections}"] = used * 1000 / count_served
    measured["per_s"] = measured["per_s_1"]
    return measured


def resident_kib(pid: int) -> int:
    """What process ``pid`` holds now (VmRSS, KiB; 0 where /proc does not say)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def median(rounds: list[dict[str, Any]], field: str, side: str | None = None) -> float:
    return statistics.median(item[field][side] if side else item[field] for item in rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=size, default=size("1G"), help="the file's size (default 1G)")
    parser.add_argument("--part-size", type=size, default=64 * MIB, help="default 64M")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="ftrack-like serve --workers (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of copy, upload and download (medians; default 3)")
    parser.add_argument("--folder", type=pathlib.Path, default=pathlib.Path(tempfile.gettempdir()),
                        help="where the scratch folder goes (one disk for the copy, the storage and the download)")  # fmt: skip
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path(__file__).parent / "results" / "files.json")
    options = parser.parse_args()
    executable = ftrack_like()
    with tempfile.TemporaryDirectory(prefix="bench-files-", dir=options.folder) as scratch:
        folder = pathlib.Path(scratch)
        source = folder / "source.bin"
        make_source(source, options.size)
        database = f"sqlite:///{folder / 'studio.db'}"
        with Backend.from_url(database) as backend:
            key = backend.auth.create_key("admin", "benchmark")
        environment = {**os.environ, "FTRACK_LIKE_STORAGE": str(folder / "storage")}
        with served_process(executable, database, workers=options.workers, environment=environment) as url:
            result = transfers(url, key, source, folder, options)
            peaks = [peak for peak in (peak_kib(each) for each in processes(url.pid)) if peak is not None]
            server_peak = max(peaks) if peaks else None
    mb = options.size / 1e6
    rounds = result["rounds"]
    copy_s, upload_s, download_s = (median(rounds, field) for field in ("copy_s", "upload_s", "download_s"))
    report = {
        "benchmark": "files", "size_bytes": options.size, "part_size": options.part_size, "parallel": options.parallel,
        "repeat": options.repeat, "workers": options.workers, "rounds": rounds,
        "copy_s": copy_s, "copy_mb_s": mb / copy_s,
        "upload_s": upload_s, "upload_mb_s": mb / upload_s, "download_s": download_s, "download_mb_s": mb / download_s,
        "upload_vs_copy": median(rounds, "upload_vs_copy"), "download_vs_copy": median(rounds, "download_vs_copy"),
        "upload_cpu_s": {side: median(rounds, "upload_cpu_s", side) for side in ("client", "server")},
        "download_cpu_s": {side: median(rounds, "download_cpu_s", side) for side in ("client", "server")},
        "resume_after_half_s": result["resume_s"], "parts": result["parts"],
        "resume_sent_bytes": result["resume_sent_bytes"],
        "client_peak_mib": client_peak_kib() / 1024, "client_before_mib": result["client_before_mib"],
        "server_peak_mib": server_peak / 1024 if server_peak is not None else None,
        "server_before_mib": result["server_before_mib"],
        "thumbnails": result["thumbnails"],
    }  # fmt: skip
    spread = {field: f"{min(r[field] for r in rounds):.2f}-{max(r[field] for r in rounds):.2f}"
              for field in ("upload_vs_copy", "download_vs_copy")}  # fmt: skip
    rows = [
        ("plain copy (synced)", f"{report['copy_s']:.2f} s", f"{report['copy_mb_s']:.0f} MB/s", ""),
        ("upload over HTTP", f"{report['upload_s']:.2f} s", f"{report['upload_mb_s']:.0f} MB/s",
         f"{report['upload_vs_copy']:.2f} of the copy ({spread['upload_vs_copy']}; target 0.5); CPU s client "
         f"{report['upload_cpu_s']['client']:.1f}, server {report['upload_cpu_s']['server']:.1f}"),
        ("download over HTTP", f"{report['download_s']:.2f} s", f"{report['download_mb_s']:.0f} MB/s",
         f"{report['download_vs_copy']:.2f} of the copy ({spread['download_vs_copy']}; target 0.5); CPU s client "
         f"{report['download_cpu_s']['client']:.1f}, server {report['download_cpu_s']['server']:.1f}"),
        ("resume after a cut at 50 %", f"{report['resume_after_half_s']:.2f} s", "",
         f"sent {report['resume_sent_bytes'] / MIB:,.0f} MiB of {options.size / MIB:,.0f} ({report['parts']} parts in all)"),
        ("peak memory, client", f"{report['client_peak_mib']:.0f} MiB", "",
         f"ru_maxrss of this process ({report['client_before_mib']:.0f} MiB before the first transfer)"),
        ("peak memory, server", f"{report['server_peak_mib']:.0f} MiB" if server_peak is not None else "-", "",
         f"VmHWM of ftrack-like serve, its largest process ({report['server_before_mib']:.0f} MiB before the first transfer)"),
    ]  # fmt: skip
    thumbs = report["thumbnails"]
    if thumbs and "per_s" in thumbs:
        rows.append(("thumbnails served (cached, 300 px)", f"{thumbs['per_s_1']:.0f} /s", "",
                     f"one connection; {thumbs['per_s_4']:.0f} /s from four; server CPU "
                     f"{thumbs['server_cpu_ms_4']:.2f} ms each (one worker: {1000 / thumbs['server_cpu_ms_4']:.0f} /s); "
                     f"first one scaled in {thumbs['first_scaled_s'] * 1000:.0f} ms"))  # fmt: skip
    else:
        rows.append(("thumbnails served", "-", "", "no thumbnail route or no Pillow" if not thumbs else str(thumbs)))
    print(f"{options.size / MIB:,.0f} MiB file, parts of {options.part_size / MIB:g} MiB, {options.parallel} at a time; "
          f"{options.workers} worker(s); medians of {options.repeat} rounds")
    for row in rows:
        print(f"  {row[0]:36} {row[1]:>10} {row[2]:>11}  {row[3]}")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
