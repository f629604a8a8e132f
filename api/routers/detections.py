"""``/api/v1/detections``: detections in the order they were stored, with a cursor."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import SessionDep, SettingsDep
from api.downloads import MSEED_ANSWER, around, detections_csv, list_formats, snippet
from api.errors import BAD_REQUEST
from api.etag import etag_response
from api.pagination import MAX_ID, After, Limit, QueryTime, checked_window, next_link
from api.quake_schemas import ArrivalOut
from api.routers.runs import run_detections_page
from api.schemas import DetectionOut, Page
from stations.models import Detection
from stations.quakes import DetectionUse, detection_uses
from stations.queries import get_detection, list_detections, require_station

router = APIRouter(prefix="/api/v1/detections", tags=["detections"], responses=BAD_REQUEST)


def detection_out(d: Detection, use: DetectionUse | None = None) -> DetectionOut:
    """A detection as the API shows it; ``use``: its event and arrival
    (``stations.quakes.detection_uses``)."""
    channel = d.channel
    station = channel.station
    stream = f"{station.network.code}.{station.code}.{channel.location}.{channel.code}"
    arrival = use.arrival if use is not None else None
    return DetectionOut(
        event_id=use.event_id if use is not None else None,
        arrival=None
        if arrival is None
        else ArrivalOut(
            detection_id=d.id,
            stream=stream,
            phase="S" if arrival.phase == "S" else "P",
            residual=arrival.residual,
            weight=arrival.weight,
            distance_km=arrival.distance_km,
            azimuth=arrival.azimuth,
        ),
        id=d.id,
        stream=f"{station.network.code}.{station.code}.{channel.location}.{channel.code}",
        network=station.network.code,
        station=station.code,
        location=channel.location,
        channel=channel.code,
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
        peak_physical=d.peak_amplitude / channel.sensitivity if channel.sensitivity else None,
        physical_unit=channel.sensitivity_unit if channel.sensitivity else None,
        profile=d.profile,
        status=d.status,
    )


Code = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{1,8}$")]


@router.get(
    "",
    response_model=Page[DetectionOut],
    summary="Detections, oldest stored first",
    responses={**list_formats("text/csv"), 404: {"description": "no such station or run"}},
)
def detections_index(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[QueryTime | None, Query(description="trigger-on time at or after")] = None,
    end: Annotated[QueryTime | None, Query(description="trigger-on time before")] = None,
    network: Code = None,
    station: Annotated[
        str | None,
        Query(pattern=r"^([A-Za-z0-9]{1,8}\.)?[A-Za-z0-9]{1,8}$", description="STA or NET.STA"),
    ] = None,
    channel: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{3}$")] = None,
    min_snr: Annotated[float | None, Query(ge=0)] = None,
    phase: Annotated[
        Literal["P", "S", "none"] | None,
        Query(description="P, S, or none (detections without a phase)"),
    ] = None,
    after: After = None,
    limit: Limit = 100,
    fmt: Annotated[
        Literal["json", "csv"], Query(alias="format", description="json (default) or csv")
    ] = "json",
    run: Annotated[
        str | None,
        Query(max_length=100, description="a catalogue run's picks (onset in start..end)"),
    ] = None,
) -> Response:
    start, end = checked_window(start, end, limit, settings.page_size_max)
    if run is not None:
        found_run = run_detections_page(
            request, session, run, start=start, end=end, after=after, limit=limit
        )
        if fmt == "csv":
            return detections_csv(found_run.items, found_run.next)
        return etag_response(request, found_run)
    if station is not None and "." in station:
        network, station = station.split(".")
    network = network.upper() if network else None
    station = station.upper() if station else None
    if station is not None:
        require_station(session, network=network, station=station)  # 404 names it
    found = list_detections(
        session,
        start=start,
        end=end,
        network=network,
        station=station,
        channel=channel.upper() if channel else None,
        min_snr=min_snr,
        phase=phase,
        after_id=after,
        limit=limit,
    )
    uses = detection_uses(session, detection_ids=[d.id for d in found])
    items = [detection_out(d, uses.get(d.id)) for d in found]
    page = Page[DetectionOut](items=items, next=next_link(request, items[-1].id if items else None))
    if fmt == "csv":
        return detections_csv(items, page.next)
    return etag_response(request, page)


@router.get(
    "/{detection_id}/waveforms.mseed",
    response_class=Response,
    summary="miniSEED from the archive around a detection, records as archived",
    responses={**MSEED_ANSWER, 404: {"description": "no such detection"}},
)
def detection_waveforms(
    session: SessionDep,
    settings: SettingsDep,
    detection_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    before: Annotated[float, Query(ge=0, le=600, description="seconds before the onset")] = 30.0,
    after: Annotated[float, Query(ge=0, le=3600, description="seconds after trigger off")] = 60.0,
) -> Response:
    d = get_detection(session, detection_id=detection_id)
    c = d.channel
    start, end = around(d.onset_time, d.off_time, before, after)
    stream = (c.station.network.code, c.station.code, c.location, c.code)
    return snippet(
        session,
        settings.archive_dir,
        streams=[stream],
        start=start,
        end=end,
        filename=f"larza-detection-{detection_id}.mseed",
    )
