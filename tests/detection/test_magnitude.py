"""ML from Wood-Anderson amplitudes, the network's trimmed mean, the energy class."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detection import (
    MagnitudeCalibration,
    StationMagnitude,
    energy_class,
    hutton_boore_minus_log_a0,
    network_magnitude,
    station_magnitude,
)


@pytest.mark.parametrize("r", [10.0, 57.0, 100.0, 230.0, 600.0])
def test_ml_of_a_synthetic_amplitude_is_the_formula(r: float) -> None:
    ml = 3.7
    # Hutton & Boore (1987) turned around: the amplitude an ML 3.7 gives at r km
    log_a = ml - (1.110 * math.log10(r / 100) + 0.00189 * (r - 100) + 3.0)
    epicentral = r * 0.6
    depth = math.sqrt(r**2 - epicentral**2)
    sm = station_magnitude("TJ.SAREZ", [10**log_a, 10**log_a], epicentral, depth)
    assert sm is not None
    assert sm.magnitude == pytest.approx(ml, abs=1e-9)
    assert sm.distance_km == pytest.approx(r)


def test_hutton_boore_at_100_km_is_3() -> None:
    assert float(hutton_boore_minus_log_a0(100.0)) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="distances > 0"):
        hutton_boore_minus_log_a0([10.0, 0.0])


def test_two_components_average_their_magnitudes_and_corrections_add() -> None:
    cal = MagnitudeCalibration(station_corrections={"TJ.MURGH": -0.2})
    sm = station_magnitude("TJ.MURGH", [1.0, 100.0], 100.0, 0.0, cal)
    assert sm is not None
    assert sm.magnitude == pytest.approx(1.0 + 3.0 - 0.2)  # mean of log10 1 and log10 100
    assert sm.correction == -0.2


def test_a_log_a0_table_is_linear_between_its_points() -> None:
    seiscomp = ((0.0, -1.3), (60.0, -2.8), (100.0, -3.0), (400.0, -4.5), (1000.0, -5.85))
    cal = MagnitudeCalibration(log_a0=seiscomp, distance="epicentral")
    assert float(cal.minus_log_a0(60.0)) == pytest.approx(2.8)
    assert float(cal.minus_log_a0(250.0)) == pytest.approx(3.75)
    sm = station_magnitude("TJ.SAREZ", [0.01], 250.0, 100.0, cal)
    assert sm is not None
    assert sm.magnitude == pytest.approx(-2 + 3.75)
    with pytest.raises(ValueError, match="increasing distances"):
        MagnitudeCalibration(log_a0=((10.0, -2.0), (5.0, -1.0)))


def test_stations_outside_the_calibrated_distances_give_no_magnitude() -> None:
    cal = MagnitudeCalibration(max_distance_km=500.0)
    assert station_magnitude("TJ.SAREZ", [1.0], 600.0, 0.0, cal) is None
    with pytest.raises(ValueError, match="positive finite amplitudes"):
        station_magnitude("TJ.SAREZ", [0.0], 50.0, 10.0)


def test_network_magnitude_trims_the_outliers() -> None:
    values = [3.0, 3.1, 2.9, 3.05, 2.95, 3.0, 5.5, 0.5]
    stations = [StationMagnitude(f"TJ.S{i}", m, (1.0,), 50.0, 0.0) for i, m in enumerate(values)]
    net = network_magnitude(stations, trim=0.25)
    assert net is not None
    assert net.station_count == 6
    assert net.magnitude == pytest.approx(np.mean(sorted(values)[1:-1]))
    assert net.uncertainty == pytest.approx(np.std(sorted(values)[1:-1], ddof=1))
    assert net.used == (True, True, True, True, True, True, False, False)
    one = network_magnitude(stations[:1])
    assert one is not None
    assert one.uncertainty is None
    assert one.station_count == 1
    assert network_magnitude([]) is None


def test_energy_class_by_the_central_asian_conversion() -> None:
    assert energy_class(4.0) == pytest.approx(1.8 * 4.0 + 4.6)
    assert energy_class(4.0, slope=1.5, intercept=4.8) == pytest.approx(10.8)
