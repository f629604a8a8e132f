"""The streaming detector: record by record equals whole, ObsPy's chain, resets and warm-up."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from obspy.signal.filter import bandpass as obspy_bandpass
from obspy.signal.trigger import classic_sta_lta as obspy_classic
from obspy.signal.trigger import recursive_sta_lta as obspy_recursive
from obspy.signal.trigger import trigger_onset as obspy_trigger_onset
from scipy.signal import lfilter

from detection import DetectorConfig, StreamingDetector, Trigger, aic, aic_pick

T0 = 1_748_779_200.0  # 2025-06-01T12:00:00Z
FS = 100.0
QUAKES = (80.0, 150.0, 240.0)  # onsets, seconds after T0
TINY = float(np.finfo(np.float64).tiny)


def quake(
    n: int, onsets: tuple[float, ...], rng: np.random.Generator, fs: float = FS
) -> np.ndarray:
    """Integer counts: an offset, noise, and a decaying 6 Hz wavetrain at each onset."""
    data = rng.normal(0.0, 100.0, n)
    t = np.arange(int(8 * fs)) / fs
    for onset in onsets:
        i = int(onset * fs)
        wave = 4000.0 * np.exp(-t / 2.0) * np.sin(2 * np.pi * 6.0 * t)
        k = min(wave.size, n - i)
        data[i : i + k] += wave[:k]
    return (np.round(data) + 20_000).astype(np.int32)


@pytest.fixture
def quakes(rng: np.random.Generator) -> np.ndarray:
    return quake(30_000, QUAKES, rng)


def feed_in(
    det: StreamingDetector, x: np.ndarray, cuts: list[int], t0: float = T0
) -> list[Trigger]:
    out: list[Trigger] = []
    for piece, start in zip(np.split(x, cuts), [0, *cuts], strict=True):
        out += det.feed(piece, t0 + start / det.sampling_rate)
    return out


def same_triggers(a: list[Trigger], b: list[Trigger]) -> None:
    assert [(t.on_index, t.off_index, t.onset_index) for t in a] == [
        (t.on_index, t.off_index, t.onset_index) for t in b
    ]
    for x, y in zip(a, b, strict=True):
        for name in ("on_time", "off_time", "onset_time"):
            assert getattr(x, name) == pytest.approx(getattr(y, name), abs=1e-6)
        for name in ("peak_ratio", "snr", "peak_amplitude"):
            assert getattr(x, name) == pytest.approx(getattr(y, name), rel=1e-9)


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "fancy"}, "method='fancy'"),
        ({"freqmin": -1.0}, "freqmin=-1.0"),
        ({"freqmin": 30.0}, "freqmin=30.0, freqmax=20.0"),
        ({"freqmax": math.inf}, "freqmax=inf"),
        ({"corners": 0}, "corners=0"),
        ({"corners": 2.5}, "corners=2.5"),
        ({"sta": 0.0}, "sta=0.0"),
        ({"sta": 20.0}, "sta=20.0, lta=10.0"),
        ({"trigger_off": 4.0}, "trigger_on=3.5, trigger_off=4.0"),
        ({"trigger_off": 0.0}, "trigger_off=0.0"),
        ({"min_duration": -1.0}, "min_duration=-1.0"),
        ({"max_duration": math.nan}, "max_duration=nan"),
        ({"lta": "10"}, "lta='10'"),
    ],
)
def test_config_refuses_bad_values(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        replace(DetectorConfig(), **change)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fs", "message"), [(40.0, "Nyquist=20.0"), (0.0, "sampling_rate=0.0"), (1.0, "Nyquist")]
)
def test_detector_refuses_a_rate_the_settings_do_not_fit(fs: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StreamingDetector(DetectorConfig(), sampling_rate=fs)


@pytest.mark.parametrize(
    ("fs", "freqmax", "change"),
    [
        (100.0, 20.0, ""),
        (40.0, 16.0, "band 1-20 Hz cut to 1-16 Hz for 40 sps"),
        (20.0, 8.0, "band 1-20 Hz cut to 1-8 Hz for 20 sps"),
        (4.0, None, "skipped: 4 sps cannot carry the 1-20 Hz band"),
        (1.0, None, "skipped: 1 sps gives an STA window of under two samples"),
    ],
)
def test_settings_are_fitted_to_a_channels_rate(
    fs: float, freqmax: float | None, change: str
) -> None:
    fitted, said = DetectorConfig().fitted(fs)
    assert said == change
    assert (fitted.freqmax if fitted else None) == freqmax
    if fitted is not None:
        StreamingDetector(fitted, fs)  # it fits


def test_a_band_left_narrower_than_an_octave_is_skipped() -> None:
    fitted, said = DetectorConfig(freqmin=5.0, sta=1.0).fitted(20.0)
    assert fitted is None
    assert said == "skipped: 20 sps cannot carry the 5-20 Hz band"


def test_detector_refuses_an_sta_shorter_than_a_sample() -> None:
    cfg = DetectorConfig(freqmin=0.01, freqmax=0.1, sta=0.5, lta=100.0)
    with pytest.raises(ValueError, match=r"sta=0\.5, sampling_rate=1\.0"):
        StreamingDetector(cfg, sampling_rate=1.0)


# -- record by record equals whole --------------------------------------------------------------


@pytest.mark.parametrize("method", ["recursive", "classic"])
def test_the_synthetic_quakes_are_found(quakes: np.ndarray, method: str) -> None:
    det = StreamingDetector(DetectorConfig(method=method), FS)  # type: ignore[arg-type]
    found = det.feed(quakes, T0)
    assert len(found) == len(QUAKES)
    for trigger, onset in zip(found, QUAKES, strict=True):
        assert abs(trigger.onset_time - (T0 + onset)) < 0.08
        assert trigger.on_time <= trigger.off_time
        assert trigger.duration == trigger.off_time - trigger.on_time
        assert trigger.peak_ratio > 3.5
        assert trigger.snr > 10
        assert 3000 < trigger.peak_amplitude < 4500


@pytest.mark.parametrize("method", ["recursive", "classic"])
@pytest.mark.parametrize("size", [1, 7, 256, 300, 999])
def test_records_of_any_size_equal_one_block(quakes: np.ndarray, method: str, size: int) -> None:
    cfg = DetectorConfig(method=method)  # type: ignore[arg-type]
    whole = StreamingDetector(cfg, FS).process(quakes, T0)
    det = StreamingDetector(cfg, FS)
    ratios = []
    found: list[Trigger] = []
    for start in range(0, quakes.size, size):
        res = det.process(quakes[start : start + size], T0 + start / FS)
        ratios.append(res.ratio)
        found += res.triggers
    assert_array_equal(np.concatenate(ratios), whole.ratio)
    same_triggers(found, list(whole.triggers))


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 30_000), max_size=20).map(sorted))
def test_random_record_boundaries_equal_one_block(cuts: list[int]) -> None:
    x = quake(30_000, QUAKES, np.random.default_rng(7))
    whole = StreamingDetector(DetectorConfig(), FS).feed(x, T0)
    same_triggers(feed_in(StreamingDetector(DetectorConfig(), FS), x, cuts), whole)


def test_the_quiet_shortcut_never_misses_a_ratio_at_the_threshold(
    rng: np.random.Generator,
) -> None:
    # Fed record by record, the detector skips the STA/LTA of a record it can prove stays
    # below trigger_on. With trigger_on set to the exact largest ratio of a record, that one
    # sample reaches the threshold: the trigger must be found as by the full computation.
    x = quake(12_000, (), rng)
    ratio = StreamingDetector(DetectorConfig(), FS).process(x, T0).ratio
    for start in rng.choice(np.arange(1_200, 11_700, 300), size=6, replace=False):
        peak = float(ratio[start : start + 300].max())
        cfg = DetectorConfig(trigger_on=peak, trigger_off=min(1.0, peak))
        expected = StreamingDetector(cfg, FS).process(x, T0).triggers
        assert any(t.on_index <= start + 300 and t.off_index >= start for t in expected)
        fed = feed_in(StreamingDetector(cfg, FS), x, list(range(300, x.size, 300)))
        same_triggers(fed, list(expected))


def test_a_trigger_across_records_is_reported_once(quakes: np.ndarray) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    reports: list[tuple[int, Trigger]] = []
    for k, start in enumerate(range(0, quakes.size, 300)):
        for trigger in det.feed(quakes[start : start + 300], T0 + start / FS):
            reports.append((k, trigger))
    assert len(reports) == len(QUAKES)
    for k, trigger in reports:
        assert trigger.on_index // 300 < k or trigger.off_index // 300 == k  # spans records
        assert trigger.off_index // 300 <= k  # reported when it ends, not before
    first = reports[0][1]
    assert first.on_index // 300 != first.off_index // 300


def test_integer_and_float_samples_give_the_same_triggers(quakes: np.ndarray) -> None:
    a = StreamingDetector(DetectorConfig(), FS).feed(quakes, T0)
    b = StreamingDetector(DetectorConfig(), FS).feed(quakes.astype(np.float32), T0)
    c = StreamingDetector(DetectorConfig(), FS).feed(quakes.astype(np.int64), T0)
    same_triggers(a, b)
    same_triggers(a, c)


# -- ObsPy's batch chain as the oracle -----------------------------------------------------------


def seeded_recursive(f: np.ndarray, nsta: int, nlta: int) -> np.ndarray:
    """ObsPy's recursive STA/LTA with Larza's seeding: at the end of the warm-up the LTA is
    divided by the sum of its weights (the recursion starts at the second sample: ``nlta -
    1`` of them). Computed with SciPy's ``lfilter``, independently of the detector's
    cascade."""
    u = f * f
    u[0] = 0.0  # as ObsPy, the recursion starts at the second sample
    c_s, c_l = 1.0 / nsta, 1.0 / nlta
    sta = lfilter([c_s], [1.0, -(1.0 - c_s)], u)
    warm = lfilter([c_l], [1.0, -(1.0 - c_l)], u[:nlta])
    seed = warm[-1] / (1.0 - (1.0 - c_l) ** (nlta - 1))
    lta, _ = lfilter([c_l], [1.0, -(1.0 - c_l)], u[nlta:], zi=[(1.0 - c_l) * seed])
    ratio = np.zeros(f.size)
    ratio[nlta:] = sta[nlta:] / np.maximum(lta, TINY)
    return ratio


def obspy_chain(x: np.ndarray, fs: float, cfg: DetectorConfig) -> list[tuple[int, int]]:
    f = obspy_bandpass(x - x[0], cfg.freqmin, cfg.freqmax, fs, corners=cfg.corners)
    nsta, nlta = round(cfg.sta * fs), round(cfg.lta * fs)
    if cfg.method == "recursive":
        cf = seeded_recursive(f, nsta, nlta)
    else:
        cf = obspy_classic(f, nsta, nlta)
    picks = obspy_trigger_onset(
        cf, cfg.trigger_on, cfg.trigger_off, max_len=round(cfg.max_duration * fs)
    )
    return [(int(a), int(b)) for a, b in picks]


@pytest.mark.parametrize("method", ["recursive", "classic"])
def test_triggers_equal_obspy_on_real_recordings(
    recordings: dict[str, tuple[np.ndarray, float]], method: str
) -> None:
    total = 0
    for name, (x, fs) in recordings.items():
        for max_duration in (60.0, 1.0):
            cfg = DetectorConfig(
                method=method,  # type: ignore[arg-type]
                sta=0.5,
                lta=5.0,
                trigger_on=3.0,
                trigger_off=1.0,
                max_duration=max_duration,
            )
            det = StreamingDetector(cfg, fs)
            got = feed_in(det, x, list(range(256, x.size, 256))) + det.flush()
            expected = obspy_chain(x, fs, cfg)
            assert [(t.on_index, t.off_index) for t in got] == expected, name
            assert det.stats["spikes"] == 0, name  # nothing in them passes for a spike
            total += len(expected)
    assert total > 20


def test_the_seeded_recursive_oracle_is_obspys_after_convergence(
    recordings: dict[str, tuple[np.ndarray, float]],
) -> None:
    # The oracle above differs from ObsPy's function only by the seeding, whose effect
    # fades with the LTA's memory: long after the warm-up the two agree.
    x, fs = recordings["manz_waldk"]
    f = obspy_bandpass(x - x[0], 1.0, 20.0, fs, corners=4)
    ours, theirs = seeded_recursive(f, 100, 1000), obspy_recursive(f, 100, 1000)
    late = slice(30_000, None)  # 29 LTA windows after the warm-up
    assert np.allclose(ours[late], theirs[late], rtol=1e-9)
    assert not np.allclose(ours[1000:1500], theirs[1000:1500], rtol=1e-3)


# -- segments: gaps, overlaps, rate changes ------------------------------------------------------


def test_a_gap_resets_and_nothing_triggers_during_warm_up(rng: np.random.Generator) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    assert det.feed(quake(3000, (), rng), T0) == []
    assert det.segment_samples == 3000
    restart = T0 + 30.0 + 12.5  # 12.5 s of data missing
    # a quake 3 s into the new segment (inside the 10 s warm-up) and one 20 s in
    after = quake(4000, (3.0, 20.0), rng)
    found = []
    for start in range(0, after.size, 300):
        found += det.feed(after[start : start + 300], restart + start / FS)
    assert len(found) == 1
    assert found[0].on_index >= det.nlta
    assert abs(found[0].onset_time - (restart + 20.0)) < 0.08
    assert det.segment_samples == after.size


@pytest.mark.parametrize("shift", [1.5, 2.0, 30.0])
def test_a_gap_longer_than_max_gap_starts_a_segment(rng: np.random.Generator, shift: float) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quake(1000, (), rng), T0)
    det.feed(quake(300, (), rng), T0 + 10.0 + shift)
    assert det.segment_samples == 300
    assert det.next_time == pytest.approx(T0 + 13.0 + shift)
    assert det.stats["restarts"] == 1


@pytest.mark.parametrize(("shift", "filled"), [(0.006, 1), (0.5, 50), (1.0, 100)])
def test_a_gap_up_to_max_gap_is_bridged(
    rng: np.random.Generator, shift: float, filled: int
) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quake(1000, (), rng), T0)
    det.feed(quake(300, (), rng), T0 + 10.0 + shift)
    assert det.segment_samples == 1300 + filled  # the chain went on over the filled samples
    assert det.stats["bridged"] == 1
    assert det.next_time == pytest.approx(T0 + 13.0 + shift)


@pytest.mark.parametrize("shift", [-1.0, -0.006])
def test_an_overlapping_record_is_cut_to_its_new_samples(quakes: np.ndarray, shift: float) -> None:
    back = round(-shift * FS)  # samples received twice
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quakes[:1000], T0)
    det.feed(quakes[1000 - back : 1300], T0 + 10.0 - back / FS)
    assert det.segment_samples == 1300
    assert det.stats["overlaps"] == 1
    found = det.feed(quakes[1300:], T0 + 13.0) + det.flush()
    same_triggers(found, StreamingDetector(DetectorConfig(), FS).feed(quakes, T0))


def test_a_record_holding_nothing_new_is_dropped(quakes: np.ndarray) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quakes[:1000], T0)
    assert det.feed(quakes[500:1000], T0 + 5.0) == []
    assert (det.segment_samples, det.stats["repeats"]) == (1000, 1)


@pytest.mark.parametrize("shift", [-0.004, 0.0, 0.004])
def test_jitter_under_half_a_sample_keeps_the_segment(
    rng: np.random.Generator, shift: float
) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quake(1000, (), rng), T0)
    det.feed(quake(300, (), rng), T0 + 10.0 + shift)
    assert det.segment_samples == 1300


def test_a_sampling_rate_change_resets(rng: np.random.Generator) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quake(2000, (), rng), T0)
    x = quake(6000, (18.0,), rng, fs=200.0)
    found = det.feed(x, T0 + 20.0, sampling_rate=200.0)
    assert det.sampling_rate == 200.0
    assert det.nlta == 2000
    assert det.segment_samples == x.size
    assert len(found) == 1
    assert abs(found[0].onset_time - (T0 + 38.0)) < 0.05


def test_a_bad_new_rate_leaves_the_detector_as_it_was(rng: np.random.Generator) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quake(2000, (), rng), T0)
    with pytest.raises(ValueError, match=r"Nyquist=15\.0"):
        det.feed(np.zeros(10), T0 + 20.0, sampling_rate=30.0)
    assert (det.sampling_rate, det.segment_samples) == (FS, 2000)


def test_a_trigger_on_at_a_gap_is_reported_closed_at_the_last_sample(
    quakes: np.ndarray,
) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    cut = int((QUAKES[0] + 1.0) * FS)  # one second into the first quake
    assert det.feed(quakes[:cut], T0) == []
    found = det.feed(quakes[cut + 500 :], T0 + (cut + 500) / FS)
    assert found[0].off_index == cut - 1
    assert abs(found[0].onset_time - (T0 + QUAKES[0])) < 0.08
    assert len(found) == len(QUAKES)  # the rest come from the new segment


def test_reset_forgets_everything(quakes: np.ndarray) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quakes[: int((QUAKES[0] + 1.0) * FS)], T0)
    det.reset()
    assert det.segment_samples == 0
    assert det.next_time is None
    assert det.flush() == []


def test_bad_arguments_are_refused_and_change_nothing(quakes: np.ndarray) -> None:
    det = StreamingDetector(DetectorConfig(), FS)
    det.feed(quakes[:1000], T0)
    with pytest.raises(ValueError, match="starttime=nan"):
        det.feed(quakes[1000:1300], math.nan)
    with pytest.raises(ValueError, match="1-D"):
        det.feed(quakes[1000:1300].reshape(2, -1), T0 + 10.0)
    assert det.segment_samples == 1000
    whole = StreamingDetector(DetectorConfig(), FS).feed(quakes, T0)
    same_triggers(det.feed(quakes[1000:], T0 + 10.0), whole)


def test_min_duration_drops_short_triggers(quakes: np.ndarray) -> None:
    assert StreamingDetector(DetectorConfig(min_duration=30.0), FS).feed(quakes, T0) == []


def test_max_duration_cuts_long_triggers(quakes: np.ndarray) -> None:
    found = StreamingDetector(DetectorConfig(max_duration=0.5), FS).feed(quakes, T0)
    assert found
    assert all(t.off_index - t.on_index <= 50 for t in found)


# -- onset refinement ---------------------------------------------------------------------------


def test_aic_pick_finds_a_step_in_noise(rng: np.random.Generator) -> None:
    for onset in range(60, 90, 3):
        x = rng.normal(0.0, 1.0, 150)
        # signal of random sign and an amplitude kept away from zero (a Gaussian one may stay
        # small for several samples, which no picker can tell from noise)
        n = 150 - onset
        x[onset:] += rng.choice([-1.0, 1.0], n) * rng.uniform(4.0, 10.0, n)
        assert abs(aic_pick(x) - onset) <= 1


def test_aic_equals_the_variances_of_each_split(rng: np.random.Generator) -> None:
    # The AIC comes from running sums; the oracle takes np.var of both parts of every split.
    for _ in range(60):
        n = int(rng.integers(4, 400))
        x = rng.normal(0.0, 1.0, n) * 10 ** rng.uniform(-3, 6)
        x[int(rng.integers(0, n)) :] *= 10 ** rng.uniform(0, 4)  # an onset of any size
        direct = np.full(n, np.inf)
        for k in range(2, n - 1):
            head, tail = max(np.var(x[:k]), TINY), max(np.var(x[k:]), TINY)
            direct[k] = k * math.log(head) + (n - k) * math.log(tail)
        ours = aic(x)
        assert_array_equal(np.isinf(ours), np.isinf(direct))
        finite = np.isfinite(direct)
        assert np.all(np.abs(ours[finite] - direct[finite]) <= 1e-7 * (np.abs(direct[finite]) + n))
        assert aic_pick(x) == int(np.argmin(direct))


def test_detector_onset_is_within_a_few_samples_and_earlier_than_trigger_on(
    rng: np.random.Generator,
) -> None:
    # White noise stepping up eightfold: the broadest-band onset there is, where the
    # zero-phase filter's symmetric response shows most (real onsets: bench/picks.py).
    errors = []
    for k in range(20):
        x = rng.normal(0.0, 1.0, 3000)
        onset = 1800 + 7 * k
        x[onset:] += rng.normal(0.0, 8.0, 3000 - onset)
        det = StreamingDetector(DetectorConfig(), FS)
        (trigger,) = det.feed(x, T0) + det.flush()
        errors.append(trigger.onset_index - onset)
        assert trigger.onset_index <= trigger.on_index
        assert 1 / FS <= trigger.onset_uncertainty <= 0.2
    assert max(abs(e) for e in errors) <= 20
    assert sum(abs(e) for e in errors) / len(errors) <= 4


def test_a_detector_holds_little_memory(quakes: np.ndarray) -> None:
    """A worker runs one detector per channel, 10,000 of them: each keeps its history (LTA
    window and the onset's margins, raw as float32: 5 KB), filter states and the spike
    screen's few samples, and no working space of its own (128 KB a piece); the classic
    method keeps its LTA window of squares too (8 KB), the recursive one (the default) needs
    none. A horizontal keeps its S window (40 s: 16 KB)."""
    for size in (quakes.size, 400):
        det = StreamingDetector(DetectorConfig(), FS)
        for start in range(0, quakes.size, size):
            det.feed(quakes[start : start + size], T0 + start / FS)
        assert 4 * 1024 < _array_bytes(vars(det)) < 8 * 1024
    classic = StreamingDetector(DetectorConfig(method="classic"), FS)
    classic.feed(quakes, T0)
    assert 12 * 1024 < _array_bytes(vars(classic)) < 16 * 1024
    horizontal = StreamingDetector(DetectorConfig(), FS, history=40.0)
    horizontal.feed(quakes, T0)
    assert 15 * 1024 < _array_bytes(vars(horizontal)) < 20 * 1024


def _array_bytes(value: object) -> int:
    """Bytes of the numpy arrays in a value, looking into containers and objects."""
    if isinstance(value, np.ndarray):
        return value.nbytes if value.base is None else value.base.nbytes
    if isinstance(value, dict):
        return sum(_array_bytes(v) for v in value.values())
    if isinstance(value, list | tuple | deque):
        return sum(_array_bytes(v) for v in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return _array_bytes(vars(value))
    return 0
