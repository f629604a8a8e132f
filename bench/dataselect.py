"""Dataselect benchmark: reading an archive day file for a window, a chunk at a time (what
the service does) against reading the file whole first (what it did), and what each holds
in memory.

Writes one day of a 100-sps channel as 512-byte Steim-2 records (synthetic noise, about
8 MB, as the worker archives it), then scans it for a one-minute window in the middle.

    python bench/dataselect.py [--hours 24] [--repeat 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path; Larza's packages must win.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse
import io
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import obspy
from pymseed import MS3Record

from api.fdsn.dataselect import DayFile, read_records

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NS = 1_000_000_000


def day_file(folder: Path, hours: float) -> tuple[Path, int]:
    rng = np.random.default_rng(1)
    samples = int(hours * 3600 * 100)
    trace = obspy.Trace(
        (rng.standard_normal(samples) * 500).astype(np.int32),
        header={"network": "XX", "station": "BENCH", "channel": "HHZ", "sampling_rate": 100.0},
    )
    trace.stats.starttime = obspy.UTCDateTime(T0.timestamp())
    buf = io.BytesIO()
    trace.write(buf, format="MSEED", reclen=512, encoding="STEIM2")
    path = folder / "XX.BENCH..HHZ.D.2026.001"
    path.write_bytes(buf.getvalue())
    return path, len(buf.getvalue())


def whole_file(path: Path, size: int, start: int, end: int) -> int:
    """The former reader: the committed bytes in memory, then every record parsed."""
    with path.open("rb") as f:
        data = f.read(size)
    found = offset = 0
    for record in MS3Record.from_buffer(data):
        if record.starttime <= end and record.endtime >= start:
            found += record.reclen
        offset += record.reclen
    return found


def timed(run: Callable[[], int], repeat: int) -> tuple[float, int, int]:
    """(best seconds, bytes found, peak bytes traced)."""
    best = float("inf")
    found = 0
    for _ in range(repeat):
        t = time.perf_counter()
        found = run()
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, found, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, size = day_file(Path(tmp), args.hours)
        records = size // 512
        middle = int(T0.timestamp() * NS) + int(args.hours * 1800 * NS)
        window = (middle, middle + 60 * NS)
        target = DayFile(path.name, size, (window,))
        chunked = timed(lambda: sum(map(len, read_records(Path(tmp), target))), args.repeat)
        whole = timed(lambda: whole_file(path, size, *window), args.repeat)
    print(f"day file: {size / 2**20:.1f} MiB, {records} records of 512 bytes")
    print("| reader | ms | µs a record | MiB/s | found | peak memory traced |")
    print("|---|---|---|---|---|---|")
    for name, (seconds, found, peak) in (("a chunk at a time", chunked), ("whole file", whole)):
        print(
            f"| {name} | {seconds * 1000:.0f} | {seconds / records * 1e6:.1f} | "
            f"{size / 2**20 / seconds:.0f} | {found} B | {peak / 2**20:.2f} MiB |"
        )
    print(f"chunked / whole time: {chunked[0] / whole[0]:.2f}")


if __name__ == "__main__":
    main()
