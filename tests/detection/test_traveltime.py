"""The travel-time table: bilinear interpolation, its derivatives, its checks."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from detection import TravelTimeTable

X = np.linspace(0.0, 100.0, 51)  # 2 km
Z = np.linspace(0.0, 50.0, 11)  # 5 km


def bilinear_table() -> TravelTimeTable:
    """Times that are themselves bilinear in (distance, depth): interpolation is exact."""
    xx, zz = np.meshgrid(X, Z)
    p = 1.0 + 0.16 * xx + 0.05 * zz + 0.001 * xx * zz
    return TravelTimeTable(X, Z, p, 1.7 * p, 5.8, 3.36, name="bilinear")


def test_interpolation_and_derivatives_are_exact_for_a_bilinear_field(
    rng: np.random.Generator,
) -> None:
    table = bilinear_table()
    x = rng.uniform(0, 100, 500)
    z = rng.uniform(0, 50, 500)
    s = rng.random(500) < 0.5
    expected = (1.0 + 0.16 * x + 0.05 * z + 0.001 * x * z) * np.where(s, 1.7, 1.0)
    t, dx, dz = table.time_gradient(s, x, z)
    assert_allclose(t, expected, rtol=1e-12)
    assert_allclose(dx, (0.16 + 0.001 * z) * np.where(s, 1.7, 1.0), rtol=1e-9)
    assert_allclose(dz, (0.05 + 0.001 * x) * np.where(s, 1.7, 1.0), rtol=1e-9)
    assert_allclose(table.time(s, x, z), t, rtol=0)


def test_grid_points_are_returned_as_stored() -> None:
    table = bilinear_table()
    xx, zz = np.meshgrid(X, Z)
    assert_allclose(table.time(False, xx, zz), table.p, rtol=0, atol=1e-12)
    assert_allclose(table.time(True, xx, zz), table.s, rtol=0, atol=1e-12)


def test_beyond_the_last_distance_the_last_slope_continues_and_depth_is_clamped() -> None:
    table = bilinear_table()
    t_end, slope, _ = table.time_gradient(False, 100.0, 20.0)
    assert float(table.time(False, 130.0, 20.0)) == pytest.approx(float(t_end + 30 * slope))
    assert float(table.time(False, 40.0, 80.0)) == pytest.approx(float(table.time(False, 40, 50)))
    assert float(table.time(False, 40.0, -3.0)) == pytest.approx(float(table.time(False, 40, 0)))


def test_elevation_delay_climbs_at_the_surface_velocity() -> None:
    table = bilinear_table()
    assert_allclose(table.elevation_delay([False, True], 3.36), [3.36 / 5.8, 1.0])


def test_the_digest_follows_the_contents() -> None:
    a, b = bilinear_table(), bilinear_table()
    assert a.digest == b.digest
    p = a.p.copy()
    p[3, 3] += 1e-6
    c = TravelTimeTable(X, Z, p, a.s, 5.8, 3.36)
    assert c.digest != a.digest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"distances_km": np.array([0.0, 1.0, 3.0])}, "uniform step"),
        ({"distances_km": X + 1.0}, "must start at 0"),
        ({"p": np.zeros((3, 3))}, "must have shape"),
        ({"surface_vs": 0.0}, "positive surface velocities"),
    ],
)
def test_bad_tables_are_refused(change: dict[str, object], message: str) -> None:
    t = bilinear_table()
    args: dict[str, object] = {
        "distances_km": t.distances_km,
        "depths_km": t.depths_km,
        "p": t.p,
        "s": t.s,
        "surface_vp": 5.8,
        "surface_vs": 3.36,
    }
    args.update(change)
    with pytest.raises(ValueError, match=message):
        TravelTimeTable(**args)  # type: ignore[arg-type]


def test_a_missing_time_is_named() -> None:
    t = bilinear_table()
    p = t.p.copy()
    p[2, 7] = np.inf
    with pytest.raises(ValueError, match=r"no time at depth 10\.0 km, distance 14\.0 km"):
        TravelTimeTable(X, Z, p, t.s, 5.8, 3.36)
