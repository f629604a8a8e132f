"""Larza events as an ObsPy ``Catalog``, ready to be written as QuakeML 1.2.

A located earthquake is written by :mod:`api.quakeml_located`: its latest origin with
uncertainties and arrivals (residuals, weights), its picks, amplitudes, station and network
magnitudes. An event Larza could not locate (a coincidence of triggers: too few stations
with coordinates) gets one preliminary origin, honestly labelled as such:

* at the coordinates of the station reached first (the detection with the earliest onset),
  depth 0 (``depth_type`` "operator assigned"), with a comment saying so;
* at the event's time, ``evaluation_mode`` automatic, ``evaluation_status`` the event's
  status (preliminary or final);
* every detection becomes a ``Pick`` (time = its onset, with its uncertainty; the waveform
  id; the phase hint P or S and the first motion where the detection has them) with an
  ``Arrival`` on that origin, of the pick's phase. A detection without a phase (a channel
  without partners) is the first energy at its station: its arrival's phase is "P".

An event without detections has no origin. No event has a magnitude.

Two writers give the same document: ``catalog_from_events`` builds ObsPy objects from ORM
events (write them with ``Catalog.write(..., format="QUAKEML")``), and ``quakeml_document``
writes the QuakeML 1.2 text of ``stations.event_search`` records directly, element for
element and indented as ObsPy's writer does: the FDSN event service's answer, without
building an ObsPy object per element (which cost most of its time). A test holds the two to
the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from obspy import UTCDateTime
from obspy.core.event import (
    Arrival,
    Catalog,
    Comment,
    CreationInfo,
    Origin,
    OriginQuality,
    Pick,
    QuantityError,
    ResourceIdentifier,
    WaveformStreamID,
)
from obspy.core.event import Event as QuakeEvent
from obspy.geodetics import locations2degrees

from api.quakeml_located import LocatedFields, event_fragment, located_event
from stations.event_search import DetectionRecord, EventRecord
from stations.models import Detection, Event, Station
from stations.quakes import EventQuake

__all__ = [
    "AUTHOR",
    "catalog_from_events",
    "first_detection",
    "location_comment",
    "origin_comment",
    "quakeml_document",
]

AUTHOR = "Larza"
CATALOG_DESCRIPTION = "Larza network events: detections associated in time"


def first_detection(event: Event) -> Detection | None:
    """The detection with the earliest onset: its station is the event's preliminary origin."""
    return min(event.detections, key=lambda d: (d.onset_time, d.id), default=None)


def location_comment(network: str, station: str) -> str:
    """The origin's comment: whose coordinates these are, and that it is no hypocentre."""
    return (
        f"Preliminary location: the coordinates of {network}.{station}, "
        "the first station reached; Larza computes no hypocentre. Depth fixed at 0 km."
    )


def origin_comment(station: Station) -> str:
    return location_comment(station.network.code, station.code)


def _pick(detection: Detection, base_id: str) -> Any:
    channel = detection.channel
    station = channel.station
    pick = Pick(
        resource_id=ResourceIdentifier(f"{base_id}/pick/{detection.id}"),
        time=UTCDateTime(detection.onset_time),
        waveform_id=WaveformStreamID(
            network_code=station.network.code,
            station_code=station.code,
            location_code=channel.location,
            channel_code=channel.code,
        ),
        evaluation_mode="automatic",
        creation_info=CreationInfo(author=AUTHOR, creation_time=UTCDateTime(detection.created_at)),
    )
    if detection.onset_uncertainty is not None:
        pick.time_errors = QuantityError(uncertainty=detection.onset_uncertainty)
    if detection.phase is not None:
        pick.phase_hint = detection.phase
    if detection.polarity is not None:
        pick.polarity = detection.polarity
    return pick


def _origin(
    event: Event,
    first: Station,
    picks: list[tuple[Detection, Any]],
    arriving: list[tuple[Detection, Any]],
    base_id: str,
) -> Any:
    """The origin of an unlocated event, at its first station; ``arriving``: the picks to
    give as arrivals (none when they are not asked for)."""
    origin_id = f"{base_id}/origin/{event.id}"
    arrivals = [
        Arrival(
            resource_id=ResourceIdentifier(f"{origin_id}/arrival/{detection.id}"),
            pick_id=pick.resource_id,
            phase=detection.phase or "P",
            distance=locations2degrees(
                first.latitude,
                first.longitude,
                detection.channel.station.latitude,
                detection.channel.station.longitude,
            ),
        )
        for detection, pick in arriving
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


def _event(event: Event, base_id: str, found: EventQuake | None, arrivals: bool) -> Any:
    detections = sorted(event.detections, key=lambda d: (d.onset_time, d.id))
    picks = [(d, _pick(d, base_id)) for d in detections]
    if found is not None and found.origin is not None and event.latitude is not None:
        fields = LocatedFields(
            id=event.id,
            status=event.status,
            created_at=event.created_at,
            magnitude=event.magnitude,
            magnitude_uncertainty=event.magnitude_uncertainty,
            magnitude_stations=event.magnitude_stations,
            energy_class=event.energy_class,
        )
        return located_event(fields, [p for _d, p in picks], found, base_id, arrivals)
    quake = QuakeEvent(
        resource_id=ResourceIdentifier(f"{base_id}/event/{event.id}"),
        picks=[pick for _d, pick in picks],
        creation_info=CreationInfo(author=AUTHOR, creation_time=UTCDateTime(event.created_at)),
    )
    if detections:
        used = picks if arrivals else []
        origin = _origin(event, detections[0].channel.station, picks, used, base_id)
        quake.origins = [origin]
        quake.preferred_origin_id = origin.resource_id
    return quake


def run_base_id(name: str) -> str:
    """The base of the QuakeML resource ids of a catalogue run's events (``/api/v1/events``
    and the FDSN event service give the same)."""
    return f"smi:larza/run/{quote(name)}"


def catalog_from_events(
    events: Iterable[Event],
    base_id: str,
    quakes: Mapping[int, EventQuake] | None = None,
    arrivals: bool = True,
) -> Catalog:
    """An ObsPy ``Catalog`` of ``events``, in the order given; ``quakes`` (by event id) the
    located events' origins and magnitudes (``stations.quakes.event_quakes``).

    Each event needs its detections loaded with their channel, station and network (as
    ``stations.queries.list_events`` and ``get_event`` do). Resource identifiers are
    ``{base_id}/event/{id}``, ``{base_id}/origin/{event id}`` and
    ``{base_id}/pick/{detection id}``.
    """
    return Catalog(
        events=[_event(e, base_id, (quakes or {}).get(e.id), arrivals) for e in events],
        resource_id=ResourceIdentifier(f"{base_id}/catalog"),
        description=CATALOG_DESCRIPTION,
        creation_info=CreationInfo(author=AUTHOR),
    )


# QuakeML 1.2 written directly: the elements, order and indentation of ObsPy's writer. Ids
# are the escaped ``base_id`` and numbers; codes and comments repeat and are escaped once.

_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def _attr(value: str) -> str:
    return escape(value, _ATTRIBUTE_ENTITIES)


def _time(value: datetime) -> str:
    """As ObsPy's ``str(UTCDateTime(value))``: UTC (a naive time is taken as UTC, as ObsPy
    does), microseconds and a ``Z``."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031 (twice as fast)
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


@lru_cache(maxsize=4096)
def _degrees(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """ObsPy's own great-circle distance, once per pair of stations."""
    return float(locations2degrees(lat1, lon1, lat2, lon2))


@lru_cache(maxsize=4096)
def _waveform_id(network: str, station: str, location: str, channel: str) -> str:
    return (
        f'        <waveformID networkCode="{_attr(network)}" stationCode="{_attr(station)}"'
        f' locationCode="{_attr(location)}" channelCode="{_attr(channel)}"></waveformID>\n'
    )


@lru_cache(maxsize=4096)
def _comment_text(network: str, station: str) -> str:
    return escape(location_comment(network, station))


def _creation_info(indent: str, created: datetime | None) -> str:
    when = "" if created is None else f"{indent}  <creationTime>{_time(created)}</creationTime>\n"
    return (
        f"{indent}<creationInfo>\n{indent}  <author>{AUTHOR}</author>\n{when}"
        f"{indent}</creationInfo>\n"
    )


@dataclass(frozen=True)
class _Base:
    """``base_id`` escaped for an attribute and for text."""

    attr: str
    text: str


def _pick_xml(d: DetectionRecord, base: _Base) -> str:
    error = (
        ""
        if d.onset_uncertainty is None
        else f"          <uncertainty>{float(d.onset_uncertainty)!r}</uncertainty>\n"
    )
    phase = "" if d.phase is None else f"        <phaseHint>{escape(d.phase)}</phaseHint>\n"
    polarity = "" if d.polarity is None else f"        <polarity>{escape(d.polarity)}</polarity>\n"
    return (
        f'      <pick publicID="{base.attr}/pick/{d.id}">\n'
        f"        <time>\n          <value>{_time(d.onset_time)}</value>\n{error}        </time>\n"
        + _waveform_id(d.network, d.station, d.location, d.channel)
        + phase
        + polarity
        + "        <evaluationMode>automatic</evaluationMode>\n"
        + _creation_info("        ", d.created_at)
        + "      </pick>\n"
    )


def _origin_xml(event: EventRecord, first: DetectionRecord, base: _Base, arrivals: bool) -> str:
    origin = f"{base.attr}/origin/{event.id}"
    parts = [
        f'      <origin publicID="{origin}">\n'
        f"        <time>\n          <value>{_time(event.time)}</value>\n        </time>\n"
        f"        <latitude>\n          <value>{float(first.latitude)!r}</value>\n"
        "        </latitude>\n"
        f"        <longitude>\n          <value>{float(first.longitude)!r}</value>\n"
        "        </longitude>\n"
        "        <depth>\n          <value>0.0</value>\n        </depth>\n"
        "        <depthType>operator assigned</depthType>\n"
        "        <quality>\n"
        f"          <associatedPhaseCount>{len(event.detections)}</associatedPhaseCount>\n"
        f"          <associatedStationCount>{event.n_stations}</associatedStationCount>\n"
        "        </quality>\n"
        "        <evaluationMode>automatic</evaluationMode>\n"
        f"        <evaluationStatus>{escape(event.status.value)}</evaluationStatus>\n"
        f'        <comment id="{origin}/comment/location">\n'
        f"          <text>{_comment_text(first.network, first.station)}</text>\n"
        "        </comment>\n",
        _creation_info("        ", event.updated_at),
    ]
    for d in event.detections if arrivals else ():
        distance = _degrees(first.latitude, first.longitude, d.latitude, d.longitude)
        parts.append(
            f'        <arrival publicID="{origin}/arrival/{d.id}">\n'
            f"          <pickID>{base.text}/pick/{d.id}</pickID>\n"
            f"          <phase>{escape(d.phase or 'P')}</phase>\n"
            f"          <distance>{distance!r}</distance>\n"
            "        </arrival>\n"
        )
    parts.append("      </origin>\n")
    return "".join(parts)


def _record_pick(d: DetectionRecord, base_id: str) -> Any:
    """The ObsPy pick ``_pick`` makes of the same detection."""
    pick = Pick(
        resource_id=ResourceIdentifier(f"{base_id}/pick/{d.id}"),
        time=UTCDateTime(d.onset_time),
        waveform_id=WaveformStreamID(
            network_code=d.network,
            station_code=d.station,
            location_code=d.location,
            channel_code=d.channel,
        ),
        evaluation_mode="automatic",
        creation_info=CreationInfo(author=AUTHOR, creation_time=UTCDateTime(d.created_at)),
    )
    if d.onset_uncertainty is not None:
        pick.time_errors = QuantityError(uncertainty=d.onset_uncertainty)
    if d.phase is not None:
        pick.phase_hint = d.phase
    if d.polarity is not None:
        pick.polarity = d.polarity
    return pick


def _located_xml(event: EventRecord, base_id: str, arrivals: bool) -> str:
    assert event.quake is not None
    fields = LocatedFields(
        id=event.id,
        status=event.status,
        created_at=event.created_at,
        magnitude=event.magnitude,
        magnitude_uncertainty=event.magnitude_uncertainty,
        magnitude_stations=event.magnitude_stations,
        energy_class=event.energy_class,
    )
    picks = [_record_pick(d, base_id) for d in event.detections]
    return event_fragment(located_event(fields, picks, event.quake, base_id, arrivals))


def _event_xml(event: EventRecord, base: _Base, arrivals: bool) -> str:
    first = event.first
    parts = [f'    <event publicID="{base.attr}/event/{event.id}">\n']
    if first is not None:
        parts.append(
            f"      <preferredOriginID>{base.text}/origin/{event.id}</preferredOriginID>\n"
        )
    parts.append(_creation_info("      ", event.created_at))
    if first is not None:
        parts.append(_origin_xml(event, first, base, arrivals))
    parts.extend(_pick_xml(d, base) for d in event.detections)
    parts.append("    </event>\n")
    return "".join(parts)


def quakeml_document(
    events: Iterable[EventRecord], base_id: str, arrivals: bool = True, comment: str | None = None
) -> bytes:
    """QuakeML 1.2 (UTF-8) of ``events``, as read by ``stations.event_search``: the document
    ObsPy writes for ``catalog_from_events`` of the same events, written directly (located
    events through ObsPy's writer); ``comment``: the catalogue's own (``{base_id}/comment/
    source``: where a catalogue run's data came from), where ObsPy writes a catalogue's."""
    base = _Base(attr=_attr(base_id), text=escape(base_id))
    said = (
        ""
        if comment is None
        else f'    <comment id="{base.attr}/comment/source">\n'
        f"      <text>{escape(comment)}</text>\n    </comment>\n"
    )
    head = (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<q:quakeml xmlns="http://quakeml.org/xmlns/bed/1.2"'
        ' xmlns:q="http://quakeml.org/xmlns/quakeml/1.2">\n'
        f'  <eventParameters publicID="{base.attr}/catalog">\n'
        f"    <description>{escape(CATALOG_DESCRIPTION)}</description>\n"
        + said
        + _creation_info("    ", None)
    )
    body = "".join(
        _located_xml(e, base_id, arrivals) if e.quake is not None else _event_xml(e, base, arrivals)
        for e in events
    )
    return (head + body + "  </eventParameters>\n</q:quakeml>\n").encode()
