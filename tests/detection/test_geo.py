"""Distances and azimuths against ObsPy's spherical ones."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from obspy.geodetics import locations2degrees

from detection import azimuth_deg, destination, distance_km

EARTH_RADIUS_KM = 6371.0


def test_distance_is_obspys_great_circle(rng: np.random.Generator) -> None:
    lat1, lat2 = rng.uniform(-80, 80, (2, 50))
    lon1, lon2 = rng.uniform(-180, 180, (2, 50))
    expected = [
        locations2degrees(a, b, c, d) for a, b, c, d in zip(lat1, lon1, lat2, lon2, strict=True)
    ]
    assert_allclose(
        distance_km(lat1, lon1, lat2, lon2), np.radians(expected) * EARTH_RADIUS_KM, rtol=1e-9
    )


def test_destination_walks_back_along_the_azimuth(rng: np.random.Generator) -> None:
    lat, lon = rng.uniform(-60, 60, 30), rng.uniform(-170, 170, 30)
    az, d = rng.uniform(0, 360, 30), rng.uniform(1, 2000, 30)
    lat2, lon2 = destination(lat, lon, az, d)
    assert_allclose(distance_km(lat, lon, lat2, lon2), d, rtol=1e-9)
    assert_allclose((azimuth_deg(lat, lon, lat2, lon2) - az + 180) % 360 - 180, 0, atol=1e-7)


def test_azimuth_of_the_cardinal_directions() -> None:
    assert float(azimuth_deg(38.0, 72.0, 39.0, 72.0)) == pytest.approx(0.0)
    assert float(azimuth_deg(38.0, 72.0, 38.0, 73.0)) == pytest.approx(89.69, abs=0.01)
    assert float(azimuth_deg(38.0, 72.0, 37.0, 72.0)) == pytest.approx(180.0)
