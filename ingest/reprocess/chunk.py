"""One chunk's task, run on a Dask worker: a station's picks over a span of the archive.

The chunk's channels are read from the SDS archive from a lead-in before the chunk (what
:meth:`~ingest.detect.chain.Detecting.lead_in_s` says makes a fresh picker continue as an
uninterrupted one) to a tail after it (long enough for a trigger that starts inside to end
and for its S to be searched), through the same reading (:func:`ingest.detect.files.merged`)
and the same :class:`~ingest.detect.chain.Detecting` as ``larza detect`` and the worker. The
picks whose onset falls inside the chunk are returned, each with when a continuous run over
the whole archive would have reported it (the end of the record that completed it), so the
network association can take them in that order afterwards.

From an FDSN dataselect service (:mod:`ingest.reprocess.fdsn`) the same span is asked for,
kept per channel in a temporary folder, and read the same way.

Memory: a task holds, of each channel's day files, only the bytes of the records in its
span with the lead-in and tail (found by bisection; a file not in one stream's time order is
read whole), undecoded; records are decoded one at a time; the pickers' state (seconds of
samples a channel) and the chunk's picks. It does not grow with the run.
"""

from __future__ import annotations

import json
import math
import time
import tomllib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from detection import Trigger
from ingest.config import LarzaConfig, parse_config
from ingest.detect.chain import Detecting, Found, sensor_of
from ingest.detect.files import Progress, merged
from ingest.reprocess.fdsn import Fdsn, fetched_chunk
from ingest.reprocess.plan import Chunk
from stations.queries import ChannelKey

__all__ = [
    "ChunkPick",
    "ChunkResult",
    "chunk_task",
    "from_json",
    "run_chunk",
    "run_config",
    "to_json",
]

TAIL_MARGIN_S = 60.0
"""Seconds read past a chunk's end beyond the longest trigger and S window: what a sensor
waits for a late horizontal (30 s), and more."""

Emitted = tuple[float, tuple[str, ...], int]
"""When a continuous run reports a pick: the end of the record that completed it (``inf``:
at the end of the data), the record's stream (or the sensor, at the end) and the pick's
rank among those of the chunk."""


@dataclass(frozen=True)
class ChunkPick:
    """A pick of the chunk, with where it falls in a continuous run's order of reporting."""

    emitted: Emitted
    before: float  # end of the station's record before the one that completed the pick
    key: ChannelKey
    trigger: Trigger
    profile: str


@dataclass(frozen=True)
class ChunkResult:
    chunk: Chunk
    picks: tuple[ChunkPick, ...]
    records: int  # read, with the lead-in and tail
    files: int
    cpu_s: float = 0.0  # the task's processor time
    own_records: int = 0  # of those, records with data inside the chunk's own span

    @property
    def empty(self) -> bool:
        """The source has no data of the station inside the chunk (no day file, or an FDSN
        service's 204): the chunk is finished, with nothing in it."""
        return self.own_records == 0


@lru_cache(maxsize=4)
def run_config(text: str, base_dir: str) -> LarzaConfig:
    """A run's ``larza.toml`` (its text, as stored with the run) read and checked."""
    return parse_config(tomllib.loads(text), source="the run's larza.toml", base_dir=Path(base_dir))


def station_files(root: Path, station: str, start: float, end: float) -> list[Path]:
    """The station's day files of every day that ``[start, end]`` touches."""
    net, sta = station.split(".", 1)
    out: list[Path] = []
    day = datetime.fromtimestamp(start, UTC).date()
    last = datetime.fromtimestamp(end, UTC).date()
    while day <= last:
        year, doy = day.year, day.timetuple().tm_yday
        folder = root / str(year) / net / sta
        out += folder.glob(f"*.D/{net}.{sta}.*.D.{year}.{doy:03d}")
        day += timedelta(days=1)
    return sorted(out)


def _key_of(path: Path) -> ChannelKey:
    net, sta, loc, cha = path.name.split(".")[:4]
    return ChannelKey(net, sta, loc, cha)


def run_chunk(
    source: str | Fdsn, chunk: Chunk, config_text: str, base_dir: str, last: bool
) -> ChunkResult:
    """The picks of ``chunk`` from ``source`` (an SDS archive's root, or an FDSN dataselect
    service); ``last``: the run ends with it (picks still open at the end of the data are
    reported as a continuous run reports them at its end)."""
    cpu = time.process_time()
    config = run_config(config_text, base_dir)
    detecting = Detecting(config)
    if not isinstance(source, Fdsn):
        root = Path(source)
        keys = {_key_of(p) for p in station_files(root, chunk.station, chunk.start, chunk.end)}
        read_start, read_end = _read_span(chunk, config, detecting, keys)
        paths = station_files(root, chunk.station, read_start, read_end)
        return _picks(chunk, detecting, paths, (read_start, read_end), last, cpu)
    with fetched_chunk(source, chunk.station) as fetched:
        # the default profile's span first; more if the channels received need more
        net, sta = chunk.station.split(".", 1)
        fetched.cover(*_read_span(chunk, config, detecting, {ChannelKey(net, sta, "", "")}))
        read_start, read_end = _read_span(chunk, config, detecting, fetched.keys())
        fetched.cover(read_start, read_end)
        return _picks(chunk, detecting, fetched.files(), (read_start, read_end), last, cpu)


def chunk_task(
    source: str | Fdsn, chunk: Chunk, config_text: str, base_dir: str, last: bool
) -> tuple[str, bool]:
    """:func:`run_chunk` as the cluster runs it: the result as stored (JSON, encoded here on
    the worker rather than by the client, whose process holds the run's storing and, on a
    local cluster, the scheduler) and whether the chunk was empty."""
    result = run_chunk(source, chunk, config_text, base_dir, last)
    return to_json(result), result.empty


def _read_span(
    chunk: Chunk, config: LarzaConfig, detecting: Detecting, keys: set[ChannelKey]
) -> tuple[float, float]:
    """The chunk with the lead-in and tail its channels need."""
    lead_in = max((detecting.lead_in_s(k) for k in keys), default=0.0)
    tail = TAIL_MARGIN_S
    for k in keys:
        settings, _ = config.detector_for(k)
        tail = max(tail, settings.max_duration + settings.s_window + TAIL_MARGIN_S)
    return chunk.start - lead_in, chunk.end + tail


def _picks(
    chunk: Chunk,
    detecting: Detecting,
    paths: list[Path],
    span: tuple[float, float],
    last: bool,
    cpu: float,
) -> ChunkResult:
    """The chain over the records of ``paths`` in ``span``, the chunk's picks kept."""
    read_start, read_end = span
    picks: list[ChunkPick] = []
    emitted: tuple[float, tuple[str, ...]] = (-math.inf, ())
    before = -math.inf
    rank = 0

    def keep(found: Found) -> int:
        nonlocal rank
        rank += 1
        t = found.trigger
        if chunk.start <= t.onset_time < chunk.end:
            at, stream = emitted
            if at == math.inf or (at == read_end and not last):
                stream = sensor_of(found.key)
            picks.append(ChunkPick((at, stream, rank), before, found.key, t, found.profile))
        return rank

    progress = Progress()
    records = own = 0
    for record in merged(paths, progress, span=(read_start, read_end)):
        if record.endtime <= read_start or record.starttime >= read_end:
            continue
        records += 1
        own += record.endtime > chunk.start and record.starttime < chunk.end
        emitted = (record.endtime, (str(record.key),))
        detecting.feed(record, keep)
        before = record.endtime
    # Triggers still on: at the run's end reported as at the end of a continuous run; inside
    # the run they end long before the tail does, but a station whose data stop there ends
    # them here (a continuous run would end them when its data resume).
    emitted = (math.inf if last else read_end, ())
    detecting.finish(keep)
    cpu = time.process_time() - cpu
    return ChunkResult(chunk, tuple(picks), records, progress.files, cpu, own)


def to_json(result: ChunkResult) -> str:
    """A chunk's picks as stored in the database (``from_json`` gives them back)."""
    rows: list[dict[str, Any]] = [
        {
            "emitted": [p.emitted[0], list(p.emitted[1]), p.emitted[2]],
            "before": p.before,
            "key": list(p.key),
            "trigger": asdict(p.trigger),
            "profile": p.profile,
        }
        for p in result.picks
    ]
    counts = {
        "records": result.records,
        "files": result.files,
        "cpu_s": result.cpu_s,
        "own_records": result.own_records,
    }
    return json.dumps({**counts, "picks": rows})


def from_json(chunk: Chunk, text: str) -> ChunkResult:
    data = json.loads(text)
    picks = tuple(
        ChunkPick(
            emitted=(float(r["emitted"][0]), tuple(r["emitted"][1]), int(r["emitted"][2])),
            before=float(r["before"]),
            key=ChannelKey(*r["key"]),
            trigger=Trigger(**r["trigger"]),
            profile=r["profile"],
        )
        for r in data["picks"]
    )
    records = int(data["records"])
    return ChunkResult(
        chunk,
        picks,
        records,
        int(data["files"]),
        float(data.get("cpu_s", 0.0)),
        int(data.get("own_records", records)),  # stored before it was counted: all of them
    )
