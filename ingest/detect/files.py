"""``larza detect``: the worker's detection and association code run over files.

miniSEED files are read record by record, as the worker receives them; other formats ObsPy
reads are cut into chunks of a 512-byte record's size (about 400 samples). Records of all
files are merged in order of their end time (the order a live feed delivers them), so the
associator sees what it would have seen live, and the same detections and events come out.
Records repeated or overlapping across files are handled as the worker handles a server's
resends (:mod:`ingest.detect.chain`): each detection is found once. At the end of the data,
triggers still on are reported and every event is made final.

Results are written as JSON lines, CSV or QuakeML 1.2 (events with their picks, written with
ObsPy; events are not located, so they carry picks and no origin; detections that joined
no event are not in a QuakeML catalogue).
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from pymseed import MiniSEEDError, MS3Record

from detection import Origin, StationCoordinates, Trigger
from ingest.config import LarzaConfig
from ingest.detect.chain import Detecting, EventChange, Found
from ingest.quakes.model import SMALLEST_NETWORK, locates
from ingest.seedlink.decode import Record, RecordError, decode_record
from stations.errors import LarzaError
from stations.quakeml_origin import KM_PER_DEGREE, add_origin_errors
from stations.queries import ChannelKey

Format = Literal["jsonl", "csv", "quakeml"]
CHUNK = 400
"""Samples per record when a file is not miniSEED (what a 512-byte Steim record holds)."""
PIECE_S = 4.0
"""Seconds: longer records (an archive's 4096-byte records hold up to a minute) are fed in
pieces of at most this long, so the channels of a sensor advance together, as over SeedLink
(a horizontal's S window is taken while its history still holds it)."""


@dataclass
class Progress:
    """Counts shown on stderr while files are read."""

    files: int = 0
    records: int = 0
    skipped: int = 0
    detections: int = 0
    started: float = field(default_factory=time.monotonic)
    stream: IO[str] | None = None
    _shown: float = 0.0

    def show(self, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not force and now - self._shown < 0.5:
            return
        self._shown = now
        self.stream.write(
            f"\r{self.files} files, {self.records:,} records, {self.detections} detections, "
            f"{now - self.started:.1f} s elapsed"
        )
        if force:
            self.stream.write("\n")
        self.stream.flush()


@dataclass(frozen=True)
class Detected:
    """One detection of a file run; ``index`` is its pick key."""

    index: int
    key: ChannelKey
    on_time: float
    off_time: float
    onset_time: float
    peak_ratio: float
    snr: float | None
    peak_amplitude: float
    profile: str
    phase: str | None = None
    onset_uncertainty: float | None = None
    polarity: str | None = None
    bridged: bool = False

    @classmethod
    def of(cls, index: int, key: ChannelKey, t: Trigger, profile: str) -> Detected:
        """The detection of a pick."""
        return cls(
            index=index,
            key=key,
            on_time=t.on_time,
            off_time=t.off_time,
            onset_time=t.onset_time,
            peak_ratio=float(t.peak_ratio),
            snr=float(t.snr) if math.isfinite(t.snr) else None,
            peak_amplitude=float(t.peak_amplitude),
            profile=profile,
            phase=t.phase,
            onset_uncertainty=float(t.onset_uncertainty),
            polarity=t.polarity,
            bridged=t.bridged,
        )


@dataclass
class Results:
    detections: list[Detected] = field(default_factory=list)
    events: dict[int, EventChange] = field(default_factory=dict)  # by event key, latest
    stats: Counter[str] = field(default_factory=Counter)  # the detection's counts


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files named, and every file under directories named (an SDS archive, say), sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            out.append(path)
        else:
            raise LarzaError(f"{path}: no such file or directory")
    return out


def _mseed_records(
    path: Path, progress: Progress, span: tuple[float, float] | None = None
) -> Iterator[Record]:
    """The file's records in order of their end times. A file of one channel is in that
    order already; one of several (as ObsPy writes a stream: channel after channel) is read
    in it, from an index of its records' headers, so its channels advance together. With
    ``span`` (POSIX seconds), only the records that end after its start and start before its
    end are decoded; in a file of records of one length in time order (an SDS day file as
    the worker and SeisComP's slarchive write it) they are found by bisection and only their
    bytes are read (a record out of time order outside them would be missed)."""
    window = _span_bytes(path, span) if span is not None else None
    base, data = window if window is not None else (0, path.read_bytes())
    view = memoryview(data)
    index: list[tuple[int, int, int, str]] = []  # offset, length, end (ns), stream
    offset = 0
    while offset < len(data):
        try:
            header = MS3Record.parse(view[offset:], unpack_data=False)
        except (MiniSEEDError, ValueError) as e:
            progress.skipped += 1
            sys.stderr.write(f"\n{path}: byte {base + offset}: rest of the file skipped: {e}\n")
            break
        if span is None or (header.endtime > span[0] * 1e9 and header.starttime < span[1] * 1e9):
            index.append((offset, header.reclen, header.endtime, header.sourceid))
        offset += header.reclen
    ordered = all(a[2] <= b[2] for a, b in itertools.pairwise(index))
    for start, length, _, _ in index if ordered else sorted(index, key=lambda i: i[2:]):
        try:
            yield decode_record(bytes(view[start : start + length]))
        except RecordError as e:
            progress.skipped += 1
            sys.stderr.write(f"\n{path}: byte {base + start}: record skipped: {e}\n")


class _NotOneSortedStream(Exception):
    pass


def _span_bytes(path: Path, span: tuple[float, float]) -> tuple[int, bytes] | None:
    """The offset and bytes of the records of ``path`` that end after ``span``'s start and
    start before its end, found by bisection, in a file whose records all have the first
    one's length and stream and are in time order; ``None`` when a record looked at says
    otherwise (or cannot be read): then the whole file is read."""
    start_ns, end_ns = int(span[0] * 1e9), int(span[1] * 1e9)
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            first = MS3Record.parse(f.read(min(size, 8192)), unpack_data=False)
            length, stream = first.reclen, first.sourceid
            if length <= 0 or size % length:
                return None

            def header(k: int) -> tuple[int, int]:
                f.seek(k * length)
                h = MS3Record.parse(f.read(length), unpack_data=False)
                if h.reclen != length or h.sourceid != stream:
                    raise _NotOneSortedStream
                return h.starttime, h.endtime

            def bisect(lo: int, hi: int, before: Callable[[tuple[int, int]], bool]) -> int:
                """The first record from ``lo`` for which ``before`` is false."""
                last = -1
                while lo < hi:
                    mid = (lo + hi) // 2
                    times = header(mid)
                    if before(times):
                        if times[1] < last:
                            raise _NotOneSortedStream
                        lo, last = mid + 1, times[1]
                    else:
                        hi = mid
                return lo

            n = size // length
            lo = bisect(0, n, lambda t: t[1] <= start_ns)
            hi = bisect(lo, n, lambda t: t[0] < end_ns)
            f.seek(lo * length)
            return lo * length, f.read((hi - lo) * length)
    except (MiniSEEDError, ValueError, _NotOneSortedStream):
        return None


def _obspy_records(path: Path) -> Iterator[Record]:
    """The file's traces in chunks of :data:`CHUNK` samples, in order of their end times
    (the traces of a file advance together)."""
    import obspy

    try:
        stream = obspy.read(str(path))
    except Exception as e:  # ObsPy raises many kinds for a file it cannot read
        raise LarzaError(f"{path}: not a waveform file ObsPy can read: {e}") from e
    return heapq.merge(*(_chunks(trace) for trace in stream), key=lambda r: r.endtime)


def _chunks(trace: Any) -> Iterator[Record]:
    s = trace.stats
    key = ChannelKey(s.network, s.station, s.location, s.channel)
    data = np.asarray(trace.data, dtype=np.float64)
    for i in range(0, len(data), CHUNK):
        yield Record(
            key=key,
            starttime=float(s.starttime.timestamp) + i / s.sampling_rate,
            sampling_rate=float(s.sampling_rate),
            data=data[i : i + CHUNK],
        )


def _is_mseed(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(64)
    try:
        MS3Record.parse(head + b"\0" * 4096, unpack_data=False)
    except (MiniSEEDError, ValueError):
        return False
    return True


def file_records(
    path: Path, progress: Progress, span: tuple[float, float] | None = None
) -> Iterator[Record]:
    """The records of one file in file order (a day file of one channel: time order); a
    miniSEED file's within ``span`` only (see :func:`_mseed_records`)."""
    progress.files += 1
    if _is_mseed(path):
        yield from _mseed_records(path, progress, span)
    else:
        yield from _obspy_records(path)


def pieces(records: Iterable[Record], seconds: float = PIECE_S) -> Iterator[Record]:
    """The records, each longer than ``seconds`` cut into pieces of at most that long."""
    for record in records:
        step = max(1, int(seconds * record.sampling_rate))
        if len(record.data) <= step:
            yield record
            continue
        for i in range(0, len(record.data), step):
            yield Record(
                key=record.key,
                starttime=record.starttime + i / record.sampling_rate,
                sampling_rate=record.sampling_rate,
                data=record.data[i : i + step],
                timing_quality=record.timing_quality,
                clock_locked=record.clock_locked,
            )


def merged(
    paths: Sequence[Path], progress: Progress, span: tuple[float, float] | None = None
) -> Iterator[Record]:
    """Records of all files, cut into :data:`PIECE_S` pieces and merged by end time (a file
    not in time order is read in it if miniSEED; other formats are read trace by trace)."""
    return heapq.merge(
        *(pieces(file_records(p, progress, span)) for p in paths),
        key=lambda r: (r.endtime, str(r.key)),
    )


def station_positions(inventories: Sequence[Path]) -> dict[str, StationCoordinates]:
    """``NET.STA`` -> where it is, from StationXML files, for locating events (the worker
    takes them from its database)."""
    from obspy import read_inventory

    out: dict[str, StationCoordinates] = {}
    for path in inventories:
        try:
            inventory = read_inventory(str(path))
        except Exception as e:  # ObsPy raises many kinds for a file it cannot read
            raise LarzaError(f"{path}: not a StationXML file ObsPy can read: {e}") from e
        for net in inventory:
            for sta in net:
                out[f"{net.code}.{sta.code}"] = StationCoordinates(
                    float(sta.latitude), float(sta.longitude), float(sta.elevation) / 1000.0
                )
    return out


def _stations_in(paths: Sequence[Path]) -> set[str]:
    """``NET.STA`` of the data in the files, from their headers (a file ObsPy cannot read
    is left to the reading proper, which says why)."""
    import obspy

    out: set[str] = set()
    for path in paths:
        try:
            stream = obspy.read(str(path), headonly=True)
        except Exception:
            continue
        out.update(f"{tr.stats.network}.{tr.stats.station}" for tr in stream)
    return out


def run_detect(
    paths: Sequence[Path],
    config: LarzaConfig,
    progress: Progress | None = None,
    positions: Mapping[str, StationCoordinates] | None = None,
) -> Results:
    """Run the worker's detection and association over ``paths``: located earthquakes when
    ``positions`` has three stations or more and the files hold data of three of them, else
    coincidence events (files of stations the inventory does not place)."""
    progress = progress or Progress()
    if positions is not None:
        placed = _stations_in(expand(paths)) & positions.keys()
        if len(placed) < SMALLEST_NETWORK:
            positions = None
    table = None
    if positions is not None and locates(config.location, len(positions)):
        from ingest.quakes.model import travel_time_table  # TauP: only when it is needed

        table = travel_time_table(config)
    detecting = Detecting(config, positions, table)
    results = Results()

    def keep(found: Found) -> int:
        index = len(results.detections)
        results.detections.append(Detected.of(index, found.key, found.trigger, found.profile))
        progress.detections += 1
        return index

    def take(events: Iterable[EventChange]) -> None:
        for event in events:
            if event.status == "deleted":
                results.events.pop(event.event_key, None)
            else:
                results.events[event.event_key] = event

    for record in merged(expand(paths), progress):
        progress.records += 1
        take(detecting.feed(record, keep))
        progress.show()
    take(detecting.finish(keep))
    results.stats = detecting.stats()
    progress.show(force=True)
    return results


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _detection_dict(d: Detected) -> dict[str, Any]:
    return {
        "type": "detection",
        "id": d.index,
        "stream": str(d.key),
        "on_time": _iso(d.on_time),
        "off_time": _iso(d.off_time),
        "onset_time": _iso(d.onset_time),
        "phase": d.phase,
        "onset_uncertainty": (
            None if d.onset_uncertainty is None else round(d.onset_uncertainty, 6)
        ),
        "polarity": d.polarity,
        "bridged": d.bridged,
        "peak_ratio": round(d.peak_ratio, 6),
        "snr": None if d.snr is None else round(d.snr, 6),
        "peak_amplitude": d.peak_amplitude,
        "profile": d.profile,
    }


def _event_dict(e: EventChange) -> dict[str, Any]:
    o = e.origin
    located = o is not None and o.located
    return {
        "type": "event",
        "id": e.event_key,
        "time": _iso(e.time),
        "status": e.status,
        "stations": list(e.stations),
        "n_stations": len(e.stations),
        "coincidence_sum": e.coincidence_sum,
        "duration": e.duration,
        "detections": list(e.pick_keys),
        "location": o.status if o is not None else None,
        "latitude": round(o.latitude, 5) if o is not None and located else None,
        "longitude": round(o.longitude, 5) if o is not None and located else None,
        "depth_km": round(o.depth_km, 2) if o is not None and located else None,
        "rms": round(o.rms, 4) if o is not None and located else None,
        "quality": o.quality if o is not None else None,
        "phases": [f"{p.key}:{p.phase}" for p in e.picks],
    }


def write_results(results: Results, fmt: Format, out: IO[str]) -> None:
    events = [results.events[k] for k in sorted(results.events)]
    if fmt == "jsonl":
        for d in results.detections:
            out.write(json.dumps(_detection_dict(d)) + "\n")
        for e in events:
            out.write(json.dumps(_event_dict(e)) + "\n")
    elif fmt == "csv":
        columns = [
            "type", "id", "stream", "on_time", "off_time", "onset_time", "phase",
            "onset_uncertainty", "polarity", "bridged", "peak_ratio", "snr",
            "peak_amplitude", "profile", "time", "status", "stations", "n_stations",
            "coincidence_sum", "duration", "detections", "location", "latitude",
            "longitude", "depth_km", "rms", "quality", "phases",
        ]  # fmt: skip
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for d in results.detections:
            writer.writerow(_detection_dict(d))
        for e in events:
            row = _event_dict(e)
            row["stations"] = " ".join(row["stations"])
            row["detections"] = " ".join(str(i) for i in row["detections"])
            row["phases"] = " ".join(row["phases"])
            writer.writerow(row)
    else:
        out.write(_quakeml(results, events))


def _quakeml(results: Results, events: list[EventChange]) -> str:
    from obspy import UTCDateTime
    from obspy.core.event import (
        Catalog,
        Comment,
        CreationInfo,
        Event,
        EventDescription,
        Pick,
        QuantityError,
        ResourceIdentifier,
        WaveformStreamID,
    )

    catalog = Catalog(resource_id=ResourceIdentifier("smi:larza/detect/catalog"))
    catalog.creation_info = CreationInfo(agency_id="Larza", creation_time=UTCDateTime())
    for e in events:
        event = Event(resource_id=ResourceIdentifier(f"smi:larza/detect/event/{e.event_key}"))
        for index in e.pick_keys:
            d = results.detections[index]
            pick = Pick(
                resource_id=ResourceIdentifier(f"smi:larza/detect/pick/{index}"),
                time=UTCDateTime(d.onset_time),
                waveform_id=WaveformStreamID(
                    d.key.network, d.key.station, d.key.location, d.key.channel
                ),
                evaluation_mode="automatic",
                method_id=ResourceIdentifier(f"smi:larza/detector/{d.profile}"),
            )
            if d.onset_uncertainty is not None:
                pick.time_errors = QuantityError(uncertainty=d.onset_uncertainty)
            if d.phase is not None:
                pick.phase_hint = d.phase
            if d.polarity is not None:
                pick.polarity = d.polarity
            event.picks.append(pick)
        if e.origin is not None and e.origin.located:
            origin = _origin(e, e.origin)
            event.origins.append(origin)
            event.preferred_origin_id = origin.resource_id
        # Without a location, no origin (QuakeML allows an event of picks only): the first
        # onset and the stations are said in the description.
        event.event_descriptions.append(
            EventDescription(
                text=f"Larza detection: first onset {_iso(e.time)}, {len(e.stations)} "
                f"stations ({', '.join(e.stations)}), {e.status}",
                type="earthquake name",
            )
        )
        event.comments.append(Comment(text=f"coincidence sum {e.coincidence_sum:g}"))
        catalog.append(event)
    buf = io.BytesIO()
    catalog.write(buf, format="QUAKEML")
    return buf.getvalue().decode("utf-8")


def _origin(e: EventChange, o: Origin) -> Any:
    from obspy import UTCDateTime
    from obspy.core.event import Arrival
    from obspy.core.event import Origin as QuakeOrigin
    from obspy.core.event import ResourceIdentifier as Rid

    origin = QuakeOrigin(
        resource_id=Rid(f"smi:larza/detect/origin/{e.event_key}"),
        time=UTCDateTime(o.time),
        latitude=o.latitude,
        longitude=o.longitude,
        depth=o.depth_km * 1000.0,
        depth_type="operator assigned" if o.status == "fixed_depth" else "from location",
        evaluation_mode="automatic",
        evaluation_status="final" if e.status == "final" else "preliminary",
    )
    add_origin_errors(origin, o)
    by_key = {a.key: a for a in o.arrivals}
    for p in e.picks:
        a = by_key.get(p.key)
        origin.arrivals.append(
            Arrival(
                pick_id=Rid(f"smi:larza/detect/pick/{p.key}"),
                phase=p.phase,
                time_residual=p.residual if math.isfinite(p.residual) else None,
                time_weight=p.weight,
                distance=p.distance_km / KM_PER_DEGREE if math.isfinite(p.distance_km) else None,
                azimuth=a.azimuth if a is not None else None,
            )
        )
    return origin
