"""What a reprocessing run covers: its stations, its span, and the station x time chunks it is
cut into (each one task on the Dask cluster)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stations.errors import LarzaError

__all__ = ["Chunk", "archive_stations", "parse_duration", "parse_time", "plan_chunks"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, order=True)
class Chunk:
    """One station's data from ``start`` to ``end`` (POSIX seconds): its picks are those
    whose onset falls in ``[start, end)``."""

    station: str  # NET.STA
    start: float
    end: float

    @property
    def name(self) -> str:
        """How the chunk is named in the database and in messages:
        ``TJ.SAREZ 2025-06-01T00:00:00Z``."""
        return f"{self.station} {_iso(self.start)}"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> float:
    """``1d``, ``6h``, ``30m``, ``90s`` (or plain seconds) as seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None or float(match[1]) <= 0:
        raise LarzaError(f"not a duration: {text!r} (say e.g. 1d, 6h, 30m or 90s)")
    return float(match[1]) * _UNITS[match[2] or "s"]


def parse_time(text: str) -> float:
    """An ISO time (UTC unless it says otherwise; a date alone is its midnight) as POSIX
    seconds."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise LarzaError(f"not an ISO time: {text!r}") from e
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def archive_stations(root: Path, start: float, end: float) -> list[str]:
    """``NET.STA`` of every station with a day file in the archive between ``start`` and
    ``end`` (SDS layout ``YEAR/NET/STA/CHAN.D/...``), sorted."""
    found: set[str] = set()
    first = datetime.fromtimestamp(start, UTC).year
    last = datetime.fromtimestamp(end, UTC).year
    for year in range(first, last + 1):
        folder = root / str(year)
        if not folder.is_dir():
            continue
        for net in folder.iterdir():
            if not net.is_dir():
                continue
            for sta in net.iterdir():
                if sta.is_dir() and any(sta.glob("*.D/*")):
                    found.add(f"{net.name}.{sta.name}")
    return sorted(found)


def plan_chunks(stations: list[str], start: float, end: float, chunk_s: float) -> list[Chunk]:
    """The chunks of ``stations`` over ``[start, end)``, ``chunk_s`` long (the last one
    shorter), aligned on multiples of ``chunk_s`` from the epoch (days start at midnight),
    in time order and then by station, so the cluster works along the archive."""
    if not end > start:
        raise LarzaError(f"the end must be after the start, got {_iso(start)} .. {_iso(end)}")
    if chunk_s <= 0:
        raise LarzaError(f"need a chunk longer than 0 s, got {chunk_s}")
    edges = [start]
    t = (start // chunk_s + 1) * chunk_s
    while t < end:
        edges.append(t)
        t += chunk_s
    edges.append(end)
    return [
        Chunk(station, a, b) for a, b in itertools.pairwise(edges) for station in sorted(stations)
    ]
