"""The streaming detector: bandpass, STA/LTA and trigger hysteresis over records as they come.

Limitations
-----------
- Times come from the records: sample ``i`` of a segment is at the start time of the latest
  record plus ``(i - index of its first sample) / sampling_rate``. A record whose start time is
  more than half a sample interval away from the expected time (a gap or an overlap) ends the
  segment; so does a change of sampling rate. A new segment starts a warm-up of one LTA window
  during which nothing triggers.
- A trigger still on when a segment ends is reported then, closed at the segment's last sample
  (as ObsPy closes one at the end of the data); ``reset`` drops it instead.
- A trigger is reported once, by the call that feeds its end (or its ``max_duration``), or a
  little later: the onset refinement needs ``sta`` seconds of data after the trigger-on time.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection._aic import aic_pick
from detection._filter import _as_float_1d, design_bandpass, sosfilt_rows_inplace
from detection._stalta import classic_step, recursive_step
from detection._trigger import TriggerState, trigger_step

__all__ = ["DetectorConfig", "FeedResult", "StreamingDetector", "Trigger"]

Raw = NDArray[np.float64] | NDArray[np.integer[Any]]
"""Samples as fed: integer counts, or float64."""

PIECE = 8192
"""Longest run of samples the chain processes at once (64 KiB of float64 per array)."""

Float64Array = NDArray[np.float64]
Method = Literal["recursive", "classic"]


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of a :class:`StreamingDetector`; refuses invalid values.

    Attributes
    ----------
    method : {"recursive", "classic"}
        STA/LTA flavour: exponential averages (ObsPy ``recursive_sta_lta``) or boxcar windows
        (ObsPy ``classic_sta_lta``).
    freqmin, freqmax : float
        Butterworth bandpass corners in Hz.
    corners : int
        Order of the bandpass halves (number of second-order sections).
    sta, lta : float
        Short and long window lengths in seconds, ``0 < sta < lta``.
    trigger_on, trigger_off : float
        A trigger starts when the ratio reaches ``trigger_on`` and ends when it falls below
        ``trigger_off``; ``0 < trigger_off <= trigger_on``.
    min_duration, max_duration : float
        Shorter triggers are dropped; longer ones are cut at ``max_duration`` seconds.

    Raises
    ------
    ValueError
        Naming the field and the value, if one is out of range.
    """

    method: Method = "recursive"
    freqmin: float = 1.0
    freqmax: float = 20.0
    corners: int = 4
    sta: float = 0.5
    lta: float = 10.0
    trigger_on: float = 3.5
    trigger_off: float = 1.0
    min_duration: float = 0.0
    max_duration: float = 60.0

    def __post_init__(self) -> None:
        if self.method not in ("recursive", "classic"):
            raise ValueError(f"need method 'recursive' or 'classic', got method={self.method!r}")
        for name in (
            "freqmin",
            "freqmax",
            "sta",
            "lta",
            "trigger_on",
            "trigger_off",
            "min_duration",
            "max_duration",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"need a number for {name}, got {name}={value!r}")
            if not math.isfinite(value):
                raise ValueError(f"need a finite {name}, got {name}={value}")
        if not 0 < self.freqmin < self.freqmax:
            raise ValueError(
                f"need 0 < freqmin < freqmax, got freqmin={self.freqmin}, freqmax={self.freqmax}"
            )
        if isinstance(self.corners, bool) or not isinstance(self.corners, int):
            raise ValueError(f"need an integer corners, got corners={self.corners!r}")
        if not 1 <= self.corners <= 10:
            raise ValueError(f"need 1 <= corners <= 10, got corners={self.corners}")
        if not 0 < self.sta < self.lta:
            raise ValueError(f"need 0 < sta < lta, got sta={self.sta}, lta={self.lta}")
        if not 0 < self.trigger_off <= self.trigger_on:
            raise ValueError(
                "need 0 < trigger_off <= trigger_on, got "
                f"trigger_on={self.trigger_on}, trigger_off={self.trigger_off}"
            )
        if not 0 <= self.min_duration <= self.max_duration:
            raise ValueError(
                "need 0 <= min_duration <= max_duration, got "
                f"min_duration={self.min_duration}, max_duration={self.max_duration}"
            )


@dataclass(frozen=True)
class Trigger:
    """One detection on one channel.

    Attributes
    ----------
    on_time, off_time : float
        POSIX seconds of the first and the last triggered sample.
    onset_time : float
        POSIX seconds of the onset refined by the AIC picker.
    peak_ratio : float
        Largest STA/LTA during the trigger.
    snr : float
        Largest absolute filtered amplitude during the trigger over the RMS of the filtered data
        in the LTA window before it (``inf`` if that RMS is zero).
    peak_amplitude : float
        Largest absolute raw value during the trigger minus the raw mean of the LTA window
        before it, in counts.
    on_index, off_index, onset_index : int
        Sample indices counted from the start of the continuous segment.
    """

    on_time: float
    off_time: float
    onset_time: float
    peak_ratio: float
    snr: float
    peak_amplitude: float
    on_index: int
    off_index: int
    onset_index: int

    @property
    def duration(self) -> float:
        """Seconds from the first to the last triggered sample."""
        return self.off_time - self.on_time


@dataclass(frozen=True, eq=False)
class FeedResult:
    """What :meth:`StreamingDetector.process` returns for one piece of data.

    Attributes
    ----------
    triggers : tuple of Trigger
        Triggers completed by this call (also those closed because a segment ended).
    ratio : ndarray of float64
        STA/LTA of each sample fed (zero during warm-up).
    filtered : ndarray of float64
        The bandpass-filtered samples fed (offset removed).
    """

    triggers: tuple[Trigger, ...]
    ratio: Float64Array
    filtered: Float64Array


@dataclass(slots=True)
class _Pending:
    """A trigger being measured (mutable; only the detector holds it)."""

    on: int
    off: int = -1
    onset: int = -1
    peak_ratio: float = -math.inf
    peak_filtered: float = 0.0
    raw_max: float = -math.inf
    raw_min: float = math.inf
    noise_rms: float = 0.0
    raw_mean: float = 0.0
    measured: bool = field(default=False)


class StreamingDetector:
    """Detects triggers on one channel's samples, fed record by record.

    Parameters
    ----------
    config : DetectorConfig
        The settings.
    sampling_rate : float
        Samples per second of the channel.

    Raises
    ------
    ValueError
        If the settings do not fit the sampling rate (``freqmax`` at or above Nyquist, an STA
        window shorter than one sample).

    Notes
    -----
    The chain per call: remove the segment's offset (its first sample, which spares the
    bandpass a step response), Butterworth bandpass as second-order sections with carried
    state, STA/LTA with carried state, trigger hysteresis with carried state, then for each
    trigger the AIC onset on the filtered samples from ``2 * sta`` before to ``sta`` after the
    trigger-on time, kept in a small buffer of the last samples. Feeding a segment in any
    pieces gives the same triggers as feeding it whole.
    """

    def __init__(self, config: DetectorConfig, sampling_rate: float) -> None:
        self._config = config
        self._configure(float(sampling_rate))
        self.reset()

    # -- set-up -------------------------------------------------------------------------------

    def _configure(self, sampling_rate: float) -> None:
        cfg = self._config
        if not (math.isfinite(sampling_rate) and sampling_rate > 0):
            raise ValueError(f"need a finite sampling_rate > 0, got sampling_rate={sampling_rate}")
        sos = design_bandpass(cfg.freqmin, cfg.freqmax, sampling_rate, cfg.corners)
        nsta = round(cfg.sta * sampling_rate)
        nlta = round(cfg.lta * sampling_rate)
        if nsta < 1:
            raise ValueError(
                f"need sta of at least one sample, got sta={cfg.sta}, sampling_rate={sampling_rate}"
            )
        if nlta <= nsta:
            raise ValueError(
                "need lta longer than sta in samples, got "
                f"nsta={nsta}, nlta={nlta} at sampling_rate={sampling_rate}"
            )
        self._fs = sampling_rate
        self._sos = sos
        self._nsta = nsta
        self._nlta = nlta
        self._max_len = round(cfg.max_duration * sampling_rate)
        self._n_before = 2 * nsta
        self._n_after = nsta
        self._capacity = nlta + self._n_before + self._n_after + 2

    def reset(self) -> None:
        """Forget all state, including triggers not yet reported."""
        self._n = 0
        self._anchor_time = math.nan
        self._anchor_index = 0
        self._offset = 0.0
        self._zi = np.zeros((1, self._sos.shape[0], 2))
        self._rec_zi = np.zeros((1, 2, 2))
        self._w_last = 0.0
        self._squares = np.zeros(self._nlta)
        self._sta_sum = 0.0
        self._lta_sum = 0.0
        self._trig = TriggerState()
        # The last pieces (first sample index, filtered, raw), at least _capacity samples.
        self._hist: deque[tuple[int, Float64Array, Raw]] = deque()
        self._held = 0
        self._open: _Pending | None = None
        self._pending: list[_Pending] = []

    @property
    def config(self) -> DetectorConfig:
        """The settings."""
        return self._config

    @property
    def sampling_rate(self) -> float:
        """Samples per second the detector is set up for."""
        return self._fs

    @property
    def nsta(self) -> int:
        """STA window in samples (``round(sta * sampling_rate)``)."""
        return self._nsta

    @property
    def nlta(self) -> int:
        """LTA window in samples (``round(lta * sampling_rate)``)."""
        return self._nlta

    @property
    def segment_samples(self) -> int:
        """Samples fed since the current continuous segment started."""
        return self._n

    @property
    def next_time(self) -> float | None:
        """POSIX seconds expected for the next sample, or ``None`` before any data."""
        if self._n == 0:
            return None
        return self._time(self._n)

    # -- feeding ------------------------------------------------------------------------------

    def feed(
        self, samples: ArrayLike, starttime: float, *, sampling_rate: float | None = None
    ) -> list[Trigger]:
        """Feed the next samples; return the triggers completed by them.

        Parameters
        ----------
        samples : array_like, 1-D
            Samples of any integer or float dtype (a record's worth, or a whole trace).
        starttime : float
            POSIX seconds of ``samples[0]``.
        sampling_rate : float, optional
            The samples' rate, if it may differ from the detector's; a change ends the segment
            and sets the detector up for the new rate.

        Returns
        -------
        list of Trigger
            In time order.

        Raises
        ------
        ValueError
            If the samples are not 1-D numeric or hold NaN or infinity, ``starttime`` is not
            finite, or the settings do not fit a new sampling rate; the state is then unchanged.
        """
        return self._feed(samples, starttime, sampling_rate, keep_arrays=False)[0]

    def process(
        self, samples: ArrayLike, starttime: float, *, sampling_rate: float | None = None
    ) -> FeedResult:
        """As :meth:`feed`, also returning the STA/LTA and the filtered samples."""
        triggers, ratio, filtered = self._feed(samples, starttime, sampling_rate, keep_arrays=True)
        return FeedResult(tuple(triggers), ratio, filtered)

    def _feed(
        self,
        samples: ArrayLike,
        starttime: float,
        sampling_rate: float | None,
        *,
        keep_arrays: bool,
    ) -> tuple[list[Trigger], Float64Array, Float64Array]:
        x = _samples(samples)
        t0 = float(starttime)
        if not math.isfinite(t0):
            raise ValueError(f"need a finite starttime, got starttime={starttime}")
        if x.dtype.kind == "f" and x.size and not math.isfinite(float(np.add.reduce(x))):
            raise ValueError("need finite samples, got NaN or infinite values")
        out: list[Trigger] = []
        if sampling_rate is not None and float(sampling_rate) != self._fs:
            StreamingDetector(self._config, float(sampling_rate))  # raises if it does not fit
            out += self._end_segment()
            self._configure(float(sampling_rate))
            self.reset()
        elif self._n > 0 and abs(t0 - self._time(self._n)) > 0.5 / self._fs:
            out += self._end_segment()
        m = x.size
        if m == 0:
            return out, np.empty(0), np.empty(0)
        if self._n == 0:
            self._offset = float(x[0])
        self._anchor_time, self._anchor_index = t0, self._n
        if m <= PIECE:
            cf, f = self._piece(x, out, keep_arrays)
            return out, cf, f
        # Long input in pieces that stay in the processor's cache: the results are the same
        # (the chain is invariant to how data are cut), and about twice as fast as one block.
        ratios, filtered = [], []
        for a in range(0, m, PIECE):
            cf, f = self._piece(x[a : a + PIECE], out, keep_arrays)
            if keep_arrays:
                ratios.append(cf)
                filtered.append(f)
        if not keep_arrays:
            return out, np.empty(0), np.empty(0)
        return out, np.concatenate(ratios), np.concatenate(filtered)

    def _piece(
        self, x: Raw, out: list[Trigger], keep_arrays: bool = True
    ) -> tuple[Float64Array, Float64Array]:
        """Run the chain over the next samples of the segment; triggers go to ``out``.

        Without ``keep_arrays`` the STA/LTA of a quiet piece (no trigger on, waiting or
        starting) may be left uncomputed and an empty array returned in its place.
        """
        s, m = self._n, x.size
        rows = np.empty((1, m))
        np.subtract(x, self._offset, out=rows[0])
        sosfilt_rows_inplace(self._sos, rows, self._zi)
        f = rows[0]
        cfg, trig = self._config, self._trig
        idle = trig.on < 0 and self._open is None and not self._pending
        cf: Float64Array | None
        if self._config.method == "recursive":
            cf, self._w_last = recursive_step(
                f,
                self._nsta,
                self._nlta,
                s,
                self._rec_zi,
                self._w_last,
                _scratch(),
                None if keep_arrays or not idle else cfg.trigger_on,
            )
        else:
            cf, self._squares, self._sta_sum, self._lta_sum = classic_step(
                f, self._nsta, self._nlta, s, self._squares, self._sta_sum, self._lta_sum
            )
        reaches_on = cf is not None and idle and np.maximum.reduce(cf) >= cfg.trigger_on
        if cf is None or (idle and not reaches_on):
            # Nothing on and nothing starts (the common case, record after record).
            if trig.above:
                self._trig = TriggerState(s + m, False, -1, trig.after)
            # else the state stays as it is but for its sample count: see _trigger_state
            self._remember(f, x, s)
            self._n = s + m
            return _EMPTY if cf is None else cf, f
        found, self._trig = trigger_step(
            cf,
            cfg.trigger_on,
            cfg.trigger_off,
            self._max_len,
            self._trigger_state(s),
            reaches_on=bool(reaches_on),
        )
        if found.size or self._trig.on >= 0 or self._open is not None or self._pending:
            out += self._track(found, cf, f, x, s)
        self._remember(f, x, s)
        self._n = s + m
        return cf, f

    def _trigger_state(self, s: int) -> TriggerState:
        """The hysteresis state at sample ``s``: quiet pieces leave it unchanged (nothing on,
        last sample below ``trigger_on``) but for its count, which is set here."""
        trig = self._trig
        return trig if trig.n == s else TriggerState(s, trig.above, trig.on, trig.after)

    def flush(self) -> list[Trigger]:
        """End the segment: report a trigger still on (closed at the last sample), then reset.

        Returns
        -------
        list of Trigger
            The triggers the end of the segment completed.
        """
        out = self._end_segment()
        self.reset()
        return out

    # -- internals ----------------------------------------------------------------------------

    def _time(self, index: int) -> float:
        return self._anchor_time + (index - self._anchor_index) / self._fs

    def _end_segment(self) -> list[Trigger]:
        if self._open is not None:
            self._open.off = self._n - 1
            self._pending.append(self._open)
            self._open = None
        empty = np.empty(0)
        out = []
        for item in self._pending:
            if not item.measured:
                self._measure(item, empty, empty, self._n)
            trigger = self._make(item)
            if trigger is not None:
                out.append(trigger)
        self.reset()
        return out

    def _track(
        self,
        found: NDArray[np.int64],
        cf: Float64Array,
        f: Float64Array,
        x: Raw,
        s: int,
    ) -> list[Trigger]:
        m = x.size
        for on, off in found.tolist():
            item = self._open or _Pending(on)  # the trigger on at the last call ends first
            self._open = None
            _peaks(item, cf, f, x, max(on, s) - s, off + 1 - s)
            item.off = off
            self._pending.append(item)
        if self._trig.on >= 0:
            if self._open is None:
                self._open = _Pending(self._trig.on)
            _peaks(self._open, cf, f, x, max(self._open.on, s) - s, m)
        end = s + m
        for waiting in (*self._pending, self._open):
            if waiting is not None and not waiting.measured and waiting.on + self._n_after < end:
                self._measure(waiting, f, x, s)
        out = []
        keep = []
        for item in self._pending:
            if item.measured:
                trigger = self._make(item)
                if trigger is not None:
                    out.append(trigger)
            else:
                keep.append(item)
        self._pending = keep
        return out

    def _measure(self, item: _Pending, f: Float64Array, x: Raw, s: int) -> None:
        on = item.on
        pre_f, pre_r = self._window(max(0, on - self._nlta), on, f, x, s)
        if pre_f.size:
            item.noise_rms = math.sqrt(float(np.dot(pre_f, pre_f)) / pre_f.size)
            item.raw_mean = float(np.add.reduce(pre_r)) / pre_r.size
        start = max(0, on - self._n_before)
        win_f, _ = self._window(start, min(s + x.size, on + self._n_after + 1), f, x, s)
        item.onset = start + aic_pick(win_f) if win_f.size >= 4 else on
        item.measured = True

    def _window(self, a: int, b: int, f: Float64Array, x: Raw, s: int) -> tuple[Float64Array, Raw]:
        """Filtered and raw samples ``a:b`` (segment indices, at most ``_capacity`` before
        ``s``) from the pieces kept and this piece (``f``, ``x``, starting at ``s``)."""
        a = max(a, s - self._capacity)
        if a >= s:
            return f[a - s : b - s], x[a - s : b - s]
        parts_f, parts_r = [], []
        for start, hf, hx in self._hist:
            lo, hi = max(a, start) - start, min(b, start + hf.size) - start
            if hi > lo:
                parts_f.append(hf[lo:hi])
                parts_r.append(hx[lo:hi])
        if b > s:
            parts_f.append(f[: b - s])
            parts_r.append(x[: b - s])
        if len(parts_f) == 1:
            return parts_f[0], parts_r[0]
        if not parts_f:
            return _EMPTY, _EMPTY
        return np.concatenate(parts_f), np.concatenate(parts_r, dtype=np.float64)

    def _remember(self, f: Float64Array, x: Raw, s: int) -> None:
        """Keep this piece for later windows: the filtered samples as they are (the chain
        made them), a copy of the raw ones (the caller's array may change). Pieces are
        dropped from the front once the others hold ``_capacity`` samples; a piece longer
        than that is kept in part."""
        k, hist = self._capacity, self._hist
        m = f.size
        if m >= k:
            hist.clear()
            hist.append((s + m - k, f[-k:].copy(), x[-k:].copy()))
            self._held = k
            return
        hist.append((s, f, x.copy()))
        held = self._held + m
        while held - hist[0][1].size >= k:
            held -= hist.popleft()[1].size
        self._held = held

    def _make(self, item: _Pending) -> Trigger | None:
        if (item.off - item.on) / self._fs < self._config.min_duration:
            return None
        snr = item.peak_filtered / item.noise_rms if item.noise_rms > 0 else math.inf
        amplitude = max(item.raw_max - item.raw_mean, item.raw_mean - item.raw_min)
        return Trigger(
            on_time=self._time(item.on),
            off_time=self._time(item.off),
            onset_time=self._time(item.onset),
            peak_ratio=item.peak_ratio,
            snr=snr,
            peak_amplitude=amplitude,
            on_index=item.on,
            off_index=item.off,
            onset_index=item.onset,
        )


_EMPTY: Float64Array = np.empty(0)
_EMPTY.flags.writeable = False

_per_thread = threading.local()


def _scratch() -> Float64Array:
    """Working space of the STA/LTA, one per thread (not per channel: 10,000 channels would
    hold 1.3 GB of it)."""
    found: Float64Array | None = getattr(_per_thread, "scratch", None)
    if found is None:
        found = _per_thread.scratch = np.empty((2, PIECE + 1))
    return found


def _samples(samples: ArrayLike) -> Raw:
    """1-D samples as given when integer (a digitizer's counts: converted piece by piece as
    the chain filters them, not all at once), else as contiguous float64."""
    a = np.asarray(samples)
    if a.ndim == 1 and a.dtype.kind in "iu":
        return np.ascontiguousarray(a)
    return _as_float_1d(a, "samples")


def _peaks(item: _Pending, cf: Float64Array, f: Float64Array, x: Raw, a: int, b: int) -> None:
    """Fold samples ``a:b`` of this piece into the trigger's running peaks."""
    if b <= a:
        return
    top, bottom = np.maximum.reduce, np.minimum.reduce
    item.peak_ratio = max(item.peak_ratio, float(top(cf[a:b])))
    seg = f[a:b]
    item.peak_filtered = max(item.peak_filtered, float(top(seg)), -float(bottom(seg)))
    raw = x[a:b]
    item.raw_max = max(item.raw_max, float(top(raw)))
    item.raw_min = min(item.raw_min, float(bottom(raw)))
