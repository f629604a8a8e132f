"""``larza reprocess`` speed: station-days per minute with 1 and 2 local Dask workers (the
cluster ``--workers N`` starts), 2 workers in Dask's ``LocalCluster`` (its scheduler and
nannies in the client's process: what ``--workers`` used before) and through a separately
started ``dask scheduler`` + 2 ``dask worker`` processes on loopback, beside ``larza
detect`` in one process on the same data; each worker's resident memory after the runs
(``larza detect``: its peak); the processor time of this (the client's) process during a
run; the load average, as the machine may be shared.

The data: the test archive (``tests/ingest/sds_quakes.py``: ObsPy's RJOB local event set
into Gaussian noise every 290 s at the three TJ stations, HHZ/HHN/HHE at 100 sps, 512-byte
Steim-2 day files), ``--hours`` long (default 12: 1.5 station-days), cut into ``--chunk``
chunks (default 1 h). A reprocess figure covers the whole run as a user waits for it:
chunks on the cluster, the picks stored per chunk (SQLite), the association and the
catalogue stored; the cluster's start is timed apart. Run::

    .venv/bin/python bench/reprocess.py [--hours 12] [--chunk 1h] [--rounds 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path: take it off, and put the
# repository's root on it (for the test archive's writer).
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(ROOT))

import argparse
import logging
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ingest.config import LarzaConfig
from ingest.detect.files import run_detect, station_positions
from ingest.reprocess import RunSpec, parse_duration, reprocess
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from tests.ingest.sds_quakes import STATIONS, write_archive


def _peak_mb() -> float:
    """This process's peak resident memory (a forked worker's starts at its parent's)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """This process's resident memory now."""
    import psutil  # type: ignore[import-untyped]

    return float(psutil.Process().memory_info().rss) / 2**20


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(client: Any, root: Path, start: float, end: float, chunk_s: float, name: str,
         folder: Path) -> tuple[float, int, float, float]:  # fmt: skip
    """One reprocess run on ``client`` into a fresh SQLite database: (seconds, picks, the
    chunks' processor seconds on the workers, this process's processor seconds)."""
    engine = make_engine(f"sqlite:///{folder / (name + '.sqlite')}")
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    spec = RunSpec(name, root, start, end, tuple(STATIONS), chunk_s, "", str(root))
    positions = station_positions([default_inventory_path()])
    t0, own = time.perf_counter(), time.process_time()
    summary = reprocess(spec, factory, client, LarzaConfig(), positions=positions, resume=False)
    seconds, own = time.perf_counter() - t0, time.process_time() - own
    engine.dispose()
    assert summary.status == "finished", summary
    return seconds, summary.detections, summary.cpu_s, own


def _local(workers: int) -> Callable[[], Any]:
    """The cluster ``larza reprocess --workers N`` starts."""

    def start() -> Any:
        from distributed import Client

        from ingest.cli.reprocess import local_cluster

        cluster = local_cluster(workers)
        client = Client(cluster.__enter__(), timeout="60s")  # type: ignore[no-untyped-call]
        client.wait_for_workers(workers, timeout=120)
        return cluster, client

    return start


def _dask_local(workers: int) -> Callable[[], Any]:
    """Dask's ``LocalCluster``: the scheduler and the nannies in this process."""

    def start() -> Any:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        return cluster, Client(cluster)  # type: ignore[no-untyped-call]

    return start


def _separate(folder: Path) -> Callable[[], Any]:
    def start() -> Any:
        from distributed import Client

        dask = str(Path(sys.executable).parent / "dask")
        port = _port()
        address = f"tcp://127.0.0.1:{port}"
        logs = (folder / "dask.log").open("ab")
        scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port)]
        scheduler += ["--dashboard-address", ":0"]
        procs = [subprocess.Popen(scheduler, stdout=logs, stderr=logs)]
        for _ in range(2):
            procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "1",
                                           "--nthreads", "1", "--no-dashboard"],
                                          stdout=logs, stderr=logs))  # fmt: skip
        client = Client(address, timeout="60s")  # type: ignore[no-untyped-call]
        client.wait_for_workers(2, timeout=120)
        return procs, client

    return start


def _stop(handle: Any, client: Any) -> None:
    client.close()
    if isinstance(handle, list):
        for p in reversed(handle):
            p.terminate()
        for p in handle:
            p.wait(timeout=30)
    elif hasattr(handle, "__exit__") and not hasattr(handle, "close"):
        handle.__exit__(None, None, None)
    else:
        handle.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument("--chunk", default="1h")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setting (best kept)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="larza-bench-reprocess-"))
    try:
        root = folder / "sds"
        print(f"writing {args.hours:g} h of {len(STATIONS)} stations x 3 channels at 100 sps ...")
        first, last = write_archive(root, args.hours * 60)
        start, end = first, last + 0.01
        days = len(STATIONS) * (end - start) / 86400
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6
        print(f"{days:.2f} station-days, {size:.0f} MB of miniSEED; chunks of {args.chunk}")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        chunk_s = parse_duration(args.chunk)
        rows: list[tuple[str, float, float, int, str, float, float]] = []

        best = min(_timed_detect(root) for _ in range(args.rounds))
        rows.append(
            (
                "larza detect, one process",
                0.0,
                best[0],
                best[1],
                f"{_peak_mb():.0f}",
                best[2],
                best[2],
            )
        )

        settings = [
            ("reprocess, 1 local worker", _local(1)),
            ("reprocess, 2 local workers", _local(2)),
            ("reprocess, 2 workers in Dask's LocalCluster", _dask_local(2)),
            ("reprocess, dask scheduler + 2 workers", _separate(folder)),
        ]
        for label, starter in settings:
            t0 = time.perf_counter()
            handle, client = starter()
            startup = time.perf_counter() - t0
            times = []
            for i in range(args.rounds):
                name = f"r{len(rows)}{i}"
                times.append(_run(client, root, start, end, chunk_s, name, folder))
            seconds, picks, cpu, own = min(times)
            now = client.run(_rss_mb)
            memory = "/".join(f"{v:.0f}" for v in now.values())
            _stop(handle, client)
            rows.append((label, startup, seconds, picks, memory, cpu, own))

        base = rows[0][2]
        print()
        print("| setting | start s | run s | station-days/min | x detect | picks | MB a worker "
              "| station-days per CPU-min | client CPU s |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for label, startup, seconds, picks, memory, cpu, own in rows:
            rate, per_cpu = days / seconds * 60, days / cpu * 60
            print(f"| {label} | {startup:.1f} | {seconds:.1f} | {rate:.1f} | "
                  f"{base / seconds:.2f} | {picks} | {memory} | {per_cpu:.1f} | "
                  f"{own:.2f} |")  # fmt: skip
        one = next(r[2] for r in rows if r[0] == "reprocess, 1 local worker")
        for label, _, seconds, *_ in rows[2:]:
            print(f"{label}: {one / seconds:.2f}x one local worker")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _timed_detect(root: Path) -> tuple[float, int, float]:
    positions = station_positions([default_inventory_path()])
    t0, cpu = time.perf_counter(), time.process_time()
    results = run_detect([root], LarzaConfig(), positions=positions)
    return time.perf_counter() - t0, len(results.detections), time.process_time() - cpu


if __name__ == "__main__":
    main()
