"""A small SDS archive of real recordings for the reprocessing tests and bench: ObsPy's
default stream (a local event at BW.RJOB, three components, 100 Hz, 30 s; shipped in the
ObsPy wheel, LGPL) set into seeded Gaussian noise of its own pre-event level at the three TJ
stations, every few minutes, a few seconds apart from station to station, as day files
that cross midnight (512-byte Steim-2 records, as the worker archives them)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import obspy
from obspy import Trace, UTCDateTime

from stations.queries import ChannelKey
from stations.sds import sds_path

STATIONS = {"TJ.SAREZ": 0.0, "TJ.MURGH": 2.5, "TJ.MANEM": 4.0}
"""Station -> delay of each quake's arrival after the first station's, seconds."""
START = datetime(2025, 6, 1, 23, 30, tzinfo=UTC).timestamp()
RATE = 100.0


def quake_times(minutes: float, every_s: float = 290.0) -> list[float]:
    """Onset times (at the first station) of the quakes in an archive ``minutes`` long."""
    return [START + 60.0 + i * every_s for i in range(int((minutes * 60 - 120) // every_s) + 1)]


def write_archive(root: Path, minutes: float = 60.0, seed: int = 16) -> tuple[float, float]:
    """Write the archive under ``root``; returns its first and last sample's times (POSIX)."""
    rng = np.random.default_rng(seed)
    event = {tr.stats.channel[-1]: tr.data - tr.data[:300].mean() for tr in obspy.read()}
    n = int(minutes * 60 * RATE)
    for station, delay in STATIONS.items():
        net, sta = station.split(".")
        gain = 1.0 + 0.3 * rng.random()
        for component in "ZNE":
            data = rng.normal(0.0, 100.0, n)
            for t in quake_times(minutes):
                at = int((t + delay - START) * RATE) - 300  # the event's onset is ~3 s in
                piece = event[component][: n - at] * gain
                data[at : at + len(piece)] += piece
            trace = Trace(
                np.round(data).astype(np.int32),
                header={
                    "network": net,
                    "station": sta,
                    "location": "",
                    "channel": f"HH{component}",
                    "sampling_rate": RATE,
                    "starttime": UTCDateTime(START),
                },
            )
            _write_days(root, trace)
    return START, START + (n - 1) / RATE


def _write_days(root: Path, trace: Trace) -> None:
    s = trace.stats
    key = ChannelKey(s.network, s.station, s.location, s.channel)
    day = UTCDateTime(s.starttime.date)
    while day <= s.endtime:
        piece = trace.slice(day, day + 86400 - 0.5 / s.sampling_rate)
        if piece.stats.npts:
            path = root / sds_path(key, piece.stats.starttime.timestamp)
            path.parent.mkdir(parents=True, exist_ok=True)
            piece.write(str(path), format="MSEED", reclen=512, encoding="STEIM2")
        day += 86400
