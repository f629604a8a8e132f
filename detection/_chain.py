"""The streaming detector: band-pass, STA/LTA and trigger hysteresis over records as they come,
with onsets refined on zero-delay data.

Segments, gaps and overlaps
---------------------------
Times come from the records: sample ``i`` of a segment is at the start time of the latest
record plus ``(i - index of its first sample) / sampling_rate``. A record that starts within
half a sample interval of the expected time continues the segment. Otherwise:

- a gap of up to ``max_gap`` seconds is *bridged*: the missing samples are filled with the
  straight line from the last sample to the record's first, and the chain goes on; a trigger
  whose LTA window or duration holds filled samples is marked ``bridged``;
- a longer gap, or a change of sampling rate, ends the segment; the next starts a warm-up of
  one LTA window during which nothing triggers;
- a record that overlaps what was received is cut to its new samples (a record holding none
  is dropped); NaN or infinite samples are dropped, and count as a gap.

Nothing in a record's values makes the detector raise.

The chain
---------
Spikes are masked (:mod:`detection._despike`; the end of a record from a possible spike too
near it to be judged waits for the next record), then: band-pass (the
segment's offset removed), STA/LTA, trigger hysteresis. The recursive LTA is seeded at the end
of the warm-up: an average started from zero holds, after one window, only 63 % of its
weight; divided by its weights' sum it is the exponentially weighted mean square of the
warm-up (bias-corrected), and does not start low and make the first live samples trigger.
For each trigger the onset is refined by the AIC on the raw samples around it filtered
forward and backward, then on them high-passed causally (:mod:`detection._onset`), with its
uncertainty and the first motion.

A trigger still on when a segment ends is reported then, closed at the segment's last
sample; ``reset`` drops it instead. A trigger is reported by the call that processes its end
(or its ``max_duration``), or a little later: the onset needs ``2 * sta + 0.5`` seconds of
data after the trigger-on time.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection._config import DetectorConfig
from detection._despike import Despiker
from detection._filter import _as_float_1d, design_bandpass, sosfilt_rows_inplace
from detection._history import History
from detection._onset import (
    Polarity,
    aic_onset,
    filtered,
    first_motion,
    high_pass_sos,
    refine,
    zero_phase_sos,
)
from detection._stalta import classic_step, recursive_step
from detection._trigger import TriggerState, trigger_step

__all__ = ["FeedResult", "StreamingDetector", "Trigger"]

PIECE = 8192
"""Longest run of samples the chain processes at once (64 KiB of float64 per array)."""
ONSET_PAD_S = 0.5
"""Seconds of raw samples either side of the onset window, for the zero-phase filter."""

Float64Array = NDArray[np.float64]
Raw = NDArray[np.float64] | NDArray[np.integer[Any]]
"""Samples as fed: integer counts, or float64."""


@dataclass(frozen=True)
class Trigger:
    """One detection on one channel.

    Attributes
    ----------
    on_time, off_time : float
        POSIX seconds of the first and the last triggered sample.
    onset_time : float
        POSIX seconds of the onset refined by the AIC picker on zero-phase filtered data.
    peak_ratio : float
        Largest STA/LTA during the trigger (for an S pick: the horizontals' energy ratio
        across its onset).
    snr : float
        Largest absolute filtered amplitude during the trigger over the RMS of the filtered
        data in the LTA window before it (the raw samples there filtered forward and back
        in the same band); ``inf`` if that RMS is zero.
    peak_amplitude : float
        Largest absolute raw value during the trigger minus the raw mean of the LTA window
        before it, in counts.
    on_index, off_index, onset_index : int
        Sample indices counted from the start of the continuous segment.
    onset_uncertainty : float
        Seconds: half the width of the AIC's minimum (at least one sample interval).
    polarity : {"positive", "negative", "undecidable"} or None
        The first motion after the onset (up is positive on a vertical channel); ``None``
        where it is not looked for (S picks).
    bridged : bool
        The trigger, or the LTA window before it, holds samples filled across a gap.
    phase : {"P", "S"} or None
        Set by a three-component picker; a single channel's detector leaves it ``None``.
    preliminary : bool
        Reported at trigger-on, before the trigger is measured: the onset is the trigger-on
        time, ``off_time`` equals it, the ratio is the trigger level, the amplitudes are 0.
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
    onset_uncertainty: float = 0.0
    polarity: Polarity | None = None
    bridged: bool = False
    phase: str | None = None
    preliminary: bool = False

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
        STA/LTA of each sample processed by the call (zero during warm-up): those fed, but
        for the end of a record held after a possible spike (see the module).
    filtered : ndarray of float64
        The bandpass-filtered samples processed by the call (offset removed).
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
    uncertainty: float = 0.0
    polarity: Polarity | None = None
    peak_ratio: float = -math.inf
    peak_filtered: float = 0.0
    raw_max: float = -math.inf
    raw_min: float = math.inf
    noise_rms: float = 0.0
    raw_mean: float = 0.0
    measured: bool = False


class StreamingDetector:
    """Detects triggers on one channel's samples, fed record by record.

    Parameters
    ----------
    config : DetectorConfig
        The settings.
    sampling_rate : float
        Samples per second of the channel.
    history : float
        Seconds of processed samples to keep at least, for :meth:`raw_window` (a
        horizontal channel's S search); the detector keeps what its own onsets need anyway.

    Raises
    ------
    ValueError
        If the settings do not fit the sampling rate (``freqmax`` at or above Nyquist, an STA
        window shorter than one sample): see :meth:`DetectorConfig.fitted`.

    Notes
    -----
    Feeding a segment in any pieces gives the same triggers as feeding it whole.
    ``stats`` counts, over the detector's life: ``bridged`` gaps, ``restarts`` (long gaps),
    ``overlaps`` (records cut), ``repeats`` (records holding nothing new), ``nonfinite``
    samples dropped and ``spikes`` (samples masked).
    """

    def __init__(self, config: DetectorConfig, sampling_rate: float, history: float = 0.0) -> None:
        self._config = config
        self._history_s = float(history)
        self.stats: Counter[str] = Counter()
        self.refine = True
        """Whether triggers' onsets, noise and first motion are measured; a sensor's
        horizontals, whose triggers are not reported, skip it (the trigger-on sample
        stands for the onset)."""
        self._onsets: list[float] = []  # onset times measured, not yet taken
        self._starts: list[float] = []  # trigger-on times, not yet taken
        self._keep_arrays = False  # what process() collects, across a restart too
        self._arrays: list[tuple[Float64Array, Float64Array]] = []
        self._configure(float(sampling_rate))
        self.reset()

    # -- set-up -------------------------------------------------------------------------------

    def _configure(self, sampling_rate: float) -> None:
        cfg = self._config
        if not (math.isfinite(sampling_rate) and sampling_rate > 0):
            raise ValueError(f"need a finite sampling_rate > 0, got sampling_rate={sampling_rate}")
        # copies: SciPy's sosfilt takes writable arrays only
        sos, sos_zp, sos_hp = (
            a.copy() for a in _designs(cfg.freqmin, cfg.freqmax, sampling_rate, cfg.corners)
        )
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
        self._sos_zp = sos_zp
        self._sos_hp = sos_hp
        self._nsta = nsta
        self._nlta = nlta
        self._max_len = round(cfg.max_duration * sampling_rate)
        self._max_gap = round(cfg.max_gap * sampling_rate)
        self._pre = max(2 * nsta, 4)  # the onset window: 2 STA windows before the trigger
        self._post = max(2 * nsta, 4)  # ... and after it
        self._pad = max(round(ONSET_PAD_S * sampling_rate), 4)
        self._n_after = self._post + self._pad
        need = max(nlta + self._pad, 2 * self._pre + self._pad) + self._n_after + 2
        self._history = History(max(need, round(self._history_s * sampling_rate)))
        self._despiker = Despiker(cfg.despike)

    def reset(self) -> None:
        """Forget all state, including triggers not yet reported (``stats`` are kept)."""
        self._n = 0  # samples processed in the segment
        self._received = 0  # samples taken in the segment (processed, held, filled)
        self._anchor_time = math.nan
        self._anchor_index = 0
        self._offset = 0.0
        self._zi = np.zeros((1, self._sos.shape[0], 2))
        self._rec_zi = np.zeros((1, 2, 2))
        self._w_last = 0.0
        # the classic STA/LTA's last LTA window of squares; the recursive one needs none
        self._squares = np.zeros(self._nlta if self._config.method == "classic" else 0)
        self._sta_sum = 0.0
        self._lta_sum = 0.0
        self._trig = TriggerState()
        self._history.reset()
        self._despiker.reset()
        self._bridged: list[tuple[int, int]] = []  # [a, b) of filled samples, oldest first
        self._open: _Pending | None = None
        self._pending: list[_Pending] = []
        self._seeded = False
        self._finished = False
        self._masked_seen = 0

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
        """Samples taken since the current continuous segment started (filled ones too)."""
        return self._received

    @property
    def next_time(self) -> float | None:
        """POSIX seconds expected for the next sample, or ``None`` before any data."""
        if self._received == 0:
            return None
        return self._time(self._received)

    @property
    def onset_delay(self) -> float:
        """Seconds of data after an onset, at most, before the detector has measured it (and
        :meth:`take_onsets` returns it): the onset window reaches back ``4 sta`` before its
        trigger, and measuring waits for ``2 sta + 0.5 s`` after."""
        return (2 * self._pre + self._n_after + 1) / self._fs

    @property
    def processed_time(self) -> float | None:
        """POSIX seconds of the last sample processed in the segment, or ``None``."""
        return self._time(self._n - 1) if self._n else None

    # -- feeding ------------------------------------------------------------------------------

    def feed(
        self, samples: ArrayLike, starttime: float, *, sampling_rate: float | None = None
    ) -> list[Trigger]:
        """Feed the next samples; return the triggers completed by them.

        Parameters
        ----------
        samples : array_like, 1-D
            Samples of any integer or float dtype (a record's worth, or a whole trace). NaN
            and infinite values are dropped (counted in ``stats["nonfinite"]``).
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
            If the samples are not a 1-D numeric array, ``starttime`` is not finite, or the
            settings do not fit a new sampling rate; the state is then unchanged.
        """
        return self._feed(samples, starttime, sampling_rate, keep_arrays=False)[0]

    def process(
        self, samples: ArrayLike, starttime: float, *, sampling_rate: float | None = None
    ) -> FeedResult:
        """As :meth:`feed`, also returning the STA/LTA and the filtered samples processed."""
        triggers, ratio, filtered_ = self._feed(samples, starttime, sampling_rate, keep_arrays=True)
        return FeedResult(tuple(triggers), ratio, filtered_)

    def flush(self) -> list[Trigger]:
        """End the segment: process what is held, report a trigger still on (closed at the
        last sample), then reset.

        Returns
        -------
        list of Trigger
            The triggers the end of the segment completed.
        """
        out = self._end_segment()
        self.reset()
        return out

    def finish(self) -> list[Trigger]:
        """End the segment as :meth:`flush` does, but keep what was processed readable
        (:meth:`raw_window`) until more samples are fed or :meth:`reset` is called."""
        out = self._end_segment()
        self._finished = True
        return out

    def take_starts(self) -> list[float]:
        """Trigger-on times (POSIX seconds) of the triggers that began since the last call:
        what an early warning can use at once, before the onset is measured and long before
        the trigger ends. A trigger reported later has the same ``on_time``; one dropped
        (shorter than ``min_duration``, or lost to a reset) is never reported."""
        found, self._starts = self._starts, []
        return found

    def take_onsets(self) -> list[float]:
        """Onset times (POSIX seconds) of the triggers measured since the last call, before the
        triggers themselves are reported (which waits for their end)."""
        found, self._onsets = self._onsets, []
        return found

    def raw_window(self, start: float, end: float) -> tuple[float, Float64Array] | None:
        """The processed raw samples (spikes masked) of the current segment from the one
        nearest ``start`` to the one nearest ``end`` that are still kept: the time of the
        first and the values; ``None`` if none is."""
        if self._n == 0:
            return None
        a = max(0, round(self._index(start)))
        b = min(self._n, round(self._index(end)) + 1)
        first, raw = self._history.get(a, b)
        if raw.size == 0:
            return None
        return self._time(first), raw

    def bridged_within(self, start: float, end: float) -> bool:
        """Whether samples timed within ``[start, end]`` were filled across a gap."""
        a, b = self._index(start), self._index(end)
        return any(lo <= b and hi - 1 >= a for lo, hi in self._bridged)

    def index_at(self, time: float) -> int:
        """The segment index of the sample nearest ``time``."""
        return round(self._index(time))

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
        out: list[Trigger] = []
        if sampling_rate is not None and float(sampling_rate) != self._fs:
            StreamingDetector(self._config, float(sampling_rate))  # raises if it does not fit
            out += self._end_segment()
            self._configure(float(sampling_rate))
            self.reset()
        self._keep_arrays = keep_arrays
        self._arrays = []
        if x.dtype.kind == "f" and x.size and not math.isfinite(float(np.add.reduce(x))):
            good = np.isfinite(x)
            self.stats["nonfinite"] += int(x.size - np.count_nonzero(good))
            # Each run of finite samples on its own: the dropped ones make gaps.
            edges = np.flatnonzero(np.diff(np.concatenate(([0], good.view(np.int8), [0]))))
            for a, b in edges.reshape(-1, 2).tolist():
                self._take(x[a:b], t0 + a / self._fs, out)
        else:
            self._take(x, t0, out)
        self._keep_arrays = False
        arrays, self._arrays = self._arrays, []
        if not keep_arrays:
            return out, _EMPTY, _EMPTY
        if not arrays:
            return out, np.empty(0), np.empty(0)
        if len(arrays) == 1:
            return out, arrays[0][0], arrays[0][1]
        return out, np.concatenate([r for r, _ in arrays]), np.concatenate([f for _, f in arrays])

    # -- a segment's samples ------------------------------------------------------------------

    def _take(self, x: Raw, t0: float, out: list[Trigger]) -> None:
        """The next samples as received: continue, bridge, cut or restart the segment."""
        if x.size == 0:
            return
        if self._finished:
            self.reset()
        if self._received:
            late = (t0 - self._time(self._received)) * self._fs
            if abs(late) > 0.5:
                k = round(late)
                if k > 0 and self._max_gap > 0 and k <= self._max_gap:
                    last = self._despiker.last
                    start = x[0] if last is None else last
                    filler = start + (x[0] - start) * np.arange(1, k + 1) / (k + 1)
                    self._bridged.append((self._received, self._received + k))
                    self.stats["bridged"] += 1
                    self._push(filler, out)
                elif k > 0:
                    self.stats["restarts"] += 1
                    out += self._end_segment()
                    self.reset()
                else:
                    if -k >= x.size:
                        self.stats["repeats"] += 1
                        return
                    self.stats["overlaps"] += 1
                    x = x[-k:]
                    t0 += -k / self._fs
        if self._received == 0:
            self._offset = float(x[0])
        self._anchor_time, self._anchor_index = t0, self._received
        self._push(x, out)

    def _push(self, x: Raw, out: list[Trigger]) -> None:
        self._received += x.size
        ready = self._despiker.push(x)
        if ready.size:
            self._process(ready, out)

    def _process(self, x: Raw, out: list[Trigger]) -> None:
        """Run the chain over the next samples to process (spikes masked)."""
        masked = self._despiker.masked
        if masked != self._masked_seen:
            self.stats["spikes"] += masked - self._masked_seen
            self._masked_seen = masked
        seeding = self._config.method == "recursive"
        pos = 0
        while pos < x.size:
            s = self._n
            if seeding and not self._seeded and s >= self._nlta:
                self._seed()
            size = min(PIECE, x.size - pos)
            if seeding and not self._seeded and s < self._nlta < s + size:
                size = self._nlta - s  # the warm-up ends here: the LTA is seeded between
            self._piece(x[pos : pos + size], out)
            pos += size

    def _seed(self) -> None:
        """At the end of the warm-up, divide the recursive LTA by the sum of its weights
        (``1 - (1 - 1/nlta)**(nlta - 1)``, the recursion starting at the second sample): the
        weighted mean square of the warm-up's filtered samples. The STA stays as it is."""
        self._seeded = True
        c_s, c_l = 1.0 / self._nsta, 1.0 / self._nlta
        p_s, p_l = 1.0 - c_s, 1.0 - c_l
        zi = self._rec_zi
        y1 = float(zi[0, 0, 0]) / p_s  # the STA's accumulator, sta / c_s
        w = self._w_last
        before = (w - y1) / p_l  # the cascade's output one sample earlier
        lta = c_l * (w - p_s * before) / (1.0 - p_l ** (self._nlta - 1))
        # sta = c_s (w - p_l w'), lta = c_l (w - p_s w'): the cascade's last output w for
        # the STA kept and the LTA given.
        w = (p_l * lta / c_l - p_s * y1) / (p_l - p_s)
        zi[0, 1, 0] = p_l * w
        self._w_last = w

    def _piece(self, x: Raw, out: list[Trigger]) -> None:
        """Run the chain over the next samples of the segment; triggers go to ``out``.

        Without arrays kept, the STA/LTA of a quiet piece (no trigger on, waiting or
        starting) may be left uncomputed.
        """
        s, m = self._n, x.size
        rows = np.empty((1, m))
        np.subtract(x, self._offset, out=rows[0])
        sosfilt_rows_inplace(self._sos, rows, self._zi)
        f = rows[0]
        cfg, trig = self._config, self._trig
        keep_arrays = self._keep_arrays
        idle = trig.on < 0 and self._open is None and not self._pending
        cf: Float64Array | None
        if cfg.method == "recursive":
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
        if keep_arrays and cf is not None:
            self._arrays.append((cf, f))
        reaches_on = cf is not None and idle and np.maximum.reduce(cf) >= cfg.trigger_on
        if cf is None or (idle and not reaches_on):
            # Nothing on and nothing starts (the common case, record after record).
            if trig.above:
                self._trig = TriggerState(s + m, False, -1, trig.after)
            # else the state stays as it is but for its sample count: see _trigger_state
            self._keep(f, x, s)
            return
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
        self._keep(f, x, s)

    def _keep(self, f: Float64Array, x: Raw, s: int) -> None:
        self._history.append(x)
        self._n = s + f.size
        if self._bridged and self._bridged[0][1] < self._n - self._history.capacity:
            self._bridged = [r for r in self._bridged if r[1] >= self._n - self._history.capacity]

    def _trigger_state(self, s: int) -> TriggerState:
        """The hysteresis state at sample ``s``: quiet pieces leave it unchanged (nothing on,
        last sample below ``trigger_on``) but for its count, which is set here."""
        trig = self._trig
        return trig if trig.n == s else TriggerState(s, trig.above, trig.on, trig.after)

    # -- internals ----------------------------------------------------------------------------

    def _time(self, index: int) -> float:
        return self._anchor_time + (index - self._anchor_index) / self._fs

    def _index(self, time: float) -> float:
        return self._anchor_index + (time - self._anchor_time) * self._fs

    def _end_segment(self) -> list[Trigger]:
        """Process what is held, close what is open, report what is pending."""
        out: list[Trigger] = []
        if self._received:
            rest = self._despiker.push(np.empty(0), final=True)
            if rest.size:
                self._process(rest, out)
        if self._open is not None:
            self._open.off = self._n - 1
            self._pending.append(self._open)
            self._open = None
        for item in self._pending:
            if not item.measured:
                self._measure(item, _EMPTY, self._n)
            trigger = self._make(item)
            if trigger is not None:
                out.append(trigger)
        self._pending = []
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
            if self._open is None:
                self._starts.append(self._time(on))
            item = self._open or _Pending(on)  # the trigger on at the last call ends first
            self._open = None
            _peaks(item, cf, f, x, max(on, s) - s, off + 1 - s)
            item.off = off
            self._pending.append(item)
        if self._trig.on >= 0:
            if self._open is None:
                self._open = _Pending(self._trig.on)
                self._starts.append(self._time(self._trig.on))
            _peaks(self._open, cf, f, x, max(self._open.on, s) - s, m)
        end = s + m
        for waiting in (*self._pending, self._open):
            if waiting is not None and not waiting.measured and waiting.on + self._n_after < end:
                self._measure(waiting, x, s)
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

    def _measure(self, item: _Pending, x: Raw, s: int) -> None:
        on = item.on
        if not self.refine:
            item.onset, item.uncertainty, item.measured = on, self._pre / self._fs, True
            return
        first, raw = self._window(on - self._nlta - self._pad, on, x, s)
        noise = on - self._nlta - first  # where the LTA window starts in ``raw``
        if raw.size and noise < raw.size:
            # the noise on the zero-phase filtered raw samples (the causal band-pass's output
            # is not kept): the same band, no delay
            zp = filtered(raw, self._sos_zp, raw.size)[max(0, noise) :]
            item.noise_rms = math.sqrt(float(np.dot(zp, zp)) / zp.size)
            kept = raw[max(0, noise) :]
            item.raw_mean = float(np.add.reduce(kept)) / kept.size
        item.onset, item.uncertainty, item.polarity = self._onset(on, x, s)
        item.measured = True
        self._onsets.append(self._time(item.onset))

    def _onset(self, on: int, x: Raw, s: int) -> tuple[int, float, Polarity]:
        """The onset near trigger-on sample ``on``: AIC on the raw samples from ``2 sta``
        before to ``2 sta`` after it, filtered forward and backward. A minimum at the
        window's start is looked for again in a window twice as long before; found there too
        (or with no data to look further), the trigger-on sample stands, with the window's
        length as its uncertainty."""
        for before in (self._pre, 2 * self._pre):
            first, raw = self._window(on - before - self._pad, on + self._post + self._pad, x, s)
            lo = max(on - before, first) - first
            hi = min(on + self._post, first + raw.size) - first
            if hi - lo < 8 or on - first < 2:
                break
            zp = filtered(raw, self._sos_zp, on - first)
            onset = aic_onset(zp, lo, hi, self._fs)
            if not onset.at_edge:
                index = refine([raw], onset.index, lo, self._sos_hp, self._fs)
                polarity = first_motion(raw, index, self._fs)
                return first + index, onset.uncertainty, polarity
            if first > on - before - self._pad:
                break  # the data go no further back
        return on, self._pre / self._fs, "undecidable"

    def _window(self, a: int, b: int, x: Raw, s: int) -> tuple[int, Float64Array]:
        """Raw samples ``a:b`` of the segment, cut to what exists: the index of the first and
        the values, from those kept and the piece being processed (``x``, starting at ``s``).
        The piece's values are rounded as the history keeps them, so a window holds the same
        values however the data were cut into records."""
        a = max(a, 0)
        first, kept = self._history.get(a, min(b, s))
        if b <= s or x.size == 0:
            return first, kept
        lo = max(a, s) - s
        piece = _rounded(x[lo : b - s])
        if kept.size == 0:
            return s + lo, piece
        return first, np.concatenate((kept, piece))

    def _make(self, item: _Pending) -> Trigger | None:
        if (item.off - item.on) / self._fs < self._config.min_duration:
            return None
        snr = item.peak_filtered / item.noise_rms if item.noise_rms > 0 else math.inf
        amplitude = max(item.raw_max - item.raw_mean, item.raw_mean - item.raw_min)
        lo = item.on - self._nlta
        bridged = any(a <= item.off and b > lo for a, b in self._bridged)
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
            onset_uncertainty=item.uncertainty,
            polarity=item.polarity,
            bridged=bridged,
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


def _rounded(a: Raw) -> Float64Array:
    """Values as :class:`~detection._history.History` keeps them (float32), as float64."""
    out: Float64Array = a.astype(np.float32).astype(np.float64)
    return out


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


@functools.lru_cache(maxsize=64)
def _designs(
    freqmin: float, freqmax: float, sampling_rate: float, corners: int
) -> tuple[Float64Array, Float64Array, Float64Array]:
    """The chain's band-pass, zero-phase band-pass and onset high-pass, designed once per
    setting (never written: callers copy): a network of thousands of channels starts without
    designing each again."""
    return (
        design_bandpass(freqmin, freqmax, sampling_rate, corners),
        zero_phase_sos(freqmin, freqmax, sampling_rate, corners),
        high_pass_sos(freqmin, sampling_rate),
    )
