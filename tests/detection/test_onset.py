"""Onsets without bias: the zero-phase filter adds no delay, the AIC's minimum is never
taken at a window's edge, the uncertainty widens with the noise, the first motion."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from detection import aic_pick
from detection._onset import aic_onset, filtered, first_motion, refine, zero_phase_sos

FS = 100.0


def envelope_peak(x: np.ndarray) -> int:
    return int(np.argmax(np.abs(scipy.signal.hilbert(x))))


@pytest.mark.parametrize(("freq", "delay"), [(1.5, 19), (2.0, 12), (3.0, 7), (5.0, 4)])
def test_the_zero_phase_filter_adds_no_delay(freq: float, delay: int) -> None:
    t = (np.arange(1000) - 500) / FS
    wave = (1 - 2 * (np.pi * freq * t) ** 2) * np.exp(-((np.pi * freq * t) ** 2))  # Ricker
    sos = zero_phase_sos(1.0, 20.0, FS, 4)
    assert envelope_peak(filtered(wave, sos, 400)) == 500
    band = scipy.signal.butter(4, [0.02, 0.4], "bandpass", output="sos")
    causal = scipy.signal.sosfilt(band, wave)  # what the detector's own filter does
    assert envelope_peak(causal) == 500 + delay


def test_the_minimum_is_not_taken_at_the_windows_edge(rng: np.random.Generator) -> None:
    # A weak onset (the noise doubles) in a window whose first samples are nearly equal: the
    # plain AIC mostly takes the window's second sample; the onset search stays away.
    hits = edges = 0
    for _ in range(50):
        x = rng.normal(0.0, 1.0, 200)
        x[1] = x[0] + 1e-12
        x[120:] *= 2.0
        edges += aic_pick(x) == 2
        onset = aic_onset(x, 0, 200, FS)
        assert 5 <= onset.index < 195
        hits += abs(onset.index - 120) <= 10
    assert edges >= 40
    assert hits >= 40


def test_a_minimum_at_the_search_boundary_is_flagged(rng: np.random.Generator) -> None:
    x = rng.normal(0.0, 1.0, 200)
    x[:3] *= 50.0  # the window starts in the tail of something bigger: the AIC falls from it
    onset = aic_onset(x, 0, 200, FS)
    assert onset.at_edge


def test_the_uncertainty_widens_with_the_noise(rng: np.random.Generator) -> None:
    widths = {}
    for snr in (2.0, 30.0):
        u = []
        for _ in range(30):
            x = rng.normal(0.0, 1.0, 300)
            t = np.arange(150) / FS
            x[150:] += snr * np.sin(2 * np.pi * 8 * t) * 1.4
            u.append(aic_onset(x, 0, 300, FS).uncertainty)
        widths[snr] = float(np.median(u))
    assert widths[30.0] < widths[2.0]
    assert widths[30.0] >= 1 / FS


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_first_motion(rng: np.random.Generator, sign: float) -> None:
    x = rng.normal(0.0, 10.0, 400) + 5000.0 + 0.5 * np.arange(400)  # an offset and a drift
    t = np.arange(200) / FS
    x[200:] += sign * 800.0 * np.sin(2 * np.pi * 5 * t) * np.exp(-t)
    assert first_motion(x, 200, FS) == ("positive" if sign > 0 else "negative")
    assert first_motion(rng.normal(0.0, 10.0, 400), 200, FS) == "undecidable"


def test_refine_finds_a_sharp_onset_the_zero_phase_filter_leads(
    rng: np.random.Generator,
) -> None:
    # A strong, slow onset: the zero-phase output rises a few hundredths of a second early;
    # the causal high-passed raw samples show it where it is.
    x = rng.normal(0.0, 50.0, 600)
    t = np.arange(300) / FS
    x[300:] += 6000.0 * np.sin(2 * np.pi * 3.5 * t) * np.exp(-t / 2.5)
    sos = zero_phase_sos(1.0, 20.0, FS, 4)
    first = aic_onset(filtered(x, sos, 250), 150, 450, FS).index
    hp = scipy.signal.butter(2, 1.0 / 50.0, "highpass", output="sos")
    assert first < 298
    assert abs(refine([x], first, 150, hp, FS) - 300) <= 2
