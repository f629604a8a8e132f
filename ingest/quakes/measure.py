"""An event's magnitude and ground motion from the records around it: per station the Wood-
Anderson amplitudes of the chosen sensor's horizontals (the seismometer unless it clipped),
the station ML, the network ML and energy class K, and the ground motion of each sensor that
did not clip (the accelerometer's preferred).

What can be measured is measured: a station without a response or without data is named in
a warning and left out; its picks still count for the location.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from obspy import Inventory, Stream, Trace, UTCDateTime

from detection import (
    MagnitudeCalibration,
    NetworkMagnitude,
    Origin,
    StationCoordinates,
    StationMagnitude,
    StationMotion,
    TravelTimeTable,
    distance_km,
    network_magnitude,
    station_magnitude,
)
from ingest.quakes.amplitudes import wood_anderson_amplitude_mm
from ingest.quakes.motion import ground_motion
from ingest.quakes.sensors import ACCELEROMETER_CODES, choose_sensor, is_clipped

__all__ = ["Measured", "StationMeasure", "measure_event"]

log = logging.getLogger(__name__)

PRE_EVENT_S = 30.0
"""Data read before the P: the response removal's taper falls there."""
CODA_S = 30.0
"""The amplitude window ends this long after the S."""

MAX_STATIONS = 20
"""The nearest stations of an event measured, at most (bounds the work per event)."""

Reader = Callable[[str, float, float], Stream]
"""``NET.STA``, start, end (POSIX s) -> that station's traces (all channels) in the span."""


@dataclass(frozen=True)
class StationMeasure:
    station: str
    magnitude: StationMagnitude | None
    magnitude_channels: tuple[str, ...]
    used: bool
    motion: StationMotion | None
    motion_channels: tuple[str, ...]
    distance_km: float


@dataclass(frozen=True)
class Measured:
    network: NetworkMagnitude | None
    energy_class: float | None
    stations: tuple[StationMeasure, ...]


def measure_event(
    origin: Origin,
    stations: Sequence[str],
    coordinates: Mapping[str, StationCoordinates],
    table: TravelTimeTable,
    read: Reader,
    inventory: Inventory,
    calibration: MagnitudeCalibration,
    clip_levels: Callable[[str], float | None],
    wood_anderson_gain: float,
) -> Measured:
    """Measure a located event at ``stations`` (the nearest ``MAX_STATIONS`` of them);
    ``clip_levels(trace id)`` the counts at which a channel clips (``None``: unknown)."""
    out: list[StationMeasure] = []
    known = {s: coordinates[s] for s in stations if s in coordinates}
    epicentral = {
        s: float(distance_km(origin.latitude, origin.longitude, c.latitude, c.longitude))
        for s, c in known.items()
    }
    for station in sorted(epicentral, key=epicentral.__getitem__)[:MAX_STATIONS]:
        epi = epicentral[station]
        depth = max(origin.depth_km, 0.0)
        reach = min(epi, table.max_distance_km)
        p_time = origin.time + float(table.time(False, reach, depth))
        s_time = origin.time + float(table.time(True, reach, depth))
        start, end = p_time - 2.0, s_time + CODA_S
        stream = read(station, p_time - PRE_EVENT_S, end + 5.0)
        if not stream:
            log.warning("%s: no data around the event: no magnitude or ground motion", station)
            continue
        try:
            stream.merge(method=1, fill_value="interpolate")
        except Exception as e:  # ObsPy refuses to merge traces of differing rates
            log.warning("%s: its traces cannot be merged (%s): left out", station, e)
            continue
        by_code = {tr.stats.channel: tr for tr in stream}
        clipped = [c for c, tr in by_code.items() if is_clipped(tr, clip_levels(tr.id))]
        out.append(
            _station(
                station, by_code, clipped, epi, depth, start, end, inventory, calibration,
                wood_anderson_gain,
            )
        )  # fmt: skip
    magnitudes = [m.magnitude for m in out if m.magnitude is not None]
    network = network_magnitude(magnitudes, calibration.trim) if magnitudes else None
    if network is not None:
        used = dict(zip((id(s) for s in network.stations), network.used, strict=True))
        out = [m if m.magnitude is None else _with_used(m, used[id(m.magnitude)]) for m in out]
    k = (
        calibration.k_slope * network.magnitude + calibration.k_intercept
        if network is not None
        else None
    )
    return Measured(network, k, tuple(out))


def _with_used(m: StationMeasure, used: bool) -> StationMeasure:
    return StationMeasure(
        m.station, m.magnitude, m.magnitude_channels, used, m.motion, m.motion_channels,
        m.distance_km,
    )  # fmt: skip


def _station(
    station: str,
    by_code: Mapping[str, Trace],
    clipped: Sequence[str],
    epi: float,
    depth: float,
    start: float,
    end: float,
    inventory: Inventory,
    calibration: MagnitudeCalibration,
    gain: float,
) -> StationMeasure:
    t0, t1 = UTCDateTime(start), UTCDateTime(end)
    chosen = choose_sensor(by_code, clipped)
    magnitude: StationMagnitude | None = None
    amplitudes: list[float] = []
    for code in chosen:
        try:
            amplitude = wood_anderson_amplitude_mm(by_code[code], inventory, t0, t1, gain)
        except ValueError as e:
            log.warning("%s: no Wood-Anderson amplitude: %s", station, e)
            continue
        if math.isfinite(amplitude) and amplitude > 0:
            amplitudes.append(amplitude)
    if amplitudes:
        magnitude = station_magnitude(station, amplitudes, epi, depth, calibration)
    motion: StationMotion | None = None
    motion_codes: tuple[str, ...] = ()
    sensors = sorted({c[:2] for c in by_code}, key=lambda s: s not in ACCELEROMETER_CODES)
    for sensor in sensors:
        codes = tuple(sorted(c for c in by_code if c[:2] == sensor))
        if any(c in clipped for c in codes):
            continue
        try:
            motion = ground_motion([by_code[c] for c in codes], inventory, t0, t1)
        except ValueError as e:
            log.warning("%s: no ground motion from %s: %s", station, sensor, e)
            continue
        motion_codes = codes
        break
    return StationMeasure(
        station=station,
        magnitude=magnitude,
        magnitude_channels=chosen if magnitude is not None else (),
        used=False,
        motion=motion,
        motion_channels=motion_codes,
        distance_km=math.hypot(epi, depth),
    )
