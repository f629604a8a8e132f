"""Channel health over a sliding window, against the same metrics computed in one batch."""

from __future__ import annotations

import numpy as np
import pytest
from obspy import read

from ingest.health.metrics import ChannelHealth

FS = 100.0
T0 = 1_750_000_000.0


def _feed(
    health: ChannelHealth, data: np.ndarray, start: float, sizes: list[int], lag: float = 0.5
) -> None:
    i = 0
    for size in sizes:
        chunk = data[i : i + size]
        t = start + i / FS
        health.add(t, chunk, arrival=t + size / FS + lag, timing_quality=100)
        i += size


def test_window_metrics_equal_the_batch_on_a_real_recording() -> None:
    trace = read()[0]  # ObsPy's example local event, 100 sps
    data = trace.data.astype(np.float64)
    health = ChannelHealth(FS, window_s=60.0)
    rng = np.random.default_rng(1)
    sizes = list(rng.integers(200, 400, size=len(data) // 200))
    sizes = [s for s in np.diff(np.clip(np.cumsum([0, *sizes]), 0, len(data))) if s > 0]
    _feed(health, data, T0, sizes)
    end = T0 + len(data) / FS
    snap = health.snapshot(end + 0.5)
    assert snap["samples"] == len(data)
    assert snap["mean"] == pytest.approx(data.mean(), rel=1e-12)
    assert snap["rms"] == pytest.approx(data.std(), rel=1e-9)
    assert (snap["min"], snap["max"]) == (data.min(), data.max())
    assert snap["gaps"] == 0
    # 30 s of data in a 60 s window that ends 0.5 s after the last sample.
    assert snap["availability_pct"] == pytest.approx(100.0 * len(data) / FS / 60.0, rel=1e-6)
    assert snap["data_latency_s"] == pytest.approx(0.5 + 1 / FS)
    assert snap["transmission_delay_s"] == pytest.approx(0.5 + 1 / FS)
    assert snap["timing_quality_min"] == 100


def test_a_gap_is_counted_and_lowers_availability() -> None:
    rng = np.random.default_rng(2)
    health = ChannelHealth(FS, window_s=600.0)
    before, after = rng.normal(0, 100, 30_000), rng.normal(0, 100, 27_000)
    _feed(health, before, T0, [300] * 100)
    _feed(health, after, T0 + 330.0, [300] * 90)  # 30 s missing
    snap = health.snapshot(T0 + 600.0)
    assert snap["gaps"] == 1
    assert snap["gap_s"] == pytest.approx(30.0)
    assert snap["largest_gap_s"] == pytest.approx(30.0)
    assert snap["availability_pct"] == pytest.approx(95.0)


def test_latency_keeps_growing_when_nothing_arrives() -> None:
    health = ChannelHealth(FS)
    health.add(T0, np.zeros(300), arrival=T0 + 3.5)
    first = health.snapshot(T0 + 4.0)["data_latency_s"]
    later = health.snapshot(T0 + 400.0)["data_latency_s"]
    assert later - first == pytest.approx(396.0)
    # A silent channel keeps the metrics of its last window of data; its latency tells.
    assert health.snapshot(T0 + 10_000.0)["records"] == 1


def test_flat_clipped_spiky_and_future_records() -> None:
    health = ChannelHealth(FS, clip_level=8_388_607)
    health.add(T0, np.full(300, 1234.0), arrival=T0 + 4)
    assert health.snapshot(T0 + 4)["flat"] is True
    rng = np.random.default_rng(3)
    noisy = rng.normal(0, 100, 300)
    noisy[[10, 20, 30]] = 8_388_607
    noisy[100] = 5_000  # 50 sigma: a spike, not clipped
    health.add(T0 + 3, noisy, arrival=T0 + 7)
    health.add(T0 + 3600, rng.normal(0, 100, 300), arrival=T0 + 10)  # an hour in the future
    snap = health.snapshot(T0 + 10)
    assert snap["flat"] is False
    assert snap["clipped_pct"] == pytest.approx(100 * 3 / 900)
    assert snap["spikes"] == 4
    assert snap["future_records"] == 1


def test_no_data_yet() -> None:
    snap = ChannelHealth(FS).snapshot(T0)
    assert snap["data_latency_s"] is None
    assert snap["availability_pct"] == 0.0
    with pytest.raises(ValueError, match="sampling_rate > 0"):
        ChannelHealth(0.0)


def test_a_steady_window_keeps_about_its_own_size_in_memory() -> None:
    """10,000 channels each keep their window: a record costs 84 bytes in it, and a window
    that slides steadily stays in arrays not much larger than the records it holds."""
    health = ChannelHealth(FS, window_s=600.0)
    data = np.random.default_rng(5).normal(0, 100, 300)
    for k in range(2_000):  # 6,000 s of 3-s records: the window holds 200 of them
        start = T0 + 3.0 * k
        health.add(start, data, arrival=start + 4.0)
        health.snapshot(start + 4.0)
    window = health._entries
    assert len(window) in (200, 201)
    held = window._wide.nbytes + window._narrow.nbytes
    assert held <= 1.3 * 84 * len(window)
    snap = health.snapshot(T0 + 6_004.0)
    assert snap["availability_pct"] == pytest.approx(100.0 * 599.0 / 600.0, abs=0.5)
    assert snap["samples"] == 300 * len(window)
