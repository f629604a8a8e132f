"""The array functions: pieces equal whole, and ObsPy as the oracle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from obspy.signal.filter import bandpass as obspy_bandpass
from obspy.signal.trigger import classic_sta_lta as obspy_classic
from obspy.signal.trigger import recursive_sta_lta as obspy_recursive
from obspy.signal.trigger import trigger_onset as obspy_trigger_onset

import detection._filter
import detection._stalta
from detection import (
    bandpass,
    classic_sta_lta,
    design_bandpass,
    recursive_sta_lta,
    trigger_onset,
)

SOS = design_bandpass(1.0, 20.0, 100.0, 4)
StaLta = Callable[..., tuple[np.ndarray, Any]]
METHODS: dict[str, tuple[StaLta, Callable[..., np.ndarray], int]] = {
    # function, ObsPy's, number of leading zeros as a function of nlta - nlta
    "recursive": (recursive_sta_lta, obspy_recursive, 0),
    "classic": (classic_sta_lta, obspy_classic, -1),
}


def in_pieces(
    fn: Callable[..., tuple[np.ndarray, Any]], x: np.ndarray, cuts: list[int], *a: Any
) -> np.ndarray:
    state = None
    out = []
    for piece in np.split(x, cuts):
        y, state = fn(piece, *a, state)
        out.append(y)
    return np.concatenate(out)


def cuts_every(n: int, size: int) -> list[int]:
    return list(range(size, n, size))


# -- bandpass -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 7, 256, 300, 999])
def test_bandpass_pieces_equal_whole(rng: np.random.Generator, size: int) -> None:
    x = rng.normal(1000.0, 50.0, 3000)
    whole, _ = bandpass(x, SOS)
    assert_array_equal(in_pieces(bandpass, x, cuts_every(x.size, size), SOS), whole)


def test_bandpass_is_obspy_bandpass_of_the_offset_free_samples(
    recordings: dict[str, tuple[np.ndarray, float]],
) -> None:
    for x, fs in recordings.values():
        ours, _ = bandpass(x, design_bandpass(1.0, 20.0, fs, 4))
        theirs = obspy_bandpass(x - x[0], 1.0, 20.0, fs, corners=4)
        assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12 * np.abs(theirs).max())


def test_bandpass_starts_without_a_step_response() -> None:
    y, _ = bandpass(np.full(500, 123456.0), SOS)
    assert_array_equal(y, 0.0)


def test_bandpass_offset_equals_steady_state_initial_conditions(rng: np.random.Generator) -> None:
    x = 5000.0 + rng.normal(0, 10, 2000)
    ours, _ = bandpass(x, SOS)
    zi = scipy.signal.sosfilt_zi(SOS) * x[0]
    theirs, _ = scipy.signal.sosfilt(SOS, x, zi=zi)
    assert_allclose(ours, theirs, atol=1e-8)


def test_compiled_kernel_equals_public_sosfilt(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = rng.normal(0, 1, 1000)
    fast, fast_state = bandpass(x, SOS)
    monkeypatch.setattr(detection._filter, "_sosfilt_kernel", None)
    slow, slow_state = bandpass(x, SOS)
    assert_array_equal(fast, slow)
    assert_array_equal(fast_state.zi, slow_state.zi)


def test_bandpass_accepts_integer_samples(rng: np.random.Generator) -> None:
    x = rng.integers(-(2**31), 2**31 - 1, 500, dtype=np.int32)
    y32, _ = bandpass(x, SOS)
    y64, _ = bandpass(x.astype(np.float64), SOS)
    assert_array_equal(y32, y64)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.0, 20.0, 100.0), "freqmin=0.0"),
        ((5.0, 1.0, 100.0), "freqmax=1.0"),
        ((1.0, 50.0, 100.0), "Nyquist=50.0"),
        ((1.0, 20.0, -1.0), "sampling_rate=-1.0"),
    ],
)
def test_design_bandpass_refuses_bad_corners(
    args: tuple[float, float, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        design_bandpass(*args)


def test_bandpass_refuses_2d_input() -> None:
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        bandpass(np.zeros((2, 2)), SOS)


# -- STA/LTA ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("size", [1, 7, 256, 300, 999])
def test_sta_lta_pieces_equal_whole(rng: np.random.Generator, method: str, size: int) -> None:
    fn = METHODS[method][0]
    x = rng.standard_normal(4000)
    whole, _ = fn(x, 5, 50)
    assert_array_equal(in_pieces(fn, x, cuts_every(x.size, size), 5, 50), whole)


@pytest.mark.parametrize("method", sorted(METHODS))
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(0, 2500), max_size=12).map(sorted),
)
def test_sta_lta_random_pieces_equal_whole(method: str, seed: int, cuts: list[int]) -> None:
    fn = METHODS[method][0]
    x = np.random.default_rng(seed).standard_normal(2500) * 100
    whole, _ = fn(x, 7, 60)
    assert_array_equal(in_pieces(fn, x, cuts, 7, 60), whole)


def test_classic_restarts_do_not_depend_on_the_cuts(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detection._stalta, "CLASSIC_BLOCK", 97)
    x = rng.standard_normal(3000)
    whole, _ = classic_sta_lta(x, 5, 50)
    for size in (1, 96, 97, 98, 500):
        assert_array_equal(in_pieces(classic_sta_lta, x, cuts_every(x.size, size), 5, 50), whole)
    assert_allclose(whole[49:], obspy_classic(x, 5, 50)[49:], rtol=1e-9)


def real_cases(
    recordings: dict[str, tuple[np.ndarray, float]],
) -> list[tuple[str, np.ndarray, int, int]]:
    cases = []
    for name, (x, fs) in recordings.items():
        f, _ = bandpass(x, design_bandpass(1.0, 20.0, fs, 4))
        for sta, lta in ((0.5, 10.0), (0.2, 5.0), (1.0, 30.0)):
            nsta, nlta = round(sta * fs), round(lta * fs)
            if nlta < f.size:
                cases.append((f"{name} sta={sta} lta={lta}", f, nsta, nlta))
    return cases


@pytest.mark.parametrize("method", sorted(METHODS))
def test_sta_lta_equals_obspy_on_real_recordings(
    recordings: dict[str, tuple[np.ndarray, float]], method: str
) -> None:
    fn, oracle, shift = METHODS[method]
    # ObsPy's classic running sums drift (3.6e-8 relative on manz_waldk, where ours stay within
    # 1e-12 of exact sums); ours restart every CLASSIC_BLOCK samples, so compare up to there
    end = detection._stalta.CLASSIC_BLOCK if method == "classic" else None
    for name, f, nsta, nlta in real_cases(recordings):
        ours, _ = fn(f, nsta, nlta)
        theirs = oracle(f, nsta, nlta)
        warm = nlta + shift
        assert_array_equal(ours[:warm], 0.0, err_msg=name)
        assert_allclose(ours[warm:end], theirs[warm:end], rtol=1e-9, err_msg=name)


def test_classic_sta_lta_equals_exact_window_sums_on_real_recordings(
    recordings: dict[str, tuple[np.ndarray, float]],
) -> None:
    for name, f, nsta, nlta in real_cases(recordings):
        ours, _ = classic_sta_lta(f, nsta, nlta)
        sq = f * f
        idx = np.arange(nlta, f.size, 29)
        exact = np.array(
            [np.sum(sq[i - nsta + 1 : i + 1]) / np.sum(sq[i - nlta + 1 : i + 1]) for i in idx]
        )
        # Running sums lose digits where the short window is quiet next to a loud long one:
        # bound the error by 1e-9 of the value or of the ratio's typical level (about 1).
        want = exact * nlta / nsta
        assert_allclose(ours[idx], want, rtol=1e-9, atol=1e-9 * np.median(want), err_msg=name)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(("nsta", "nlta"), [(1, 2), (3, 7), (50, 1000)])
def test_sta_lta_equals_obspy_on_random_data(
    rng: np.random.Generator, method: str, nsta: int, nlta: int
) -> None:
    fn, oracle, shift = METHODS[method]
    x = rng.standard_normal(20000) * np.repeat(rng.uniform(0.5, 20, 20), 1000)
    ours, _ = fn(x, nsta, nlta)
    theirs = oracle(x, nsta, nlta)
    # with nsta=1 the ratio drops to 1e-10 where a sample is near zero: there only the
    # absolute error (a few float64 roundings) is meaningful
    end = detection._stalta.CLASSIC_BLOCK if method == "classic" else None  # see above
    assert_allclose(ours[nlta + shift : end], theirs[nlta + shift : end], rtol=1e-9, atol=1e-13)


def test_recursive_sta_lta_of_silence_is_zero() -> None:
    ratio, _ = recursive_sta_lta(np.zeros(5000), 10, 100)
    assert_array_equal(ratio, 0.0)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(("nsta", "nlta"), [(0, 10), (10, 10), (20, 10)])
def test_sta_lta_refuses_bad_windows(method: str, nsta: int, nlta: int) -> None:
    with pytest.raises(ValueError, match=f"nsta={nsta}, nlta={nlta}"):
        METHODS[method][0](np.zeros(100), nsta, nlta)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_sta_lta_refuses_a_state_of_other_windows(method: str) -> None:
    fn = METHODS[method][0]
    _, state = fn(np.ones(100), 5, 50)
    with pytest.raises(ValueError, match="state is for nsta=5, nlta=50"):
        fn(np.ones(100), 5, 60, state)


# -- trigger_onset ------------------------------------------------------------------------------


def obspy_triggers(cf: np.ndarray, on: float, off: float, max_len: int | None) -> np.ndarray:
    got = obspy_trigger_onset(cf, on, off, max_len=9e99 if max_len is None else max_len)
    return np.asarray(got, dtype=np.int64).reshape(-1, 2)


def streamed_triggers(
    cf: np.ndarray, on: float, off: float, max_len: int | None, cuts: list[int]
) -> np.ndarray:
    state = None
    found = []
    for piece in np.split(cf, cuts):
        got, state = trigger_onset(piece, on, off, max_len, state)
        found.append(got)
    assert state is not None
    if state.on >= 0:  # as ObsPy, close a trigger still on at the end of the data
        found.append(np.array([[state.on, state.n - 1]]))
    return np.concatenate(found)


def bursty_cf(seed: int, n: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.convolve(rng.exponential(1.0, n), np.ones(15) / 15, mode="same")
    return smooth * np.repeat(rng.uniform(0.3, 3.0, n // 100), 100)


@pytest.mark.parametrize("max_len", [None, 0, 5, 40])
@pytest.mark.parametrize("size", [1, 7, 256, 300, 999, 3000])
def test_trigger_onset_equals_obspy(max_len: int | None, size: int) -> None:
    for seed in range(5):
        cf = bursty_cf(seed)
        expected = obspy_triggers(cf, 1.5, 1.0, max_len)
        assert len(expected) > 3
        got = streamed_triggers(cf, 1.5, 1.0, max_len, cuts_every(cf.size, size))
        assert_array_equal(got, expected)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(0, 3000), max_size=15).map(sorted),
    max_len=st.one_of(st.none(), st.integers(0, 200)),
    thresholds=st.sampled_from([(1.5, 1.0), (2.0, 0.5), (1.2, 1.2)]),
)
def test_trigger_onset_equals_obspy_in_random_pieces(
    seed: int, cuts: list[int], max_len: int | None, thresholds: tuple[float, float]
) -> None:
    cf = bursty_cf(seed)
    expected = obspy_triggers(cf, *thresholds, max_len)
    assert_array_equal(streamed_triggers(cf, *thresholds, max_len, cuts), expected)


def test_trigger_onset_reports_a_trigger_once_when_it_ends() -> None:
    cf = np.zeros(100)
    cf[40:60] = 5.0
    first, state = trigger_onset(cf[:50], 3.0, 1.0)
    assert first.shape == (0, 2)
    assert state.on == 40
    second, state = trigger_onset(cf[50:], 3.0, 1.0, None, state)
    assert second.tolist() == [[40, 59]]
    assert state.on == -1


@pytest.mark.parametrize(("on", "off"), [(1.0, 2.0), (0.0, 0.0), (float("nan"), 1.0)])
def test_trigger_onset_refuses_bad_thresholds(on: float, off: float) -> None:
    with pytest.raises(ValueError, match="thr_on"):
        trigger_onset(np.zeros(10), on, off)
