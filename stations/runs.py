"""Catalogue runs (``larza reprocess``): the run, its chunks, its picks and events, and the
comparison of two runs' events. Keyword-only; flush, never commit (the caller owns the
transaction)."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from stations.errors import LarzaError
from stations.event_search import DetectionRecord, EventRecord
from stations.models import (
    CatalogueRun,
    EventStatus,
    Network,
    RunChunk,
    RunDetection,
    RunEvent,
    Station,
)

__all__ = [
    "ChunkOutcome",
    "EventMatch",
    "RunPick",
    "RunQuake",
    "chunk_results",
    "compare_events",
    "config_digest",
    "create_run",
    "detections_by_id",
    "event_records_of",
    "finish_run",
    "get_run",
    "list_runs",
    "run_detections",
    "run_event_records",
    "run_events",
    "source_comment",
    "station_positions",
    "store_catalogue",
    "store_chunk",
    "store_chunks",
]


@dataclass(frozen=True)
class RunPick:
    """A pick of a run, as stored."""

    network: str
    station: str
    location: str
    channel: str
    on_time: float
    off_time: float
    onset_time: float
    peak_ratio: float
    snr: float | None
    peak_amplitude: float
    profile: str
    phase: str | None
    onset_uncertainty: float | None
    polarity: str | None
    bridged: bool


@dataclass(frozen=True)
class RunQuake:
    """An event of a run; ``picks``: indices into the run's list of :class:`RunPick`."""

    time: float
    stations: tuple[str, ...]
    coincidence_sum: float
    duration: float
    picks: tuple[int, ...]


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _iso(t: datetime) -> str:
    """``t`` in UTC (a naive time, as SQLite gives it back, is UTC)."""
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return f"{t:%Y-%m-%dT%H:%M:%SZ}"


def config_digest(config: str) -> str:
    """The first 12 hex digits of the SHA-256 of a run's ``larza.toml``: runs with the same
    settings have the same."""
    return hashlib.sha256(config.encode()).hexdigest()[:12]


def source_comment(run: CatalogueRun) -> str:
    """Where a run's data came from, in a sentence (its QuakeML's comment)."""
    if run.source_kind == "fdsn":
        where = f"the FDSN dataselect service {run.source}"
    elif run.source_kind == "sds":
        where = f"the SDS archive {run.source}"
    else:
        where = "a source not recorded (a run stored before Larza recorded it)"
    chosen = {
        "given": "named with --stations",
        "all": "every station the source had over the span",
    }.get(run.station_selection or "", "selection not recorded")
    span = f"{_iso(run.start)} .. {_iso(run.end)}"
    return (
        f"larza reprocess run {run.name}: waveforms from {where}; stations "
        f"{run.stations.replace(',', ', ')} ({chosen}); {span}; settings "
        f"{config_digest(run.config)}"
    )


def get_run(session: Session, *, name: str) -> CatalogueRun | None:
    return session.scalars(select(CatalogueRun).where(CatalogueRun.name == name)).first()


def list_runs(session: Session) -> list[CatalogueRun]:
    """Every run, the newest first."""
    return list(session.scalars(select(CatalogueRun).order_by(CatalogueRun.started_at.desc())))


def create_run(
    session: Session,
    *,
    name: str,
    config: str,
    start: float,
    end: float,
    stations: Sequence[str],
    chunk_s: float,
    chunks: int,
    now: datetime,
    source_kind: str | None = None,
    source: str | None = None,
    station_selection: str | None = None,
) -> CatalogueRun:
    """A new run, ``running``; a name already taken is refused. ``source_kind`` ``sds`` or
    ``fdsn``, ``source`` the archive's path or the service's URL; ``station_selection``
    ``given`` (named) or ``all`` (every station the source had)."""
    if get_run(session, name=name) is not None:
        raise LarzaError(f"a run named {name!r} exists: --resume {name} continues it")
    run = CatalogueRun(
        name=name,
        config=config,
        start=_utc(start),
        end=_utc(end),
        stations=",".join(stations),
        chunk_s=chunk_s,
        status="running",
        chunks=chunks,
        chunks_done=0,
        chunks_failed=0,
        chunks_empty=0,
        detections=0,
        events=0,
        started_at=now,
        finished_at=None,
        source_kind=source_kind,
        source=source,
        station_selection=station_selection,
    )
    session.add(run)
    session.flush()
    return run


def chunk_results(session: Session, *, run_id: int) -> dict[str, tuple[bool, str]]:
    """Name -> (succeeded, picks as JSON or the error) of the run's chunks that ran."""
    rows = session.execute(
        select(RunChunk.name, RunChunk.ok, RunChunk.result).where(RunChunk.run_id == run_id)
    )
    return {name: (ok, result) for name, ok, result in rows}


@dataclass(frozen=True)
class ChunkOutcome:
    """A chunk that ran: ``ok`` and its picks as JSON, or not and its error; ``empty``: it
    finished, and the source had no data in it."""

    name: str
    ok: bool
    result: str
    empty: bool = False


def store_chunk(
    session: Session,
    *,
    run_id: int,
    name: str,
    ok: bool,
    result: str,
    now: datetime,
    empty: bool = False,
) -> None:
    """Record a chunk that ran (again: its earlier outcome is replaced), and count it."""
    store_chunks(session, run_id=run_id, chunks=[ChunkOutcome(name, ok, result, empty)], now=now)


def store_chunks(
    session: Session, *, run_id: int, chunks: Sequence[ChunkOutcome], now: datetime
) -> None:
    """Record chunks that ran (again: their earlier outcomes are replaced), and count the
    run's chunks once."""
    names = [c.name for c in chunks]
    session.execute(delete(RunChunk).where(RunChunk.run_id == run_id, RunChunk.name.in_(names)))
    session.execute(
        insert(RunChunk),
        [
            {
                "run_id": run_id,
                "name": c.name,
                "ok": c.ok,
                "empty": c.ok and c.empty,
                "result": c.result,
                "finished_at": now,
            }
            for c in chunks
        ],
    )
    rows = session.execute(
        select(RunChunk.ok, RunChunk.empty, func.count())
        .where(RunChunk.run_id == run_id)
        .group_by(RunChunk.ok, RunChunk.empty)
    )
    counts: dict[bool, int] = {}
    no_data = 0
    for done, nothing, n in rows:
        counts[bool(done)] = counts.get(bool(done), 0) + int(n)
        no_data += int(n) if done and nothing else 0
    session.execute(
        update(CatalogueRun)
        .where(CatalogueRun.id == run_id)
        .values(
            chunks_done=counts.get(True, 0),
            chunks_failed=counts.get(False, 0),
            chunks_empty=no_data,
        )
    )


def store_catalogue(
    session: Session, *, run_id: int, picks: Sequence[RunPick], quakes: Sequence[RunQuake]
) -> None:
    """The run's picks and events (those stored before, by an interrupted try, replaced)."""
    session.execute(delete(RunEvent).where(RunEvent.run_id == run_id))
    session.execute(delete(RunDetection).where(RunDetection.run_id == run_id))
    ids: list[int] = []
    batch = 1000
    for i in range(0, len(picks), batch):
        rows = [
            {
                "run_id": run_id,
                **{k: v for k, v in p.__dict__.items() if not k.endswith("_time")},
                "on_time": _utc(p.on_time),
                "off_time": _utc(p.off_time),
                "onset_time": _utc(p.onset_time),
            }
            for p in picks[i : i + batch]
        ]
        ids += session.scalars(insert(RunDetection).returning(RunDetection.id), rows).all()
    for q in quakes:
        session.add(
            RunEvent(
                run_id=run_id,
                time=_utc(q.time),
                stations=" ".join(q.stations),
                n_stations=len(q.stations),
                coincidence_sum=q.coincidence_sum,
                duration=q.duration,
                detections=" ".join(str(ids[i]) for i in q.picks),
            )
        )
    session.flush()


def finish_run(
    session: Session, *, run: CatalogueRun, status: str, detections: int, events: int, now: datetime
) -> None:
    run.status = status
    run.detections = detections
    run.events = events
    run.finished_at = now
    session.flush()


def run_detections(
    session: Session,
    *,
    run_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[RunDetection]:
    """A run's picks in the order of their ids (the order the run reported them), those
    with onsets in ``[start, end)``, after ``after_id``."""
    query = select(RunDetection).where(RunDetection.run_id == run_id)
    if start is not None:
        query = query.where(RunDetection.onset_time >= start)
    if end is not None:
        query = query.where(RunDetection.onset_time < end)
    if after_id is not None:
        query = query.where(RunDetection.id > after_id)
    query = query.order_by(RunDetection.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def detections_by_id(session: Session, *, ids: Sequence[int]) -> dict[int, RunDetection]:
    out: dict[int, RunDetection] = {}
    for i in range(0, len(ids), 1000):
        chunk = ids[i : i + 1000]
        out.update(
            (d.id, d)
            for d in session.scalars(select(RunDetection).where(RunDetection.id.in_(chunk)))
        )
    return out


def run_events(
    session: Session,
    *,
    run_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[RunEvent]:
    """A run's events in the order of their ids (of their first onsets)."""
    query = select(RunEvent).where(RunEvent.run_id == run_id)
    if start is not None:
        query = query.where(RunEvent.time >= start)
    if end is not None:
        query = query.where(RunEvent.time < end)
    if after_id is not None:
        query = query.where(RunEvent.id > after_id)
    query = query.order_by(RunEvent.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


@dataclass(frozen=True)
class EventMatch:
    """Two runs' events compared: pairs matched, and those only in one."""

    matched: list[tuple[RunEvent, RunEvent]]
    only_a: list[RunEvent]
    only_b: list[RunEvent]


def compare_events(a: Sequence[RunEvent], b: Sequence[RunEvent], tolerance_s: float) -> EventMatch:
    """Match events of two runs whose first onsets differ by at most ``tolerance_s`` and that
    share a station, each at most once, the closest in time first."""
    b_sorted = sorted(range(len(b)), key=lambda k: b[k].time)
    b_times = [b[k].time.timestamp() for k in b_sorted]
    pairs: list[tuple[float, int, int]] = []
    for i, x in enumerate(a):
        t = x.time.timestamp()
        stations = set(x.stations.split())
        lo = bisect.bisect_left(b_times, t - tolerance_s)
        hi = bisect.bisect_right(b_times, t + tolerance_s)
        for k in b_sorted[lo:hi]:
            if stations & set(b[k].stations.split()):
                pairs.append((abs(b[k].time.timestamp() - t), i, k))
    taken_a: set[int] = set()
    taken_b: set[int] = set()
    matched: list[tuple[RunEvent, RunEvent]] = []
    for _, i, k in sorted(pairs):
        if i not in taken_a and k not in taken_b:
            taken_a.add(i)
            taken_b.add(k)
            matched.append((a[i], b[k]))
    matched.sort(key=lambda p: p[0].time)
    return EventMatch(
        matched=matched,
        only_a=[x for i, x in enumerate(a) if i not in taken_a],
        only_b=[y for k, y in enumerate(b) if k not in taken_b],
    )


def station_positions(session: Session) -> dict[str, tuple[float, float, float]]:
    """``NET.STA`` -> (latitude, longitude, elevation in km) of every station in the
    inventory."""
    rows = session.execute(
        select(
            Network.code, Station.code, Station.latitude, Station.longitude, Station.elevation
        ).join(Station, Station.network_id == Network.id)
    )
    return {f"{net}.{sta}": (lat, lon, elev / 1000.0) for net, sta, lat, lon, elev in rows}


def run_event_records(
    session: Session,
    *,
    run: CatalogueRun,
    start: datetime | None = None,
    end: datetime | None = None,
    event_id: int | None = None,
    newest_first: bool = True,
    offset: int = 0,
    limit: int | None = None,
) -> list[EventRecord]:
    """A run's events as the FDSN event service writes them (stations placed from the
    inventory; picks of stations not in it are left out), ``end`` inclusive as FDSN's."""
    query = select(RunEvent).where(RunEvent.run_id == run.id)
    if start is not None:
        query = query.where(RunEvent.time >= start)
    if end is not None:
        query = query.where(RunEvent.time <= end)
    if event_id is not None:
        query = query.where(RunEvent.id == event_id)
    order = (
        (RunEvent.time.desc(), RunEvent.id.desc()) if newest_first else (RunEvent.time, RunEvent.id)
    )
    query = query.order_by(*order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return event_records_of(session, run=run, events=list(session.scalars(query)))


def event_records_of(
    session: Session, *, run: CatalogueRun, events: Sequence[RunEvent]
) -> list[EventRecord]:
    """``events`` of ``run`` as the QuakeML writer takes them (stations placed from the
    inventory; picks of stations not in it are left out)."""
    picks = detections_by_id(session, ids=[int(i) for e in events for i in e.detections.split()])
    where = station_positions(session)
    made = run.finished_at or run.started_at
    records = []
    for e in events:
        chosen = sorted(
            (picks[int(i)] for i in e.detections.split()), key=lambda d: (d.onset_time, d.id)
        )
        records.append(
            EventRecord(
                id=e.id,
                time=e.time,
                status=EventStatus.FINAL,
                n_stations=e.n_stations,
                created_at=made,
                updated_at=made,
                detections=tuple(
                    DetectionRecord(
                        id=d.id,
                        onset_time=d.onset_time,
                        created_at=made,
                        network=d.network,
                        station=d.station,
                        location=d.location,
                        channel=d.channel,
                        latitude=where[f"{d.network}.{d.station}"][0],
                        longitude=where[f"{d.network}.{d.station}"][1],
                        phase=d.phase,
                        onset_uncertainty=d.onset_uncertainty,
                        polarity=d.polarity,
                    )
                    for d in chosen
                    if f"{d.network}.{d.station}" in where
                ),
            )
        )
    return records
