"""The noise level against Peterson's models: white noise of known power gives the level
theory gives, and an earthquake in the segment does not read as noise."""

from __future__ import annotations

import numpy as np
import pytest
from obspy.signal.spectral_estimation import get_nhnm, get_nlnm

from ingest.health.noise import NoiseMeter, noise_levels

FS = 100.0
SENS = 3e8  # counts per m/s


def _expected_db_above(model: tuple[np.ndarray, np.ndarray], sigma: float) -> float:
    """White velocity noise: one-sided PSD 2 sigma^2 / fs, times (2 pi f)^2 in acceleration;
    its median height above the model over 1-5 Hz, the model interpolated by period."""
    periods, db = model
    order = np.argsort(periods)
    f = np.linspace(1.0, 5.0, 400)
    psd = 2 * (sigma / SENS) ** 2 / FS * (2 * np.pi * f) ** 2
    return float(np.median(10 * np.log10(psd) - np.interp(1 / f, periods[order], db[order])))


def test_white_noise_reads_at_its_theoretical_level() -> None:
    sigma = 50.0
    x = np.random.default_rng(1).normal(0, sigma, 6000)
    got = noise_levels(x, FS, SENS, "velocity", (1.0, 5.0))
    assert got["noise_db_above_nlnm"] == pytest.approx(
        _expected_db_above(get_nlnm(), sigma), abs=1.0
    )
    assert got["noise_db_above_nhnm"] == pytest.approx(
        _expected_db_above(get_nhnm(), sigma), abs=1.0
    )


def test_an_earthquake_in_the_segment_is_not_noise() -> None:
    rng = np.random.default_rng(2)
    quiet = rng.normal(0, 30.0, 6000)
    shaken = quiet.copy()
    t = np.arange(800) / FS
    shaken[2000:2800] += 50_000 * np.exp(-t / 2) * np.sin(2 * np.pi * 4 * t)
    a = noise_levels(quiet, FS, SENS, "velocity", (1.0, 5.0))["noise_db_above_nlnm"]
    b = noise_levels(shaken, FS, SENS, "velocity", (1.0, 5.0))["noise_db_above_nlnm"]
    assert a is not None
    assert b is not None
    assert abs(b - a) < 3.0  # a mean of windows would read tens of dB higher


def test_the_meter_measures_now_and_then_and_restarts_at_a_gap() -> None:
    meter = NoiseMeter(FS, SENS, "velocity", interval_s=300.0, segment_s=30.0)
    rng = np.random.default_rng(3)
    t = 0.0
    for _ in range(5):  # 20 s, then a gap: the segment starts again
        meter.add(t, rng.normal(0, 30, 400))
        t += 4.0
    meter.add(t + 10.0, rng.normal(0, 30, 400))
    assert meter.latest is None
    t += 10.0
    for _ in range(8):
        meter.add(t, rng.normal(0, 30, 400))
        t += 4.0
    assert meter.latest is not None
    first = meter.latest["noise_time"]
    for _ in range(20):  # within the interval: no new PSD
        meter.add(t, rng.normal(0, 30, 400))
        t += 4.0
    assert meter.latest["noise_time"] == first
