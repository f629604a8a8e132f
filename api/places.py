"""Where an epicentre is, in words: "42 km NE of Murghob", from the nearest station that
recorded the event (its site name from the inventory, up to the first comma, else its code).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from obspy.geodetics import gps2dist_azimuth

__all__ = ["place_name", "site_label"]

_POINTS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def place_name(
    latitude: float, longitude: float, stations: Iterable[tuple[float, float, str]]
) -> str | None:
    """``stations``: (latitude, longitude, name) of the stations to measure from; ``None``
    without any. Within 2 km of a station: "near <name>"."""
    best: tuple[float, float, str] | None = None
    for lat, lon, name in stations:
        # ObsPy's azimuth is from its first point (the station) to the second (the epicentre)
        metres, from_station, _back = gps2dist_azimuth(lat, lon, latitude, longitude)
        if best is None or metres < best[0]:
            best = (metres, from_station, name)
    if best is None:
        return None
    km, azimuth, name = best[0] / 1000.0, best[1], best[2]
    if km < 2.0:
        return f"near {name}"
    point = _POINTS[math.floor((azimuth % 360.0) / 45.0 + 0.5) % 8]
    return f"{km:.0f} km {point} of {name}"


def site_label(site_name: str | None, code: str) -> str:
    """A station's place name: its site name up to the first comma, else its code."""
    if site_name and site_name.strip():
        return site_name.split(",")[0].strip()
    return code
