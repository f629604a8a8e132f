"""Larza events as an ObsPy ``Catalog``, ready to be written as QuakeML 1.2.

Larza associates detections in time; it computes neither a location nor a magnitude. So each
event gets one preliminary origin, honestly labelled as such:

* at the coordinates of the station reached first (the detection with the earliest onset),
  depth 0 (``depth_type`` "operator assigned"), with a comment saying so;
* at the event's time, ``evaluation_mode`` automatic, ``evaluation_status`` the event's
  status (preliminary or final);
* every detection becomes a ``Pick`` (time = its onset) with an ``Arrival`` on that origin.
  The onset is the first energy at the station, so the arrival's phase is "P".

An event without detections has no origin. No event has a magnitude.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from obspy import UTCDateTime
from obspy.core.event import (
    Arrival,
    Catalog,
    Comment,
    CreationInfo,
    Origin,
    OriginQuality,
    Pick,
    ResourceIdentifier,
    WaveformStreamID,
)
from obspy.core.event import Event as QuakeEvent
from obspy.geodetics import locations2degrees

from stations.models import Detection, Event, Station

__all__ = ["AUTHOR", "catalog_from_events", "first_detection", "origin_comment"]

AUTHOR = "Larza"


def first_detection(event: Event) -> Detection | None:
    """The detection with the earliest onset: its station is the event's preliminary origin."""
    return min(event.detections, key=lambda d: (d.onset_time, d.id), default=None)


def origin_comment(station: Station) -> str:
    return (
        f"Preliminary location: the coordinates of {station.network.code}.{station.code}, "
        "the first station reached; Larza computes no hypocentre. Depth fixed at 0 km."
    )


def _pick(detection: Detection, base_id: str) -> Any:
    channel = detection.channel
    station = channel.station
    return Pick(
        resource_id=ResourceIdentifier(f"{base_id}/pick/{detection.id}"),
        time=UTCDateTime(detection.onset_time),
        waveform_id=WaveformStreamID(
            network_code=station.network.code,
            station_code=station.code,
            location_code=channel.location,
            channel_code=channel.code,
        ),
        phase_hint="P",
        evaluation_mode="automatic",
        creation_info=CreationInfo(author=AUTHOR, creation_time=UTCDateTime(detection.created_at)),
    )


def _origin(event: Event, first: Station, picks: list[tuple[Detection, Any]], base_id: str) -> Any:
    origin_id = f"{base_id}/origin/{event.id}"
    arrivals = [
        Arrival(
            resource_id=ResourceIdentifier(f"{origin_id}/arrival/{detection.id}"),
            pick_id=pick.resource_id,
            phase="P",
            distance=locations2degrees(
                first.latitude,
                first.longitude,
                detection.channel.station.latitude,
                detection.channel.station.longitude,
            ),
        )
        for detection, pick in picks
    ]
    return Origin(
        resource_id=ResourceIdentifier(origin_id),
        time=UTCDateTime(event.time),
        latitude=first.latitude,
        longitude=first.longitude,
        depth=0.0,
        depth_type="operator assigned",
        evaluation_mode="automatic",
        evaluation_status=event.status.value,
        quality=OriginQuality(
            associated_phase_count=len(picks), associated_station_count=event.n_stations
        ),
        comments=[
            Comment(
                resource_id=ResourceIdentifier(f"{origin_id}/comment/location"),
                text=origin_comment(first),
            )
        ],
        arrivals=arrivals,
        creation_info=CreationInfo(author=AUTHOR, creation_time=UTCDateTime(event.updated_at)),
    )


def _event(event: Event, base_id: str) -> Any:
    detections = sorted(event.detections, key=lambda d: (d.onset_time, d.id))
    picks = [(d, _pick(d, base_id)) for d in detections]
    quake = QuakeEvent(
        resource_id=ResourceIdentifier(f"{base_id}/event/{event.id}"),
        picks=[pick for _d, pick in picks],
        creation_info=CreationInfo(author=AUTHOR, creation_time=UTCDateTime(event.created_at)),
    )
    if detections:
        origin = _origin(event, detections[0].channel.station, picks, base_id)
        quake.origins = [origin]
        quake.preferred_origin_id = origin.resource_id
    return quake


def catalog_from_events(events: Iterable[Event], base_id: str) -> Catalog:
    """An ObsPy ``Catalog`` of ``events``, in the order given.

    Each event needs its detections loaded with their channel, station and network (as
    ``stations.queries.list_events`` and ``get_event`` do). Resource identifiers are
    ``{base_id}/event/{id}``, ``{base_id}/origin/{event id}`` and
    ``{base_id}/pick/{detection id}``.
    """
    return Catalog(
        events=[_event(e, base_id) for e in events],
        resource_id=ResourceIdentifier(f"{base_id}/catalog"),
        description="Larza network events: detections associated in time",
        creation_info=CreationInfo(author=AUTHOR),
    )
