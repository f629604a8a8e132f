"""Per-channel health over a sliding window, updated record by record.

Definitions follow the project's domain notes (MUSTANG-style explicit names):

- ``data_latency_s`` = now - time of the newest sample received;
- ``feed_latency_s`` = now - arrival time of the newest record;
- ``transmission_delay_s`` = arrival time of the newest record - its newest sample time.

Latencies are computed at snapshot time from ``now``, so they keep growing while nothing
arrives. Everything else is kept per record in a window (default 10 minutes, as SeisComP's
scqc) and summed at snapshot time: a record costs a sort and a few numpy reductions, a
snapshot a pass over the window's records.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.health.noise import NoiseMeter

SPIKE_THRESHOLD = 10.0  # MAD units, as MUSTANG's spike metric
SPIKE_WINDOW = 41  # samples of the Hampel filter, as MUSTANG
SPIKE_RUN = 3  # a glitch is at most this many consecutive outlying samples
_MAD_TO_SIGMA = 1.4826
_LIMIT = SPIKE_THRESHOLD * _MAD_TO_SIGMA  # the threshold in MAD units
_OFFSETS = np.arange(-(SPIKE_WINDOW // 2), SPIKE_WINDOW // 2 + 1)  # a window around a sample
_LOOP_RUNS = 32  # up to this many outlying samples are grouped in runs by a loop

FloatArray = npt.NDArray[np.float64]


_FIELDS = (
    "start", "total", "total_sq", "low", "high",
    "n", "clipped", "spikes", "gap_s", "overlap_s", "timing_quality", "future",
)  # fmt: skip
"""What is kept of each record in the window: its start, sums and extremes (float64), then
its sample count, clipped and spike counts, the gap or overlap before it, timing quality (-1:
none) and whether it was stamped in the future (float32: counts exact to 2**24, durations to
a microsecond). Its end (just after its last sample) is ``start + n / sampling rate``, worked
out as when it was added; the arrival matters only for the newest record, kept apart."""
_WIDE = 5  # the first fields, kept as float64
_COLUMNS = {name: k for k, name in enumerate(_FIELDS)}
_NARROW = {name: k - _WIDE for name, k in _COLUMNS.items() if k >= _WIDE}


class _Window:
    """The window's records as rows of two arrays (no Python object each), float64 for the
    start, sums and extremes and float32 for the rest (68 bytes a record): appended at the
    end, dropped from the front, kept contiguous. ``period``: seconds between samples."""

    __slots__ = ("_narrow", "_wide", "hi", "in_order", "lo", "period")

    def __init__(self, period: float) -> None:
        self.period = period
        self._wide = np.empty((8, _WIDE))
        self._narrow = np.empty((8, len(_FIELDS) - _WIDE), dtype=np.float32)
        self.lo = self.hi = 0
        self.in_order = True
        """Whether the records are in start order (kept until the window empties)."""

    def __len__(self) -> int:
        return self.hi - self.lo

    def append(self, row: tuple[float, ...]) -> None:
        size = len(self._wide)
        if self.hi == size:
            live = slice(self.lo, self.hi)
            count = self.hi - self.lo
            if self.lo >= size // 8:
                # room at the front: move down (a copy of the window every eighth of it
                # appended at most, so a steady window stays in an array about its size)
                self._wide[:count] = self._wide[live]
                self._narrow[:count] = self._narrow[live]
            else:
                grown = size + max(8, size // 4)
                wide = np.empty((grown, _WIDE))
                narrow = np.empty((grown, len(_FIELDS) - _WIDE), dtype=np.float32)
                wide[:count] = self._wide[live]
                narrow[:count] = self._narrow[live]
                self._wide, self._narrow = wide, narrow
            self.lo, self.hi = 0, count
        if self.hi > self.lo and row[0] < self._wide[self.hi - 1, 0]:
            self.in_order = False
        self._wide[self.hi] = row[:_WIDE]
        self._narrow[self.hi] = row[_WIDE:]
        self.hi += 1

    def first_end(self) -> float:
        return float(self._wide[self.lo, _COLUMNS["start"]]) + (
            float(self._narrow[self.lo, _NARROW["n"]]) * self.period
        )

    def drop_first(self) -> None:
        self.lo += 1
        if self.lo == self.hi:
            self.lo = self.hi = 0
            self.in_order = True

    def rows(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        """The records in the window: their float64 fields and their float32 fields, as
        views (columns in ``_FIELDS`` order)."""
        return self._wide[self.lo : self.hi], self._narrow[self.lo : self.hi]


class ChannelHealth:
    """Sliding-window metrics of one channel.

    Parameters
    ----------
    sampling_rate : float
        Nominal rate in Hz (from the inventory); records at another rate count as errors.
    window_s : float
        Length of the sliding window.
    clip_level : float or None
        Absolute count at or above which a sample counts as clipped (the digitizer's full
        scale, e.g. ``2**23 - 1`` for a 24-bit digitizer); None disables the check.
    """

    def __init__(
        self,
        sampling_rate: float,
        window_s: float = 600.0,
        clip_level: float | None = None,
        *,
        started: float | None = None,
        noise: NoiseMeter | None = None,
    ) -> None:
        if sampling_rate <= 0 or window_s <= 0:
            raise ValueError(
                f"need sampling_rate > 0 and window_s > 0, got {sampling_rate}, {window_s}"
            )
        self.sampling_rate = sampling_rate
        self.window_s = window_s
        self.clip_level = clip_level
        # Availability counts from here: a worker that just started has not seen the past.
        self.started = started
        self.noise = noise
        self._entries = _Window(1.0 / sampling_rate)
        self._transmission = math.nan  # of the newest record
        self._expected: float | None = None
        self.last_sample_time: float | None = None
        self.last_arrival: float | None = None
        self.last_value: float | None = None
        self.clock_locked: bool | None = None
        self.records = 0

    def resume_after(self, last_sample_time: float) -> None:
        """The channel's data before this worker read it ended at ``last_sample_time``: the
        next record is measured from there (a span missing since counts as a gap), and the
        window starts there at the latest."""
        expected = last_sample_time + 1.0 / self.sampling_rate
        if self._expected is None or expected < self._expected:
            self._expected = expected
        if self.started is None or expected < self.started:
            self.started = expected

    def seed(self, last_sample_time: float, last_arrival: float) -> None:
        """Start from what the database knows of the channel (the newest data before a restart),
        so latencies are right before the first new record."""
        self.last_sample_time = last_sample_time
        self.last_arrival = last_arrival

    def add(
        self,
        starttime: float,
        data: npt.NDArray[np.float64],
        arrival: float,
        *,
        timing_quality: int | None = None,
        clock_locked: bool | None = None,
    ) -> None:
        """Account for one record starting at ``starttime`` (POSIX s), arrived at ``arrival``."""
        n = len(data)
        if n == 0:
            return
        if self.noise is not None:
            self.noise.add(starttime, data)
        dt = 1.0 / self.sampling_rate
        end = starttime + n * dt
        gap = overlap = 0.0
        if self._expected is not None:
            offset = starttime - self._expected
            if offset > 0.5 * dt:
                gap = offset
            elif offset < -0.5 * dt:
                overlap = -offset
        total = float(data.sum())
        deviations = data - total / n
        ordered = data.copy()
        ordered.sort()
        # The extremes of the sorted copy are the record's min and max, except that a sort
        # may put either zero first and does not propagate NaN as min() and max() do.
        low, high = float(ordered.item(0)), float(ordered.item(-1))
        if not (low and high and math.isfinite(total)):
            low, high = float(data.min()), float(data.max())
        clipped = 0
        if self.clip_level is not None and max(high, -low) >= self.clip_level:
            clipped = int(np.count_nonzero(np.abs(data) >= self.clip_level))
        self._entries.append(
            (
                starttime,
                total,
                float(deviations @ deviations),
                low,
                high,
                n,
                clipped,
                _spikes(data, ordered),
                gap,
                overlap,
                -1 if timing_quality is None else timing_quality,
                end - dt > arrival + 1.0,
            )
        )
        self._expected = end if self._expected is None else max(self._expected, end)
        last = end - dt
        self.last_sample_time = (
            last if self.last_sample_time is None else max(self.last_sample_time, last)
        )
        self.last_arrival = arrival
        self._transmission = arrival - (end - dt)
        self.last_value = float(data.item(-1))
        if clock_locked is not None:
            self.clock_locked = clock_locked
        self.records += 1

    def snapshot(self, now: float) -> dict[str, Any]:
        """The metrics at ``now``.

        Latencies run to ``now``. The other metrics cover the newest ``window_s`` of data:
        ``[end - window_s, end]`` where ``end`` is the end of the newest record (or ``now`` if
        earlier), shortened to begin at ``started``. So data still in transit is not a gap,
        and a silent channel keeps the metrics of its last window (its latency tells).
        """
        end = now if self._expected is None else min(now, self._expected)
        begin = end - self.window_s
        window = self._entries
        while len(window) and window.first_end() <= begin:
            window.drop_first()
        if self.started is not None:
            begin = max(begin, min(self.started, end - 1.0))
        out: dict[str, Any] = {
            "window_s": end - begin,
            "last_sample_time": self.last_sample_time,
            "data_latency_s": None
            if self.last_sample_time is None
            else now - self.last_sample_time,
            "feed_latency_s": None if self.last_arrival is None else now - self.last_arrival,
            "transmission_delay_s": None,
            "records": len(window),
            "last_value": self.last_value,
            "clock_locked": self.clock_locked,
        }
        if self.noise is not None and self.noise.latest is not None:
            out.update(self.noise.latest)
        if not len(window):
            out.update(availability_pct=0.0, gaps=0, gap_s=0.0, largest_gap_s=0.0, overlaps=0)
            return out
        wide, narrow = window.rows()
        W, N = _COLUMNS, _NARROW  # column by column: small arrays reduce fastest that way
        counts = narrow[:, N["n"]]
        starts, totals = wide[:, W["start"]], wide[:, W["total"]]
        ends = starts + counts.astype(np.float64) * (1.0 / self.sampling_rate)
        out["transmission_delay_s"] = self._transmission
        n = float(counts.sum(dtype=np.float64))
        mean = float(totals.sum()) / n
        # Pooled variance: within-record deviations plus the records' means around the mean.
        spread = totals / counts - mean
        sq = float(wide[:, W["total_sq"]].sum()) + float(counts @ (spread * spread))
        gap_column = narrow[:, N["gap_s"]]  # 0 or the gap before the record (never < 0)
        n_gaps = int(np.count_nonzero(gap_column))
        widest = int(gap_column.argmax()) if n_gaps else 0
        qualities = narrow[:, N["timing_quality"]]
        if qualities.min() < 0:  # -1: a record without one
            qualities = qualities[qualities >= 0]
        low, high = float(wide[:, W["low"]].min()), float(wide[:, W["high"]].max())
        covered = _covered(starts, ends, begin, end, in_order=window.in_order)
        out.update(
            availability_pct=min(100.0, 100.0 * covered / (end - begin)),
            gaps=n_gaps,
            gap_s=float(gap_column.sum(dtype=np.float64)) if n_gaps else 0.0,
            largest_gap_s=float(gap_column[widest]) if n_gaps else 0.0,
            largest_gap_start=float(starts[widest] - gap_column[widest]) if n_gaps else None,
            overlaps=int(np.count_nonzero(narrow[:, N["overlap_s"]])),
            samples=int(n),
            mean=mean,
            rms=float(np.sqrt(sq / n)),
            min=low,
            max=high,
            flat=low == high,
            clipped_pct=100.0 * float(narrow[:, N["clipped"]].sum(dtype=np.float64)) / n,
            spikes=int(narrow[:, N["spikes"]].sum(dtype=np.float64)),
            timing_quality_mean=float(qualities.mean(dtype=np.float64)) if qualities.size else None,
            timing_quality_min=int(qualities.min()) if qualities.size else None,
            future_records=int(np.count_nonzero(narrow[:, N["future"]])),
        )
        return out


def _covered(
    starts: npt.NDArray[np.float64],
    ends: npt.NDArray[np.float64],
    begin: float,
    now: float,
    *,
    in_order: bool = False,
) -> float:
    """Seconds of ``[begin, now]`` covered by the records ``[start, end)``, overlaps once: in
    start order, each adds what it reaches past the furthest end before it. ``in_order``:
    the records are known to be in start order already."""
    if in_order:
        s, e = starts, np.minimum(ends, now)
    else:
        order = np.argsort(starts, kind="stable")
        s, e = starts[order], np.minimum(ends[order], now)
    reach = np.maximum.accumulate(np.concatenate(([begin], e)))[:-1]
    return float(np.maximum(0.0, e - np.maximum(s, reach)).sum())


def _spikes(data: FloatArray, ordered: FloatArray | None = None) -> int:
    """Samples that a Hampel filter (window ``SPIKE_WINDOW``, MUSTANG's spikes metric) flags:
    more than ``SPIKE_THRESHOLD`` robust sigmas (MAD) from the median of their neighbours.

    Cheap in the common case: samples within the threshold of the whole record's median and
    MAD are not examined further. Of the outliers left, only those in runs of at most
    ``SPIKE_RUN`` samples are tested against their own neighbourhood: a glitch is short, an
    earthquake's wave train is long and ordinary among its neighbours. Records of at most
    ``SPIKE_WINDOW // 2`` samples have no spikes.

    Medians are upper medians (element ``n // 2`` of the sorted values; the window is odd),
    neighbourhoods are reflected at the ends of the record (``np.pad``'s ``reflect``), and a
    neighbourhood whose MAD is 0 flags nothing. ``ordered`` is ``data`` sorted, if at hand.
    """
    n = data.size
    half = SPIKE_WINDOW // 2
    if n <= half:
        return 0
    if ordered is None:
        ordered = np.sort(data)
    k = n // 2
    # The screen skips only records that cannot have an outlier. Take q1 and q3, the values
    # of rank a and b = a + k + 1: a sample at or below q1, or at or above q3, deviates from
    # the median by at least min(median - q1, q3 - median) (rounding is monotonic), and at
    # most b - a - 1 = k samples lie strictly between them; so at most k deviations are
    # smaller, and the MAD, the deviation of rank k, is not. No sample deviates more than
    # the extremes. Comparisons with NaN are false: a record with NaN is not screened.
    a = (n - k - 1) // 2
    low, q1, median, q3 = ordered.item(0), ordered.item(a), ordered.item(k), ordered.item(a + k + 1)
    high = ordered.item(-1)
    bound = _LIMIT * min(median - q1, q3 - median)
    if high - median <= bound and median - low <= bound:
        return 0
    deviation = np.abs(data - median)
    middle = deviation.copy()
    middle.partition(k)
    mad = middle.item(k)
    if mad == 0.0:
        return 0
    limit = _LIMIT * mad
    if high - median <= limit and median - low <= limit:
        return 0  # the largest deviations are the extremes'
    short = _short_runs((deviation > limit).nonzero()[0])
    if short.size == 0:
        return 0
    around = short[:, None] + _OFFSETS
    last = n - 1
    if short.item(0) < half or short.item(-1) > last - half:
        # Reflected at the record's ends: index -j reads j, last + j reads last - j (a
        # record is longer than half a window, so one reflection is enough).
        around = last - np.abs(last - np.abs(around))
    windows = data[around]
    windows.partition(half, axis=1)  # the window is odd: the middle element is the median
    local = windows[:, half]
    spread = np.abs(windows - local[:, None])
    spread.partition(half, axis=1)
    return sum(
        1
        for value, centre, scale in zip(
            data[short].tolist(), local.tolist(), spread[:, half].tolist(), strict=True
        )
        if scale > 0 and abs(value - centre) > _LIMIT * scale
    )


def _short_runs(candidates: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The indices (ascending) that belong to runs of at most ``SPIKE_RUN`` consecutive
    ones: a loop for the few of a glitch, array operations for many."""
    if candidates.size > _LOOP_RUNS:
        breaks = np.flatnonzero(np.diff(candidates) != 1) + 1
        starts = np.concatenate(([0], breaks))
        lengths = np.diff(np.concatenate((starts, [candidates.size])))
        short: npt.NDArray[np.intp] = candidates[np.repeat(lengths <= SPIKE_RUN, lengths)]
        return short
    indices: list[int] = candidates.tolist()
    kept: list[int] = []
    first = 0
    for i in range(1, len(indices) + 1):
        if i == len(indices) or indices[i] != indices[i - 1] + 1:
            if i - first <= SPIKE_RUN:
                kept += indices[first:i]
            first = i
    return np.array(kept, dtype=np.intp)
