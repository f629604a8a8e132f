"""When a synthetic quake's P and S reach a station: straight rays at constant speeds (the
fallback), or the travel-time table of a velocity model (the worker's ``[velocity_model]``,
so that the feed's quakes are where the worker's locator puts them)."""

from __future__ import annotations

import math
from typing import Protocol

from detection import TravelTimeTable, distance_km
from ingest.feed._stations import StationSpec

__all__ = [
    "EARTH_RADIUS_KM",
    "P_VELOCITY_KM_S",
    "S_VELOCITY_KM_S",
    "Arrivals",
    "ModelArrivals",
    "StraightRays",
    "epicentral_distance_km",
]

P_VELOCITY_KM_S = 6.0
S_VELOCITY_KM_S = 3.5
EARTH_RADIUS_KM = 6371.0


def epicentral_distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on a spherical Earth."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class Arrivals(Protocol):
    """Travel times, in seconds, of the first P and the first S from a hypocentre to a
    station."""

    name: str

    def travel_times(
        self, latitude: float, longitude: float, depth_km: float, station: StationSpec
    ) -> tuple[float, float]: ...


class StraightRays:
    """P at 6.0 and S at 3.5 km/s along the straight path from the hypocentre to the station
    (depth plus elevation)."""

    name = "straight rays, P 6.0 km/s, S 3.5 km/s"

    def travel_times(
        self, latitude: float, longitude: float, depth_km: float, station: StationSpec
    ) -> tuple[float, float]:
        epi = epicentral_distance_km(latitude, longitude, station.latitude, station.longitude)
        r = math.hypot(epi, depth_km + station.elevation / 1000.0)
        return r / P_VELOCITY_KM_S, r / S_VELOCITY_KM_S


class ModelArrivals:
    """The first arrivals of a velocity model's table, plus the climb to the station's
    elevation, exactly as the worker's locator predicts them (``detection.locate``)."""

    def __init__(self, table: TravelTimeTable) -> None:
        self.table = table
        self.name = table.name

    def travel_times(
        self, latitude: float, longitude: float, depth_km: float, station: StationSpec
    ) -> tuple[float, float]:
        epi = float(distance_km(latitude, longitude, station.latitude, station.longitude))
        elevation = station.elevation / 1000.0
        p = float(self.table.time(False, epi, depth_km)) + float(
            self.table.elevation_delay(False, elevation)
        )
        s = float(self.table.time(True, epi, depth_km)) + float(
            self.table.elevation_delay(True, elevation)
        )
        return p, s
