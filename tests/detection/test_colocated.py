"""Co-located sensors' agreement: a P recorded by the seismometer and the accelerometer alike
agrees, a glitch on one of them disagrees; noise that hides the motion is said to; the
spread is measured on the other sensor's own noise, and checked against its white-noise
value; and the stream's meters give each sensor's acceleration on one grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detection import AgreementConfig, OnsiteMeter, compare_colocated

FS = 100.0
HH_GAIN = 3.0e8  # counts per m/s
HN_GAIN = 8.0e4  # counts per m/s^2


def burst(seconds: float, amplitude: float, freq: float) -> np.ndarray:
    """A P-like burst in acceleration (m/s^2), decaying."""
    t = np.arange(round(seconds * FS)) / FS
    return amplitude * np.exp(-t / 0.5) * np.sin(2 * np.pi * freq * t)


def test_the_same_motion_agrees_and_a_one_sensor_glitch_does_not(
    rng: np.random.Generator,
) -> None:
    motion = burst(1.5, 2.5e-3, 6.0)  # the fault hour's glitch: 20,000 HH counts at 6 Hz
    hn_sigma = 80 / HN_GAIN  # 80 counts of noise on the accelerometer
    hh_sigma = 1e-4
    noise = rng.normal(0, hh_sigma, 800), rng.normal(0, hn_sigma, 800)
    both = compare_colocated(
        motion + rng.normal(0, hh_sigma, motion.size),
        motion + rng.normal(0, hn_sigma, motion.size),
        *noise,
        FS,
        complete=False,
        names=("HH", "HN"),
    )
    assert both.verdict == "agree"
    assert both.ratio == pytest.approx(1.0, abs=0.3)
    glitch = compare_colocated(
        motion + rng.normal(0, hh_sigma, motion.size),
        rng.normal(0, hn_sigma, motion.size),
        *noise,
        FS,
        complete=False,
        names=("HH", "HN"),
    )
    assert glitch.verdict == "disagree"
    assert abs(glitch.ratio) < 0.5
    assert "HN shows" in glitch.detail
    # the other way round: the accelerometer's glitch, the seismometer quiet
    other = compare_colocated(
        rng.normal(0, hh_sigma, motion.size),
        motion * 20 + rng.normal(0, hn_sigma, motion.size),
        *noise,
        FS,
        complete=False,
        names=("HH", "HN"),
    )
    assert other.verdict == "disagree"
    assert "HH shows" in other.detail


def test_motion_the_other_sensor_cannot_see_is_pending_then_unseen(
    rng: np.random.Generator,
) -> None:
    small = burst(1.5, 2e-4, 6.0)  # below the accelerometer's noise
    hn = rng.normal(0, 1e-3, small.size)
    args = (small + rng.normal(0, 1e-6, small.size), hn, rng.normal(0, 1e-6, 800))
    pending = compare_colocated(*args, rng.normal(0, 1e-3, 800), FS, complete=False)
    assert pending.verdict == "pending"
    assert pending.sigma > AgreementConfig().max_sigma
    unseen = compare_colocated(*args, rng.normal(0, 1e-3, 800), FS, complete=True)
    assert unseen.verdict == "unseen"
    dead = compare_colocated(*args, np.zeros(800), FS, complete=False)
    assert dead.verdict == "unseen"  # a flat channel confirms nothing
    assert "no noise" in dead.detail


def test_the_spread_is_the_white_noise_value_on_white_noise(rng: np.random.Generator) -> None:
    motion = burst(1.0, 1e-2, 3.0)
    sigma = 1e-3
    got = compare_colocated(
        motion, motion, rng.normal(0, 1e-5, 5000), rng.normal(0, sigma, 5000), FS, complete=True
    )
    assert got.sigma == pytest.approx(sigma / math.sqrt(float(np.dot(motion, motion))), rel=0.15)


def test_a_clipped_sensor_needs_motion_on_the_other() -> None:
    rng = np.random.default_rng(3)
    clipped = np.clip(burst(2.0, 5.0, 3.0), -0.1, 0.1)
    quiet = rng.normal(0, 1e-3, clipped.size)
    noise = rng.normal(0, 1e-4, 800), rng.normal(0, 1e-3, 800)
    kw = {"names": ("HH", "HN"), "clipped": (True, False)}
    assert compare_colocated(clipped, quiet, *noise, FS, complete=False, **kw).verdict == "pending"  # type: ignore[arg-type]
    assert compare_colocated(clipped, quiet, *noise, FS, complete=True, **kw).verdict == "disagree"  # type: ignore[arg-type]
    strong = burst(2.0, 5.0, 3.0) + quiet
    assert compare_colocated(clipped, strong, *noise, FS, complete=False, **kw).verdict == "agree"  # type: ignore[arg-type]


def test_bad_input_is_refused_with_its_values() -> None:
    with pytest.raises(ValueError, match="one 1-D shape"):
        compare_colocated(np.ones(5), np.ones(6), np.ones(500), np.ones(500), FS, complete=True)
    with pytest.raises(ValueError, match="min_ratio"):
        AgreementConfig(min_ratio=1.5)


@pytest.mark.parametrize("split", [1, 37, 250])
def test_meters_give_one_acceleration_whatever_the_records(
    rng: np.random.Generator, split: int
) -> None:
    """A seismometer's and an accelerometer's meters fed the same ground acceleration give
    the same acceleration back (the seismometer's differentiated), in pieces or whole."""
    n = 1000
    acc = np.concatenate([np.zeros(500), burst(5.0, 1e-2, 2.0)])
    velocity = np.cumsum(acc) / FS
    hh, hn = (
        OnsiteMeter(FS, kind="velocity", gain=HH_GAIN),
        OnsiteMeter(FS, kind="acceleration", gain=HN_GAIN),
    )
    t0 = 1_800_000_000.0
    for a, b in ((0, split), (split, n)):
        hh.feed(velocity[a:b] * HH_GAIN, t0 + a / FS)
        hn.feed(acc[a:b] * HN_GAIN, t0 + a / FS)
    assert hh.end_time == pytest.approx(t0 + n / FS)
    start_hh, x_hh = hh.acceleration(t0 + 5.0, t0 + 8.0)
    start_hn, x_hn = hn.acceleration(t0 + 5.0, t0 + 8.0)
    assert start_hh == start_hn == pytest.approx(t0 + 5.0)
    assert x_hh.size == x_hn.size == 300
    # the backward difference lags half a sample; the accelerometer's is high-passed
    assert np.corrcoef(x_hh, x_hn)[0, 1] > 0.99
    assert np.max(np.abs(x_hh)) == pytest.approx(np.max(np.abs(acc)), rel=0.05)
    verdict = compare_colocated(
        x_hh, x_hn, hh.acceleration(t0, t0 + 4.5)[1], hn.acceleration(t0, t0 + 4.5)[1], FS,
        complete=True,
    )  # fmt: skip
    assert verdict.verdict in ("agree", "unseen")  # noise-free: zero noise confirms nothing
