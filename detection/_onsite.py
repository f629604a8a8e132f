"""On-site early warning at one station: Pd, tau_c and a magnitude from the first seconds of P,
and the running peak ground motion, growing with each record.

The chain (Kanamori 2005; Wu & Kanamori 2005), all causal and carried across records, so that
feeding a stream in pieces equals feeding it whole:

- counts are divided by the channel's gain (counts per m/s or per m/s^2: the response's
  sensitivity) into velocity or acceleration;
- acceleration is high-passed and integrated to velocity; velocity is differentiated to
  acceleration (backward difference) for the PGA;
- the velocity is high-passed (Butterworth, ``highpass_hz`` = 0.075 Hz, ``corners`` poles) -
  PGV is taken from it - then high-passed again and integrated (trapezoid) to displacement:
  the literature's "integrate, then high-pass at 0.075 Hz" in the other order, which is the
  same linear filter and gives the velocity whose integral the displacement exactly is;
- in the window from the P onset to ``window_s`` (3 s) after it: ``Pd`` is the largest
  absolute displacement, and ``tau_c = 2 pi / sqrt(r)`` with
  ``r = sum(v**2) / sum(u**2)`` (Kanamori 2005);
- PGA and PGV since the onset, and the instrumental intensity (Worden et al. 2012) of the
  larger.

Magnitudes (coefficients in :class:`OnsiteConfig`, replace them with a regional fit):

- from tau_c: ``log10 tau_c = 0.296 M - 1.716`` (Wu & Kanamori 2005, BSSA 95, 1181; southern
  California and Taiwan), spread 0.41 magnitude units as reported by Wu & Kanamori (2008,
  Sensors 8, 1);
- from Pd and the hypocentral distance R (km), Pd in cm: ``log10 Pd = -3.463 + 0.729 M -
  1.374 log10 R`` (Wu & Zhao 2006, BSSA 96, 1965; southern California), spread 0.31;
- both: their inverse-variance mean, and its spread.

Both saturate: three seconds of P see the start of a rupture that lasts longer than that in
quakes above about M 6.5, so early estimates of large quakes are low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import butter, lfilter, sosfilt, sosfilt_zi

from detection._motion import mmi_from_pga, mmi_from_pgv

__all__ = [
    "OnsiteConfig",
    "OnsiteMeter",
    "OnsiteReading",
    "SensorKind",
    "combined_magnitude",
    "magnitude_from_pd",
    "magnitude_from_tau_c",
]

Float64Array = NDArray[np.float64]
SensorKind = Literal["velocity", "acceleration"]


@dataclass(frozen=True)
class OnsiteConfig:
    """Settings of the on-site measurement.

    Attributes
    ----------
    highpass_hz : float
        Corner of each high-pass (0.075 Hz: Wu & Kanamori 2005).
    corners : int
        Poles of each Butterworth high-pass.
    window_s : float
        Seconds of P measured (tau_0 = 3 s in the literature).
    min_window_s : float
        Seconds of P needed before a magnitude is given.
    keep_s : float
        Seconds of the processed series kept, so that a window can start at an onset that
        was found after the records holding it had been fed.
    tau_c_slope, tau_c_intercept, tau_c_sigma : float
        ``log10 tau_c = slope * M + intercept``, and the spread of M.
    pd_intercept, pd_magnitude, pd_distance, pd_sigma : float
        ``log10 Pd[cm] = intercept + magnitude * M + distance * log10 R[km]``, spread of M.
    spike_mads : float
        A run of at most 3 samples farther than this many median absolute deviations from
        the record's median, between ordinary samples, is a spike: replaced by a straight
        line before the chain (a telemetry spike would ring through the high-passes as a
        long-period displacement, a large Pd and tau_c). A P onset grows over more samples.
    """

    highpass_hz: float = 0.075
    corners: int = 2
    window_s: float = 3.0
    min_window_s: float = 1.0
    keep_s: float = 30.0
    tau_c_slope: float = 0.296
    tau_c_intercept: float = -1.716
    tau_c_sigma: float = 0.41
    pd_intercept: float = -3.463
    pd_magnitude: float = 0.729
    pd_distance: float = -1.374
    pd_sigma: float = 0.31
    spike_mads: float = 30.0

    def __post_init__(self) -> None:
        if not (self.highpass_hz > 0 and self.corners >= 1):
            raise ValueError(
                f"need highpass_hz > 0 and corners >= 1, got highpass_hz={self.highpass_hz}, "
                f"corners={self.corners}"
            )
        if not (0 < self.min_window_s <= self.window_s < self.keep_s):
            raise ValueError(
                "need 0 < min_window_s <= window_s < keep_s, got "
                f"min_window_s={self.min_window_s}, window_s={self.window_s}, keep_s={self.keep_s}"
            )
        if self.tau_c_slope == 0 or self.pd_magnitude == 0:
            raise ValueError(
                "the magnitude coefficients tau_c_slope and pd_magnitude must not be 0"
            )


@dataclass(frozen=True)
class OnsiteReading:
    """What one channel measured from a P onset on.

    Attributes
    ----------
    onset_time : float
        POSIX seconds of the P onset.
    seconds : float
        Seconds of P in the Pd/tau_c window so far (at most ``window_s``).
    pd_m : float
        Peak displacement in the window, metres.
    tau_c_s : float
        Characteristic period, seconds (NaN while the window holds no displacement).
    pga_m_s2, pgv_m_s : float
        Largest absolute acceleration and velocity since the onset (not only in the window).
    mmi : float
        Instrumental intensity of the PGA and PGV (Worden et al. 2012), the larger.
    magnitude, magnitude_sigma : float
        The estimate (NaN before ``min_window_s`` of P) and its spread.
    """

    onset_time: float
    seconds: float
    pd_m: float
    tau_c_s: float
    pga_m_s2: float
    pgv_m_s: float
    mmi: float
    magnitude: float
    magnitude_sigma: float


def magnitude_from_tau_c(tau_c_s: float, config: OnsiteConfig = OnsiteConfig()) -> float:
    """M from tau_c (seconds): ``(log10 tau_c - intercept) / slope``; NaN if tau_c <= 0."""
    if not (tau_c_s > 0 and math.isfinite(tau_c_s)):
        return math.nan
    return (math.log10(tau_c_s) - config.tau_c_intercept) / config.tau_c_slope


def magnitude_from_pd(
    pd_m: float, distance_km: float, config: OnsiteConfig = OnsiteConfig()
) -> float:
    """M from Pd (metres) at hypocentral distance ``distance_km`` (at least 1 km); NaN if
    Pd <= 0."""
    if not (pd_m > 0 and math.isfinite(pd_m)):
        return math.nan
    log_pd_cm = math.log10(pd_m * 100.0)
    r = max(float(distance_km), 1.0)
    return (
        log_pd_cm - config.pd_intercept - config.pd_distance * math.log10(r)
    ) / config.pd_magnitude


def combined_magnitude(estimates: list[tuple[float, float]]) -> tuple[float, float]:
    """Inverse-variance mean of ``(M, sigma)`` pairs (NaN ones left out) and its sigma;
    ``(nan, nan)`` if none is left."""
    good = [(m, s) for m, s in estimates if math.isfinite(m) and s > 0]
    if not good:
        return math.nan, math.nan
    weights = [1.0 / (s * s) for _, s in good]
    total = sum(weights)
    mean = sum(w * m for w, (m, _) in zip(weights, good, strict=True)) / total
    return mean, 1.0 / math.sqrt(total)


class _Series:
    """The last ``capacity`` samples of some processed series, with absolute indices."""

    def __init__(self, rows: int, capacity: int) -> None:
        self.capacity = capacity
        self.data = np.zeros((rows, 0))
        self.first = 0  # absolute index of data[:, 0]

    def append(self, block: Float64Array) -> None:
        data = np.concatenate((self.data, block), axis=1) if self.data.size else block
        extra = data.shape[1] - self.capacity
        if extra > 0:
            data = data[:, extra:]
            self.first += extra
        self.data = data

    def get(self, a: int, b: int) -> Float64Array:
        lo = max(a, self.first) - self.first
        hi = max(lo, min(b, self.first + self.data.shape[1]) - self.first)
        return self.data[:, lo:hi]


class OnsiteMeter:
    """One channel's on-site measurement, fed record by record.

    Parameters
    ----------
    sampling_rate : float
        Samples per second.
    kind : {"velocity", "acceleration"}
        What the channel records (a seismometer's ``HH?``, an accelerometer's ``HN?``).
    gain : float
        Counts per m/s (velocity) or per m/s^2 (acceleration).
    config : OnsiteConfig, optional

    Notes
    -----
    Records must follow each other; one that does not start where the last ended (half a
    sample off) restarts the chain, and any open window with it. The high-passes start from
    the steady state of the first sample, so an offset does not ring through them.
    """

    def __init__(
        self,
        sampling_rate: float,
        *,
        kind: SensorKind,
        gain: float = 1.0,
        config: OnsiteConfig | None = None,
    ) -> None:
        if not (math.isfinite(sampling_rate) and sampling_rate > 0):
            raise ValueError(f"need a finite sampling_rate > 0, got {sampling_rate}")
        if kind not in ("velocity", "acceleration"):
            raise ValueError(f"kind must be 'velocity' or 'acceleration', got {kind!r}")
        if not (math.isfinite(gain) and gain != 0):
            raise ValueError(f"need a finite, non-zero gain, got gain={gain}")
        self._config = config = config or OnsiteConfig()
        if config.highpass_hz >= sampling_rate / 2:
            raise ValueError(
                f"highpass_hz={config.highpass_hz} is not below Nyquist ({sampling_rate / 2} Hz)"
            )
        self._fs = float(sampling_rate)
        self._kind: SensorKind = kind
        self._gain = float(gain)
        self._sos: Float64Array = butter(
            config.corners, config.highpass_hz, "highpass", fs=self._fs, output="sos"
        )
        self._series = _Series(4, round(config.keep_s * self._fs))
        self.reset()

    @property
    def kind(self) -> SensorKind:
        """What the channel records."""
        return self._kind

    def reset(self) -> None:
        """Forget the stream and any open window."""
        self._n = 0
        self._t0 = math.nan  # time of sample 0 of the segment
        sections = self._sos.shape[0]
        self._zi_in = np.zeros((sections, 2))  # the first high-pass (of what is recorded)
        self._zi_v = np.zeros((sections, 2))  # velocity -> the second high-pass
        self._int_v = np.zeros(1)  # acceleration -> velocity
        self._int_d = np.zeros(1)  # velocity -> displacement
        self._last = 0.0  # last velocity sample (the differentiator)
        self._series = _Series(4, self._series.capacity)
        self._onset: float | None = None
        self._onset_index = 0
        self._peaks = [0.0, 0.0]  # pga, pgv since the onset, up to the samples processed
        self._peaked_to = 0
        self._window: tuple[float, float, float] | None = None  # seconds, Pd, tau_c

    def feed(self, samples: ArrayLike, starttime: float) -> None:
        """Process the next samples (counts, any numeric dtype) starting at ``starttime``
        (POSIX seconds)."""
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"samples must be 1-D, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("samples must be finite")
        if x.size == 0:
            return
        if self._n and abs((starttime - self._time(self._n)) * self._fs) > 0.5:
            self.reset()
        y = _despiked(x, self._config.spike_mads) / self._gain
        if self._n == 0:
            self._t0 = float(starttime)
            self._zi_in = sosfilt_zi(self._sos) * y[0]
            self._last = float(y[0])
        first, self._zi_in = sosfilt(self._sos, y, zi=self._zi_in)
        dt = 1.0 / self._fs
        if self._kind == "acceleration":
            acc = first
            velocity, self._int_v = _integrate(acc, dt, self._int_v)
        else:
            velocity = first  # the velocity high-passed once
            acc = np.diff(y, prepend=self._last) * self._fs
            self._last = float(y[-1])
        if self._kind == "acceleration":
            # integrated acceleration drifts: the velocity gets a high-pass of its own
            velocity, self._zi_v = sosfilt(self._sos, velocity, zi=self._zi_v)
            w = velocity
        else:
            w, self._zi_v = sosfilt(self._sos, velocity, zi=self._zi_v)
        displacement, self._int_d = _integrate(w, dt, self._int_d)
        self._series.append(np.vstack((acc, velocity, w, displacement)))
        self._n += x.size

    @property
    def fed(self) -> bool:
        """Whether the current segment has data (a window can be started)."""
        return self._n > 0

    def start(self, onset_time: float) -> None:
        """Measure from a P onset (POSIX seconds) on; it may lie in the data fed already.

        Raises
        ------
        ValueError
            If nothing has been fed since the chain (re)started.
        """
        if not self._n:
            raise ValueError("feed the meter before starting a window: it has no data")
        self._onset = float(onset_time)
        self._onset_index = max(0, math.ceil((onset_time - self._t0) * self._fs - 1e-9))
        self._peaks = [0.0, 0.0]
        self._peaked_to = self._onset_index
        self._window = None

    def stop(self) -> None:
        """Close the window (the arrival is over)."""
        self._onset = None

    @property
    def sampling_rate(self) -> float:
        """Samples per second."""
        return self._fs

    @property
    def config(self) -> OnsiteConfig:
        return self._config

    @property
    def end_time(self) -> float:
        """POSIX seconds just past the last sample fed (NaN before any)."""
        return self._time(self._n) if self._n else math.nan

    def acceleration(self, start: float, end: float) -> tuple[float, Float64Array]:
        """The acceleration (m/s^2; a seismometer's differentiated) of the samples kept whose
        times lie in ``[start, end)``: the time of the first, and the samples (a copy; none
        if nothing kept lies there)."""
        if not self._n:
            return math.nan, np.zeros(0)
        a = max(self._series.first, math.ceil((start - self._t0) * self._fs - 1e-9))
        b = min(self._n, math.ceil((end - self._t0) * self._fs - 1e-9))
        block = self._series.get(a, max(a, b))
        return self._time(a), block[0].copy()

    @property
    def active(self) -> bool:
        """Whether a window is open."""
        return self._onset is not None

    def reading(self, distance_km: float | None = None) -> OnsiteReading | None:
        """What is measured so far from the onset, or ``None`` without an open window or data
        after the onset. ``distance_km``: the hypocentral distance, if known, for the Pd
        magnitude (else tau_c's alone)."""
        if self._onset is None or self._n <= self._onset_index:
            return None
        cfg = self._config
        a = self._onset_index
        if a >= self._series.first:  # the window's samples are still kept
            end = min(self._n, a + round(cfg.window_s * self._fs))
            block = self._series.get(a, end)
            if block.shape[1] == 0:
                return None
            w, d = block[2], block[3]
            sum_d = float(np.dot(d, d))
            self._window = (
                block.shape[1] / self._fs,
                float(np.max(np.abs(d))),
                2 * math.pi / math.sqrt(float(np.dot(w, w)) / sum_d) if sum_d > 0 else math.nan,
            )
        if self._window is None:  # the onset was older than the samples kept
            return None
        # ``keep_s`` after the onset its first samples are dropped: the window's measurement
        # stays as it was when they were there
        seconds, pd, tau_c = self._window
        later = self._series.get(max(self._peaked_to, a), self._n)
        if later.shape[1]:
            self._peaks[0] = max(self._peaks[0], float(np.max(np.abs(later[0]))))
            self._peaks[1] = max(self._peaks[1], float(np.max(np.abs(later[1]))))
            self._peaked_to = self._n
        pga, pgv = self._peaks
        mmi = max(mmi_from_pga(pga * 100.0), mmi_from_pgv(pgv * 100.0))
        magnitude = sigma = math.nan
        if seconds + 0.5 / self._fs >= cfg.min_window_s:
            estimates = [(magnitude_from_tau_c(tau_c, cfg), cfg.tau_c_sigma)]
            if distance_km is not None:
                estimates.append((magnitude_from_pd(pd, distance_km, cfg), cfg.pd_sigma))
            magnitude, sigma = combined_magnitude(estimates)
        return OnsiteReading(
            onset_time=self._onset,
            seconds=seconds,
            pd_m=pd,
            tau_c_s=tau_c,
            pga_m_s2=pga,
            pgv_m_s=pgv,
            mmi=mmi,
            magnitude=magnitude,
            magnitude_sigma=sigma,
        )

    def _time(self, index: int) -> float:
        return self._t0 + index / self._fs


def _despiked(x: Float64Array, mads: float) -> Float64Array:
    """The record with runs of at most 3 outlying samples (see ``spike_mads``) replaced by a
    straight line between their neighbours."""
    if x.size < 8:
        return x
    median = float(np.median(x))
    spread = float(np.median(np.abs(x - median)))
    if spread == 0.0:
        return x
    outlying = np.abs(x - median) > mads * spread
    if not outlying.any():
        return x
    edges = np.flatnonzero(np.diff(np.concatenate(([0], outlying.view(np.int8), [0]))))
    out = x.copy()
    for a, b in edges.reshape(-1, 2).tolist():
        if b - a <= 3 and a > 0 and b < x.size:
            out[a:b] = np.linspace(x[a - 1], x[b], b - a + 2)[1:-1]
    return out


def _integrate(x: Float64Array, dt: float, zi: Float64Array) -> tuple[Float64Array, Any]:
    """Trapezoid integration ``y[n] = y[n-1] + dt (x[n] + x[n-1]) / 2`` with carried state
    (zero at the start: the integral from the first sample)."""
    y, zf = lfilter([dt / 2, dt / 2], [1.0, -1.0], x, zi=zi)
    return y, zf
