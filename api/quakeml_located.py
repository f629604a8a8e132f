"""A located earthquake as QuakeML 1.2 (ObsPy objects): its latest origin with the
uncertainties (time, latitude and longitude in degrees, depth in m, the 68.3 % ellipse), the
quality (phases, stations, RMS, azimuthal gap, distances) and each arrival's phase, residual,
weight, distance and azimuth; the picks with their phase hints; per station the Wood-Anderson
amplitude and the station ML; the network ML with its uncertainty, station count and each
station's contribution (weight 0: trimmed); the energy class K and the HYPO71 grade as
comments.

Used by both QuakeML writers of :mod:`api.quakeml` (the direct writer takes such an event's
``<event>`` element from ObsPy's), so a located event reads the same from the REST API and
the FDSN event service.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from obspy import UTCDateTime
from obspy.core.event import (
    Amplitude,
    Arrival,
    Catalog,
    Comment,
    CreationInfo,
    Magnitude,
    Origin,
    QuantityError,
    ResourceIdentifier,
    StationMagnitude,
    StationMagnitudeContribution,
    WaveformStreamID,
)
from obspy.core.event import Event as QuakeEvent

from stations.models import EventStatus
from stations.quakeml_origin import KM_PER_DEGREE, add_origin_errors
from stations.quakes import EventQuake

__all__ = ["LocatedFields", "event_fragment", "located_event"]


@dataclass(frozen=True)
class LocatedFields:
    """What both writers know of the event row."""

    id: int
    status: EventStatus
    created_at: datetime
    magnitude: float | None
    magnitude_uncertainty: float | None
    magnitude_stations: int | None
    energy_class: float | None = None


def _rid(text: str) -> ResourceIdentifier:
    return ResourceIdentifier(text)


def _origin(e: LocatedFields, quake: EventQuake, base_id: str, arrivals: bool) -> Any:
    o = quake.origin
    assert o is not None
    assert o.latitude is not None
    assert o.longitude is not None
    origin_id = f"{base_id}/origin/{e.id}/{o.version}"
    origin = Origin(
        resource_id=_rid(origin_id),
        time=UTCDateTime(o.time),
        latitude=o.latitude,
        longitude=o.longitude,
        depth=(o.depth_km or 0.0) * 1000.0,
        depth_type="operator assigned" if o.status.value == "fixed_depth" else "from location",
        evaluation_mode="automatic",
        evaluation_status=e.status.value,
        method_id=_rid(f"{base_id}/method/grid-search"),
        creation_info=CreationInfo(author="Larza", creation_time=UTCDateTime(o.created_at)),
        comments=[
            Comment(
                resource_id=_rid(f"{origin_id}/comment/quality"),
                text=f"HYPO71 quality {o.quality}; version {o.version}"
                + (f"; {o.reason}" if o.reason else ""),
            )
        ],
    )
    add_origin_errors(origin, o)
    if arrivals:
        for a in o.arrivals:
            origin.arrivals.append(
                Arrival(
                    resource_id=_rid(f"{origin_id}/arrival/{a.detection_id}"),
                    pick_id=_rid(f"{base_id}/pick/{a.detection_id}"),
                    phase=a.phase,
                    time_residual=a.residual,
                    time_weight=a.weight,
                    distance=None if a.distance_km is None else a.distance_km / KM_PER_DEGREE,
                    azimuth=a.azimuth,
                )
            )
    return origin


def located_event(
    e: LocatedFields, picks: Sequence[Any], quake: EventQuake, base_id: str, arrivals: bool = True
) -> Any:
    """The ObsPy event of a located earthquake (``picks``: its ObsPy picks, in order)."""
    origin = _origin(e, quake, base_id, arrivals)
    event = QuakeEvent(
        resource_id=_rid(f"{base_id}/event/{e.id}"),
        event_type="earthquake",
        picks=list(picks),
        origins=[origin],
        preferred_origin_id=origin.resource_id,
        creation_info=CreationInfo(author="Larza", creation_time=UTCDateTime(e.created_at)),
    )
    contributions = []
    for m in quake.magnitudes:
        network, station = m.station.network.code, m.station.code
        channel = m.channels.split(",")[0] if m.channels else ""
        amplitude_id = _rid(f"{base_id}/amplitude/{m.id}")
        amplitudes = [float(a) for a in m.amplitudes_mm.split(",") if a]
        event.amplitudes.append(
            Amplitude(
                resource_id=amplitude_id,
                generic_amplitude=max(amplitudes, default=0.0) / 1000.0,
                type="AML",
                unit="m",
                category="point",
                magnitude_hint="ML",
                evaluation_mode="automatic",
                waveform_id=WaveformStreamID(network, station, "", channel),
            )
        )
        station_magnitude = StationMagnitude(
            resource_id=_rid(f"{base_id}/stationmagnitude/{m.id}"),
            origin_id=origin.resource_id,
            mag=m.magnitude,
            station_magnitude_type="ML",
            amplitude_id=amplitude_id,
            waveform_id=WaveformStreamID(network, station, "", channel),
        )
        event.station_magnitudes.append(station_magnitude)
        contributions.append(
            StationMagnitudeContribution(
                station_magnitude_id=station_magnitude.resource_id, weight=1.0 if m.used else 0.0
            )
        )
    if e.magnitude is not None:
        magnitude = Magnitude(
            resource_id=_rid(f"{base_id}/magnitude/{e.id}"),
            mag=e.magnitude,
            magnitude_type="ML",
            origin_id=origin.resource_id,
            method_id=_rid(f"{base_id}/method/trimmed-mean"),
            station_count=e.magnitude_stations,
            station_magnitude_contributions=contributions,
            evaluation_mode="automatic",
            evaluation_status=e.status.value,
        )
        if e.magnitude_uncertainty is not None:
            magnitude.mag_errors = QuantityError(uncertainty=e.magnitude_uncertainty)
        if e.energy_class is not None:
            magnitude.comments.append(
                Comment(
                    resource_id=_rid(f"{base_id}/magnitude/{e.id}/comment/k"),
                    text=f"energy class K {e.energy_class:.1f}",
                )
            )
        event.magnitudes.append(magnitude)
        event.preferred_magnitude_id = magnitude.resource_id
    return event


def event_fragment(event: Any) -> str:
    """The ``<event>`` element ObsPy writes for ``event`` in a catalog, indented as there."""
    buf = io.BytesIO()
    Catalog(events=[event]).write(buf, format="QUAKEML")
    text = buf.getvalue().decode()
    start = text.index("    <event ")
    end = text.index("    </event>\n") + len("    </event>\n")
    return text[start:end]
