"""A Pamir-like test network of eleven stations and helpers for exact synthetic arrivals."""

from __future__ import annotations

from obspy.taup import TauPyModel

from detection import StationCoordinates, distance_km
from ingest.quakes.traveltimes import EARTH_RADIUS_KM

KM_PER_DEGREE = EARTH_RADIUS_KM * 3.141592653589793 / 180.0
T0 = 1_748_779_200.0

NETWORK: dict[str, StationCoordinates] = {
    "TJ.SAREZ": StationCoordinates(38.27, 72.60, 3.30),
    "TJ.MURGH": StationCoordinates(38.17, 73.96, 3.62),
    "TJ.MANEM": StationCoordinates(37.49, 71.55, 2.10),
    "TJ.RUSHN": StationCoordinates(37.95, 71.55, 2.00),
    "TJ.VANJ": StationCoordinates(38.37, 71.45, 1.90),
    "TJ.KARAK": StationCoordinates(39.02, 73.55, 3.90),
    "TJ.ALICH": StationCoordinates(37.75, 73.65, 3.90),
    "TJ.ISHKA": StationCoordinates(36.73, 71.61, 2.60),
    "TJ.LANGR": StationCoordinates(37.04, 72.65, 2.80),
    "TJ.JIRGA": StationCoordinates(39.22, 71.20, 1.90),
    "TJ.BULUN": StationCoordinates(37.70, 72.95, 3.70),
}

P_PHASES = ["p", "P", "Pn", "Pg"]
S_PHASES = ["s", "S", "Sn", "Sg"]
SURFACE = {"P": 5.80, "S": 3.36}
"""Velocities at the top of the default (Pamir) model, for the elevation delay."""


def taup_time(
    model: TauPyModel, phase: str, station: str, lat: float, lon: float, depth: float
) -> float:
    """First-arrival time straight from TauP, plus the vertical climb to the station."""
    c = NETWORK[station]
    degrees = float(distance_km(lat, lon, c.latitude, c.longitude)) / KM_PER_DEGREE
    names = P_PHASES if phase == "P" else S_PHASES
    first = min(a.time for a in model.get_travel_times(depth, degrees, names))
    return first + c.elevation_km / SURFACE[phase]
