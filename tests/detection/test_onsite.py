"""On-site measurement: Pd and tau_c against an independent batch computation on a synthetic P
wave, records in any pieces, and the magnitude relations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import cumulative_trapezoid
from scipy.signal import butter, sosfilt, sosfilt_zi

from detection import (
    OnsiteConfig,
    OnsiteMeter,
    combined_magnitude,
    magnitude_from_pd,
    magnitude_from_tau_c,
    mmi_from_pga,
    mmi_from_pgv,
)

FS = 100.0
ONSET = 40.0  # seconds into the record
T0 = 1_700_000_000.0


def p_wave(
    rng: np.random.Generator, amplitude_m: float, period_s: float, seconds: float = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """Ground displacement (m) and velocity (m/s): noise, then a P wave of whole cycles of
    ``period_s`` starting at ONSET with a smooth half-second ramp, decaying after 6 s."""
    t = np.arange(round(seconds * FS)) / FS
    rel = t - ONSET
    ramp = np.sin(np.pi / 2 * np.clip(rel / 0.5, 0.0, 1.0)) ** 2
    envelope = ramp * np.where(rel > 6.0, np.exp(-(rel - 6.0)), 1.0)
    u = amplitude_m * envelope * np.sin(2 * np.pi * np.clip(rel, 0, None) / period_s)
    u += 1e-3 * amplitude_m * rng.standard_normal(t.size)
    v = np.gradient(u, 1 / FS)
    return u, v


def oracle(velocity: np.ndarray, window_s: float = 3.0) -> tuple[float, float]:
    """Pd and tau_c the literature's way, batch: high-pass the velocity, integrate, high-pass
    the displacement, differentiate it numerically."""
    sos = butter(2, 0.075, "highpass", fs=FS, output="sos")
    v_hp, _ = sosfilt(sos, velocity, zi=sosfilt_zi(sos) * velocity[0])
    d = sosfilt(sos, cumulative_trapezoid(v_hp, dx=1 / FS, initial=0.0))
    a = round(ONSET * FS)
    win = d[a : a + round(window_s * FS)]
    ddot = np.gradient(d, 1 / FS)[a : a + round(window_s * FS)]
    return float(np.max(np.abs(win))), 2 * math.pi * math.sqrt(np.sum(win**2) / np.sum(ddot**2))


@pytest.mark.parametrize("period", [0.5, 1.0, 1.5])
def test_pd_and_tau_c_match_an_independent_computation(
    rng: np.random.Generator, period: float
) -> None:
    amplitude = 2e-4
    _, v = p_wave(rng, amplitude, period)
    gain = 1.5e9  # counts per m/s, a broadband seismometer's
    meter = OnsiteMeter(FS, kind="velocity", gain=gain)
    meter.feed(np.round(v * gain), T0)
    meter.start(T0 + ONSET)
    reading = meter.reading()
    assert reading is not None
    pd, tau_c = oracle(np.round(v * gain) / gain)
    assert reading.seconds == pytest.approx(3.0)
    assert reading.pd_m == pytest.approx(pd, rel=1e-3)
    assert reading.tau_c_s == pytest.approx(tau_c, rel=0.02)
    # and the physics: a sinusoid's tau_c is its period, its Pd its amplitude
    assert reading.tau_c_s == pytest.approx(period, rel=0.08)
    assert reading.pd_m == pytest.approx(amplitude, rel=0.08)


def test_acceleration_gives_the_same_displacement(rng: np.random.Generator) -> None:
    _, v = p_wave(rng, 1e-3, 1.0)
    acc = np.gradient(v, 1 / FS)
    from_v = OnsiteMeter(FS, kind="velocity")
    from_a = OnsiteMeter(FS, kind="acceleration", gain=400_000.0)  # counts per m/s^2
    from_v.feed(v, T0)
    from_a.feed(acc * 400_000.0, T0)
    for meter in (from_v, from_a):
        meter.start(T0 + ONSET)
    rv, ra = from_v.reading(), from_a.reading()
    assert rv is not None
    assert ra is not None
    assert ra.pd_m == pytest.approx(rv.pd_m, rel=0.03)
    assert ra.tau_c_s == pytest.approx(rv.tau_c_s, rel=0.03)
    assert ra.pga_m_s2 == pytest.approx(np.max(np.abs(acc[round(ONSET * FS) :])), rel=0.03)
    assert ra.pgv_m_s == pytest.approx(np.max(np.abs(v[round(ONSET * FS) :])), rel=0.03)


@pytest.mark.parametrize("size", [1, 37, 100, 512])
def test_records_in_pieces_equal_the_whole(rng: np.random.Generator, size: int) -> None:
    _, v = p_wave(rng, 3e-4, 0.8, seconds=50.0)
    whole = OnsiteMeter(FS, kind="velocity")
    whole.feed(v, T0)
    whole.start(T0 + ONSET)
    pieces = OnsiteMeter(FS, kind="velocity")
    readings = []
    for a in range(0, v.size, size):
        pieces.feed(v[a : a + size], T0 + a / FS)
        if a / FS >= ONSET - 5 and not pieces.active:
            pieces.start(T0 + ONSET)  # the onset comes in before its samples
        if pieces.active:
            readings.append(pieces.reading())
    last = pieces.reading()
    full = whole.reading()
    assert last is not None
    assert full is not None
    assert_allclose(
        [last.pd_m, last.tau_c_s, last.pga_m_s2, last.pgv_m_s],
        [full.pd_m, full.tau_c_s, full.pga_m_s2, full.pgv_m_s],
        rtol=1e-9,
    )
    # it grows with each record: the window's seconds never go down, nor Pd
    grown = [r for r in readings if r is not None]
    assert [r.seconds for r in grown] == sorted(r.seconds for r in grown)
    assert [r.pd_m for r in grown] == sorted(r.pd_m for r in grown)
    assert grown[0].seconds < 3.0 <= grown[-1].seconds + 1e-9


def test_magnitude_waits_for_enough_p_and_grows_with_it(rng: np.random.Generator) -> None:
    _, v = p_wave(rng, 1e-4, 1.0)
    meter = OnsiteMeter(FS, kind="velocity")
    stop = round((ONSET + 0.5) * FS)
    meter.feed(v[:stop], T0)
    meter.start(T0 + ONSET)
    early = meter.reading()
    assert early is not None
    assert math.isnan(early.magnitude)
    meter.feed(v[stop:], T0 + stop / FS)
    later = meter.reading(distance_km=30.0)
    assert later is not None
    tau_m = magnitude_from_tau_c(later.tau_c_s)
    pd_m = magnitude_from_pd(later.pd_m, 30.0)
    expected, sigma = combined_magnitude([(tau_m, 0.41), (pd_m, 0.31)])
    assert later.magnitude == pytest.approx(expected)
    assert later.magnitude_sigma == pytest.approx(sigma)
    assert sigma < 0.31
    assert later.mmi == pytest.approx(
        max(mmi_from_pga(later.pga_m_s2 * 100), mmi_from_pgv(later.pgv_m_s * 100))
    )


def test_relations_invert_the_published_equations() -> None:
    # log10 tau_c = 0.296 M - 1.716 (Wu & Kanamori 2005): tau_c 1 s is M 5.80
    assert magnitude_from_tau_c(1.0) == pytest.approx(1.716 / 0.296)
    m = 5.5
    tau_c = 10 ** (0.296 * m - 1.716)
    assert magnitude_from_tau_c(tau_c) == pytest.approx(m)
    # log10 Pd[cm] = -3.463 + 0.729 M - 1.374 log10 R (Wu & Zhao 2006)
    r = 40.0
    pd_cm = 10 ** (-3.463 + 0.729 * m - 1.374 * math.log10(r))
    assert magnitude_from_pd(pd_cm / 100, r) == pytest.approx(m)
    assert math.isnan(magnitude_from_tau_c(0.0))
    assert math.isnan(magnitude_from_pd(0.0, 10.0))
    assert all(math.isnan(x) for x in combined_magnitude([(math.nan, 0.3)]))


def test_a_gap_restarts_the_chain_and_closes_the_window(rng: np.random.Generator) -> None:
    _, v = p_wave(rng, 1e-4, 1.0)
    meter = OnsiteMeter(FS, kind="velocity")
    meter.feed(v[:4500], T0)
    meter.start(T0 + ONSET)
    assert meter.reading() is not None
    meter.feed(v[4600:], T0 + 46.0)  # one second missing
    assert not meter.active
    assert meter.reading() is None


def test_bad_settings_and_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="min_window_s"):
        OnsiteConfig(window_s=0.5)
    with pytest.raises(ValueError, match="kind"):
        OnsiteMeter(FS, kind="displacement")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gain"):
        OnsiteMeter(FS, kind="velocity", gain=0.0)
    meter = OnsiteMeter(FS, kind="velocity")
    with pytest.raises(ValueError, match="finite"):
        meter.feed(np.array([1.0, np.nan]), T0)


def test_a_telemetry_spike_does_not_make_a_magnitude(rng: np.random.Generator) -> None:
    _, v = p_wave(rng, 1e-5, 0.5)
    clean = OnsiteMeter(FS, kind="velocity", gain=1e9)
    spiked = OnsiteMeter(FS, kind="velocity", gain=1e9)
    counts = np.round(v * 1e9)
    bad = counts.copy()
    bad[round((ONSET + 0.8) * FS) : round((ONSET + 0.8) * FS) + 2] = 8_000_000
    for a in range(0, counts.size, 100):  # 1-s records
        clean.feed(counts[a : a + 100], T0 + a / FS)
        spiked.feed(bad[a : a + 100], T0 + a / FS)
    for meter in (clean, spiked):
        meter.start(T0 + ONSET)
    a, b = clean.reading(), spiked.reading()
    assert a is not None
    assert b is not None
    assert b.pd_m == pytest.approx(a.pd_m, rel=0.05)
    assert b.tau_c_s == pytest.approx(a.tau_c_s, rel=0.05)


@pytest.mark.parametrize("record_s", [1.0, 4.0])
def test_the_p_window_stays_measured_after_its_samples_are_dropped(
    rng: np.random.Generator, record_s: float
) -> None:
    """The meter keeps ``keep_s`` (30 s) of its series: a minute after the onset, Pd and
    tau_c are still those of the first 3 s of P, not of what is left of them (a partial
    window: a long tau_c that cancelled a drill's alert as a long-period P)."""
    _, v = p_wave(rng, 1e-4, 1.0)
    v = np.concatenate([v, rng.normal(0, 1e-7, round(60 * FS))])  # a minute more
    meter = OnsiteMeter(FS, kind="velocity")
    step = round(record_s * FS)
    meter.feed(v[:step], T0)
    meter.start(T0 + ONSET)
    readings = []
    for a in range(step, v.size, step):
        meter.feed(v[a : a + step], T0 + a / FS)
        got = meter.reading()
        if got is not None:
            readings.append(got)
    complete = [r for r in readings if r.seconds == pytest.approx(3.0)]
    assert readings[-1].onset_time - T0 == pytest.approx(ONSET)
    assert meter.end_time - (T0 + ONSET) > 60.0  # far past keep_s
    assert len(complete) * record_s > 60.0
    first = complete[0]
    measured = {(r.seconds, r.pd_m, r.tau_c_s) for r in complete}
    assert measured == {(first.seconds, first.pd_m, first.tau_c_s)}
    assert readings[-1].seconds == pytest.approx(3.0)
