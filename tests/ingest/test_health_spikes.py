"""The spikes metric against a direct, slow reading of its definition, on records built to
reach every branch: quiet noise, glitches of one to five samples (also at the record's ends),
earthquake bursts, flat stretches, constant records, MAD 0, short records, large offsets."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ingest.health.metrics import (
    _LOOP_RUNS,
    SPIKE_RUN,
    SPIKE_THRESHOLD,
    SPIKE_WINDOW,
    ChannelHealth,
    _short_runs,
    _spikes,
)

FS = 100.0
T0 = 1_750_000_000.0
Maker = Callable[[np.random.Generator, int], np.ndarray]


def reference_spikes(data: np.ndarray) -> int:
    """The definition, one sample at a time: upper medians of sorted lists; samples more than
    ``SPIKE_THRESHOLD`` MAD from the record's median, in runs of at most ``SPIKE_RUN``, are
    tested against the median and MAD of the ``SPIKE_WINDOW`` samples around them (reflected
    at the record's ends, the end samples not repeated); records of at most half a window
    have none."""
    x = [float(v) for v in data]
    n = len(x)
    half = SPIKE_WINDOW // 2
    if n <= half:
        return 0
    median = sorted(x)[n // 2]
    deviation = [abs(v - median) for v in x]
    mad = sorted(deviation)[n // 2]
    if mad == 0.0:
        return 0
    outlier = [d > SPIKE_THRESHOLD * 1.4826 * mad for d in deviation]

    def at(j: int) -> float:
        if j < 0:
            return x[-j]
        if j > n - 1:
            return x[2 * (n - 1) - j]
        return x[j]

    count = 0
    i = 0
    while i < n:
        if not outlier[i]:
            i += 1
            continue
        end = i
        while end < n and outlier[end]:
            end += 1
        if end - i <= SPIKE_RUN:
            for s in range(i, end):
                window = [at(j) for j in range(s - half, s + half + 1)]
                local = sorted(window)[half]
                local_mad = sorted(abs(w - local) for w in window)[half]
                if local_mad > 0 and abs(x[s] - local) > SPIKE_THRESHOLD * 1.4826 * local_mad:
                    count += 1
        i = end
    return count


def quiet(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.round(rng.normal(3000.0, 200.0, n))


def glitches(rng: np.random.Generator, n: int) -> np.ndarray:
    data = quiet(rng, n)
    for _ in range(rng.integers(1, 5)):
        length = int(rng.integers(1, 6))  # runs of 4 and 5 are not glitches
        i = (0, n - length, int(rng.integers(0, max(n - length, 1))))[rng.integers(0, 3)]
        data[i : i + length] += rng.choice([-1.0, 1.0]) * rng.uniform(2_000.0, 50_000.0)
    return data


def burst(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / FS
    onset = rng.uniform(-1.0, n / FS)
    envelope = np.where(t >= onset, np.exp(-(t - onset) / rng.uniform(0.2, 3.0)), 0.0)
    wave = rng.uniform(1e3, 1e5) * envelope * np.sin(2 * np.pi * rng.uniform(1, 10) * t)
    return np.round(quiet(rng, n) + wave)


def flat_parts(rng: np.random.Generator, n: int) -> np.ndarray:
    data = glitches(rng, n)
    for _ in range(rng.integers(1, 4)):
        i, length = int(rng.integers(0, n)), int(rng.integers(1, n + 1))
        data[i : i + length] = data[i]
    return data


def constant(rng: np.random.Generator, n: int) -> np.ndarray:
    data = np.full(n, float(rng.integers(-5, 5)))
    if rng.random() < 0.5:
        data[rng.integers(0, n)] += 1e4  # a lone glitch on constant data: MAD 0
    return data


def mad_zero(rng: np.random.Generator, n: int) -> np.ndarray:
    data = quiet(rng, n)
    data[rng.permutation(n)[: n // 2 + int(rng.integers(-2, 3))]] = 3000.0  # about half
    return data


def small_integers(rng: np.random.Generator, n: int) -> np.ndarray:
    data = rng.integers(-2, 3, n).astype(np.float64)  # many ties
    data[rng.integers(0, n, 3)] = rng.choice([-1.0, 1.0], 3) * 100.0
    return data


def dense_glitches(rng: np.random.Generator, n: int) -> np.ndarray:
    data = quiet(rng, n)
    i = int(rng.integers(0, 3))
    while i < n:
        length = int(rng.integers(1, 5))
        data[i : i + length] += rng.choice([-1.0, 1.0]) * rng.uniform(1e4, 1e5)
        i += length + int(rng.integers(2, 6))
    return data


def large_offset(rng: np.random.Generator, n: int) -> np.ndarray:
    data = rng.normal(1e6, 10.0, n)
    data[rng.integers(0, n)] += rng.choice([80.0, 200.0, 1_000.0])
    return data


MAKERS: list[Maker] = [
    quiet,
    glitches,
    burst,
    flat_parts,
    constant,
    mad_zero,
    small_integers,
    dense_glitches,
    large_offset,
]
LENGTHS = [1, 2, 20, 21, 22, 40, 41, 42, 43, 100, 399, 400, 401, 1000]


def test_spikes_follow_the_definition_on_random_records() -> None:
    rng = np.random.default_rng(20)
    flagged = records = 0
    for _ in range(40):
        for make in MAKERS:
            n = int(rng.choice(LENGTHS))
            data = make(rng, n)
            expected = reference_spikes(data)
            assert _spikes(data) == expected, (make.__name__, n, data.tolist())
            assert _spikes(data, np.sort(data)) == expected
            flagged += expected > 0
            records += 1
    assert records == 360
    assert flagged > 50  # the records do have spikes to find


@pytest.mark.parametrize("make", MAKERS, ids=lambda m: m.__name__)
def test_spikes_of_400_sample_records(make: Maker) -> None:
    rng = np.random.default_rng(21)
    for _ in range(30):
        data = make(rng, 400)
        assert _spikes(data) == reference_spikes(data), data.tolist()


def test_many_short_runs_take_the_array_path() -> None:
    rng = np.random.default_rng(22)
    data = dense_glitches(rng, 1000)
    assert reference_spikes(data) > _LOOP_RUNS
    assert _spikes(data) == reference_spikes(data)


@pytest.mark.parametrize("size", [0, 1, 5, _LOOP_RUNS, _LOOP_RUNS + 1, 300])
def test_short_runs_are_the_same_both_ways(size: int) -> None:
    rng = np.random.default_rng(23)
    for _ in range(50):
        candidates = np.sort(rng.choice(size * 3 + 1, size, replace=False)).astype(np.intp)
        runs: list[list[int]] = []
        for i in candidates.tolist():
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        expected = [i for run in runs if len(run) <= SPIKE_RUN for i in run]
        assert _short_runs(candidates).tolist() == expected


def test_a_glitch_before_an_earthquake_counts_and_the_wave_train_does_not() -> None:
    rng = np.random.default_rng(24)
    t = np.arange(400) / FS
    data = np.round(3000 + rng.normal(0, 200, 400) + 1e5 * np.sin(2 * np.pi * 2 * t) * (t > 2))
    assert _spikes(data) == reference_spikes(data) == 0
    data[100] += 1e5
    assert _spikes(data) == reference_spikes(data) == 1


def test_window_metrics_equal_the_batch_on_eventful_records() -> None:
    rng = np.random.default_rng(25)
    health = ChannelHealth(FS, window_s=3600.0, clip_level=50_000)
    parts = [make(rng, 400) for _ in range(10) for make in MAKERS]
    data = np.concatenate(parts)
    for i, part in enumerate(parts):
        t = T0 + 4.0 * i
        health.add(t, part, arrival=t + 4.5)
    snap = health.snapshot(T0 + 4.0 * len(parts) + 0.5)
    assert snap["samples"] == len(data)
    assert snap["records"] == len(parts)
    assert snap["spikes"] == sum(reference_spikes(p) for p in parts)
    assert (snap["min"], snap["max"]) == (data.min(), data.max())
    assert snap["mean"] == pytest.approx(data.mean(), rel=1e-12)
    assert snap["rms"] == pytest.approx(data.std(), rel=1e-9)
    assert snap["clipped_pct"] == pytest.approx(
        100 * np.count_nonzero(abs(data) >= 50_000) / len(data)
    )
    assert snap["last_value"] == data[-1]


def test_rms_of_a_large_offset_is_exact() -> None:
    """A digitizer offset of a million counts and 10 counts of noise: the spread is taken
    around each record's mean, not as a difference of large sums of squares."""
    rng = np.random.default_rng(26)
    data = rng.normal(1e6, 10.0, 400 * 150)
    health = ChannelHealth(FS, window_s=600.0)
    for i in range(150):
        t = T0 + 4.0 * i
        health.add(t, data[400 * i : 400 * (i + 1)], arrival=t + 4.5)
    snap = health.snapshot(T0 + 600.5)
    assert snap["mean"] == pytest.approx(data.mean(), rel=1e-14)
    assert snap["rms"] == pytest.approx(data.std(), rel=1e-9)
    deviations = data - data.mean()
    assert snap["rms"] == pytest.approx(np.sqrt(deviations @ deviations / len(data)), rel=1e-9)


@pytest.mark.parametrize(
    "values",
    [
        [-0.0, 0.0, 5.0],
        [0.0, -0.0, 5.0],
        [-5.0, 0.0, -0.0],
        [1.0, np.nan, 3.0],
        [1.0, np.inf, 3.0],
        [-np.inf, 1.0, 3.0],
        [np.inf, -np.inf, 2.0],
    ],
)
def test_min_and_max_are_those_of_numpy(values: list[float]) -> None:
    """Signed zeros keep the sign that ``min()``/``max()`` give, NaN propagates."""
    data = np.array(values * 20)
    health = ChannelHealth(FS)
    with np.errstate(invalid="ignore"):
        health.add(T0, data, arrival=T0 + 1.0)
        snapshot = health.snapshot(T0 + 2.0)
    for got, want in ((snapshot["min"], data.min()), (snapshot["max"], data.max())):
        assert np.array(got).tobytes() == np.array(want).tobytes()
