"""``/api/v1/runs``: catalogue runs of ``larza reprocess``, and two runs compared. A run's
detections and events are served by ``/api/v1/detections?run=NAME`` and
``/api/v1/events?run=NAME`` (:func:`run_detections_page`, :func:`run_events_answer`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.downloads import events_csv, records_quakeml
from api.errors import BAD_REQUEST
from api.etag import etag_response
from api.pagination import next_link
from api.quakeml import run_base_id
from api.schemas import (
    DetectionOut,
    EventOut,
    Page,
    RunCompareOut,
    RunEventOut,
    RunMatchOut,
    RunOut,
)
from stations.errors import NotFoundError
from stations.models import CatalogueRun, RunDetection, RunEvent
from stations.runs import (
    compare_events,
    config_digest,
    detections_by_id,
    event_records_of,
    get_run,
    list_runs,
    run_detections,
    run_events,
    source_comment,
)

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=BAD_REQUEST)

RunName = Annotated[str, Query(min_length=1, max_length=100, description="a run's name")]


def run_out(run: CatalogueRun) -> RunOut:
    return RunOut(
        name=run.name,
        status=run.status,
        start=run.start,
        end=run.end,
        stations=[s for s in run.stations.split(",") if s],
        chunk_s=run.chunk_s,
        chunks=run.chunks,
        chunks_done=run.chunks_done,
        chunks_failed=run.chunks_failed,
        chunks_empty=run.chunks_empty,
        detections=run.detections,
        events=run.events,
        started_at=run.started_at,
        finished_at=run.finished_at,
        source_kind=_source_kind(run.source_kind),
        source=run.source,
        station_selection=_selection(run.station_selection),
        config=run.config,
        config_digest=config_digest(run.config),
    )


def _source_kind(kind: str | None) -> Literal["sds", "fdsn"] | None:
    return "fdsn" if kind == "fdsn" else "sds" if kind == "sds" else None


def _selection(selection: str | None) -> Literal["given", "all"] | None:
    return "given" if selection == "given" else "all" if selection == "all" else None


def required_run(session: Session, name: str) -> CatalogueRun:
    run = get_run(session, name=name)
    if run is None:
        raise NotFoundError("run", name)
    return run


@router.get("", response_model=list[RunOut], summary="Catalogue runs, the newest first")
def runs_index(session: SessionDep) -> list[RunOut]:
    return [run_out(r) for r in list_runs(session)]


def _event_out(e: RunEvent) -> RunEventOut:
    return RunEventOut(
        id=e.id, time=e.time, stations=e.stations.split(), coincidence_sum=e.coincidence_sum
    )


@router.get(
    "/compare",
    response_model=RunCompareOut,
    summary="Two runs' events: matched, only in A, only in B",
    responses={404: {"description": "no such run"}},
)
def runs_compare(
    session: SessionDep,
    a: RunName,
    b: RunName,
    tolerance: Annotated[
        float, Query(gt=0, le=600, description="seconds between matched events' first onsets")
    ] = 2.0,
) -> RunCompareOut:
    run_a, run_b = required_run(session, a), required_run(session, b)
    found = compare_events(
        run_events(session, run_id=run_a.id), run_events(session, run_id=run_b.id), tolerance
    )
    return RunCompareOut(
        a=a,
        b=b,
        tolerance_s=tolerance,
        matched=[
            RunMatchOut(
                a=_event_out(x),
                b=_event_out(y),
                seconds=round(y.time.timestamp() - x.time.timestamp(), 6),
            )
            for x, y in found.matched
        ],
        only_a=[_event_out(e) for e in found.only_a],
        only_b=[_event_out(e) for e in found.only_b],
    )


def run_detection_out(d: RunDetection) -> DetectionOut:
    return DetectionOut(
        id=d.id,
        stream=f"{d.network}.{d.station}.{d.location}.{d.channel}",
        network=d.network,
        station=d.station,
        location=d.location,
        channel=d.channel,
        on_time=d.on_time,
        off_time=d.off_time,
        onset_time=d.onset_time,
        phase=d.phase,
        onset_uncertainty=d.onset_uncertainty,
        polarity=d.polarity,
        bridged=d.bridged,
        peak_ratio=d.peak_ratio,
        snr=d.snr,
        peak_amplitude=d.peak_amplitude,
        peak_physical=None,
        physical_unit=None,
        profile=d.profile,
    )


def run_detections_page(
    request: Request,
    session: Session,
    name: str,
    *,
    start: datetime | None,
    end: datetime | None,
    after: int | None,
    limit: int,
) -> Page[DetectionOut]:
    """A page of a run's detections (ids of the run's own), in the order of their ids."""
    run = required_run(session, name)
    found = run_detections(
        session, run_id=run.id, start=start, end=end, after_id=after, limit=limit
    )
    items = [run_detection_out(d) for d in found]
    return Page[DetectionOut](items=items, next=next_link(request, items[-1].id if items else None))


def run_events_answer(
    request: Request,
    session: Session,
    name: str,
    *,
    fmt: Literal["json", "csv", "quakeml"],
    start: datetime | None,
    end: datetime | None,
    after: int | None,
    limit: int,
) -> Response:
    """A page of a run's events with their detections (all final), as JSON, CSV or QuakeML
    (the formats of the live events; QuakeML ids ``smi:larza/run/NAME/...``, as the FDSN
    event service's ``catalog=NAME``)."""
    run = required_run(session, name)
    found = run_events(session, run_id=run.id, start=start, end=end, after_id=after, limit=limit)
    next_url = next_link(request, found[-1].id if found else None)
    if fmt == "quakeml":
        records = event_records_of(session, run=run, events=found)
        return records_quakeml(records, run_base_id(name), next_url, source_comment(run))
    picks = detections_by_id(session, ids=[int(i) for e in found for i in e.detections.split()])
    made = run.finished_at or run.started_at
    items = []
    for e in found:
        detections = sorted(
            (run_detection_out(picks[int(i)]) for i in e.detections.split()),
            key=lambda d: d.onset_time,
        )
        items.append(
            EventOut(
                id=e.id,
                time=e.time,
                status="final",
                n_stations=e.n_stations,
                stations=e.stations.split(),
                coincidence_sum=e.coincidence_sum,
                duration=e.duration,
                created_at=made,
                updated_at=made,
                detections=detections,
            )
        )
    if fmt == "csv":
        return events_csv(items, next_url)
    return etag_response(request, Page[EventOut](items=items, next=next_url))
