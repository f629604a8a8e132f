"""PGA, PGV, PSA and intensity against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from detection import (
    component_motion,
    mmi_from_pga,
    mmi_from_pgv,
    oscillator_response,
    station_motion,
)

G_M_S2 = 9.80665


def newmark(acc: np.ndarray, fs: float, period: float, damping: float, sub: int = 20) -> np.ndarray:
    """Newmark's average-acceleration method (an independent integrator), on the input
    interpolated to a twentieth of the sample interval; relative displacement at the samples."""
    t = np.arange(acc.size) / fs
    fine = np.arange((acc.size - 1) * sub + 1) / (fs * sub)
    a = np.interp(fine, t, acc)
    dt = 1.0 / (fs * sub)
    w = 2 * math.pi / period
    c, k = 2 * damping * w, w * w
    u = v = 0.0
    acc_rel = -a[0]
    keff = k + 2 * c / dt + 4 / dt**2
    out = [u]
    for i in range(1, a.size):
        p = -a[i] + (4 / dt**2 * u + 4 / dt * v + acc_rel) + c * (2 / dt * u + v)
        un = p / keff
        vn = 2 / dt * (un - u) - v
        acc_rel = 4 / dt**2 * (un - u) - 4 / dt * v - acc_rel
        u, v = un, vn
        if i % sub == 0:
            out.append(u)
    return np.array(out)


@pytest.mark.parametrize("period", [0.3, 1.0, 3.0])
def test_the_oscillator_matches_newmark_on_broadband_shaking(period: float) -> None:
    rng = np.random.default_rng(11)
    fs = 100.0
    acc = sosfilt(butter(4, [0.2, 15], btype="band", fs=fs, output="sos"), rng.normal(0, 1, 3000))
    mine = oscillator_response(acc, fs, period, 0.05)
    ref = newmark(acc, fs, period, 0.05)
    assert np.abs(mine - ref).max() < 1e-3 * np.abs(ref).max()


@pytest.mark.parametrize(("period", "freq"), [(1.0, 0.7), (0.3, 2.0), (3.0, 1.0), (1.0, 1.0)])
def test_steady_state_of_a_sine_is_the_closed_form(period: float, freq: float) -> None:
    fs = 100.0
    t = np.arange(0, 150, 1 / fs)
    u = oscillator_response(np.sin(2 * math.pi * freq * t), fs, period, 0.05)
    w, f = 2 * math.pi / period, 2 * math.pi * freq
    amplitude = 1 / math.sqrt((w * w - f * f) ** 2 + (2 * 0.05 * w * f) ** 2)
    # the tail, transients gone; the peak is sampled within 0.3 % of its top at 100 sps
    assert np.abs(u[t > 100]).max() == pytest.approx(amplitude, rel=3e-3)


def test_peaks_of_a_sine_and_the_station_value_of_the_larger_horizontal() -> None:
    fs = 200.0
    t = np.arange(0, 60, 1 / fs)
    ramp = np.minimum(t / 20.0, 1.0)  # a slow start: no transient above the steady state
    a = 0.5 * np.sin(2 * math.pi * 2.0 * t) * ramp  # m/s^2
    v = -0.5 / (2 * math.pi * 2.0) * np.cos(2 * math.pi * 2.0 * t) * ramp
    north = component_motion("N", a, v, fs)
    east = component_motion("E", 0.5 * a, 0.5 * v, fs)
    up = component_motion("Z", 3 * a, 3 * v, fs)
    assert north.pga == pytest.approx(0.5, rel=1e-3)
    assert north.pgv == pytest.approx(0.5 / (4 * math.pi), rel=1e-3)
    station = station_motion([north, east, up])
    assert station.pga_cms2 == pytest.approx(50.0, rel=1e-3)
    assert station.pga_g_pct == pytest.approx(100 * 0.5 / G_M_S2, rel=1e-3)
    assert station.pgv_cms == pytest.approx(100 * 0.5 / (4 * math.pi), rel=1e-3)
    assert station.vertical is up
    periods = [p for p, _ in station.psa_g_pct]
    assert periods == [0.3, 1.0, 3.0]
    w = 2 * math.pi / 0.3
    f = 2 * math.pi * 2.0
    psa = w * w * 0.5 / math.sqrt((w * w - f * f) ** 2 + (2 * 0.05 * w * f) ** 2)
    assert dict(station.psa_g_pct)[0.3] == pytest.approx(100 * psa / G_M_S2, rel=0.02)


def test_worden_2012_on_both_sides_of_its_breaks() -> None:
    assert mmi_from_pga(10**1.0) == pytest.approx(1.78 + 1.55)
    assert mmi_from_pga(10**2.0) == pytest.approx(-1.60 + 3.70 * 2)
    assert mmi_from_pga(10**1.57) == pytest.approx(1.78 + 1.55 * 1.57)
    assert mmi_from_pgv(10**0.2) == pytest.approx(3.78 + 1.47 * 0.2)
    assert mmi_from_pgv(10**1.0) == pytest.approx(2.89 + 3.16)
    fs = 100.0
    t = np.arange(0, 20, 1 / fs)
    big = component_motion("N", 9.0 * np.sin(t), 3.0 * np.cos(t), fs)
    station = station_motion([big])
    assert station.mmi == pytest.approx(min(10.0, max(station.mmi_pga, station.mmi_pgv)))
    assert station.mmi == 10.0  # clipped at the scale's top


def test_bad_signals_are_refused() -> None:
    with pytest.raises(ValueError, match="not finite"):
        oscillator_response([0.0, math.nan, 1.0], 100.0, 1.0)
    with pytest.raises(ValueError, match="damping"):
        oscillator_response([0.0, 1.0], 100.0, 1.0, damping=1.5)
    with pytest.raises(ValueError, match="at least one component"):
        station_motion([])
