"""A channel's noise level against Peterson's models (NLNM, NHNM), measured now and then.

Every ``interval_s`` the meter keeps the next ``segment_s`` seconds of contiguous data, then
computes one Welch PSD of it in ground acceleration (dB re 1 (m/s²)²/Hz) and compares it
with the models at the same periods. The PSD is the median of its 10-s windows, so that an
earthquake or a glitch in a few of them does not read as noise. The cost is one PSD per
channel every few minutes, not per record. A gap while collecting starts the segment again.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from obspy.signal.spectral_estimation import get_nhnm, get_nlnm
from scipy.signal import welch

Quantity = Literal["velocity", "acceleration"]
FloatArray = npt.NDArray[np.float64]


@lru_cache(maxsize=1)
def _models() -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(periods, NLNM dB) and (periods, NHNM dB), periods ascending (ObsPy gives them
    descending, which ``np.interp`` would silently misread)."""
    lp, ldb = get_nlnm()
    hp, hdb = get_nhnm()
    lo, ho = np.argsort(lp), np.argsort(hp)
    return lp[lo], ldb[lo], hp[ho], hdb[ho]


def noise_levels(
    data: FloatArray,
    sampling_rate: float,
    sensitivity: float,
    quantity: Quantity,
    band: tuple[float, float],
) -> dict[str, float | None]:
    """Noise of ``data`` (counts) relative to the models.

    Returns ``noise_db_above_nlnm`` and ``noise_db_above_nhnm`` (medians over ``band``, Hz;
    negative below the model), and over all periods the
    models cover below a third of the sampling rate, ``noise_pct_above_nhnm`` and
    ``noise_pct_below_nlnm``.
    """
    # Windows of about 10 s, and their median rather than their mean: an earthquake or a
    # glitch in a few windows of the segment does not read as noise.
    nperseg = min(len(data), int(2 ** np.floor(np.log2(sampling_rate * 10))))
    # One linear trend off the whole segment, then only means per Welch segment: half the
    # cost of a least-squares detrend per segment, the same levels for ambient noise.
    # The least-squares line in closed form (np.polyfit's SVD cost a fifth of the PSD).
    n = len(data)
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    mean = float(np.add.reduce(data)) / n
    slope = float(np.dot(t, data)) / (n * (n * n - 1) / 12) if n > 1 else 0.0
    flat = (data - (slope * t + mean)) / sensitivity
    freqs, psd = welch(
        flat, fs=sampling_rate, nperseg=nperseg, detrend="constant", average="median"
    )
    keep = (freqs > 0) & (freqs < sampling_rate / 3)
    freqs, psd = freqs[keep], psd[keep]
    if quantity == "velocity":
        psd = psd * (2 * np.pi * freqs) ** 2
    db = 10 * np.log10(np.maximum(psd, 1e-30))  # a flat line reads -300 dB, not -inf
    lp, ldb, hp, hdb = _models()
    periods = 1 / freqs
    covered = (periods >= lp[0]) & (periods <= lp[-1])
    low = np.interp(periods, lp, ldb)
    high = np.interp(periods, hp, hdb)
    in_band = covered & (freqs >= band[0]) & (freqs <= band[1])
    return {
        "noise_db_above_nlnm": float(np.median((db - low)[in_band])) if in_band.any() else None,
        "noise_db_above_nhnm": float(np.median((db - high)[in_band])) if in_band.any() else None,
        "noise_pct_above_nhnm": float(100 * np.mean(db[covered] > high[covered]))
        if covered.any()
        else 0.0,
        "noise_pct_below_nlnm": float(100 * np.mean(db[covered] < low[covered]))
        if covered.any()
        else 0.0,
    }


class NoiseMeter:
    """Collects a segment every ``interval_s`` and keeps the latest levels in ``latest``."""

    def __init__(
        self,
        sampling_rate: float,
        sensitivity: float,
        quantity: Quantity,
        *,
        band: tuple[float, float] = (1.0, 5.0),
        interval_s: float = 600.0,
        segment_s: float = 60.0,
        phase: float = 0.0,
    ) -> None:
        if sensitivity <= 0 or sampling_rate <= 0:
            raise ValueError(
                f"need sensitivity > 0 and sampling_rate > 0, got {sensitivity}, {sampling_rate}"
            )
        self.sampling_rate = sampling_rate
        self.sensitivity = sensitivity
        self.quantity: Quantity = quantity
        self.band = band
        self.interval_s = interval_s
        self._wanted = round(segment_s * sampling_rate)
        if not 0.0 <= phase < 1.0:
            raise ValueError(f"need 0 <= phase < 1, got {phase}")
        self._phase = phase
        self._due: float | None = None  # collect from the first record starting at or after
        self._parts: list[FloatArray] = []
        self._have = 0
        self._expected: float | None = None
        self.latest: dict[str, float | None] | None = None

    def add(self, starttime: float, data: FloatArray) -> None:
        if self._due is None and self._phase:
            # Channels started together measure at different times (``phase`` of the
            # interval apart), not all at once: a segment is held while it is collected.
            self._due = starttime + self._phase * self.interval_s
        if self._due is not None and starttime < self._due:
            return
        dt = 1.0 / self.sampling_rate
        if self._expected is not None and abs(starttime - self._expected) > 0.5 * dt:
            self._parts, self._have = [], 0  # a gap or an overlap: start the segment again
        self._parts.append(np.asarray(data, dtype=np.float32))  # half the memory held
        self._have += len(data)
        self._expected = starttime + len(data) * dt
        if self._have < self._wanted:
            return
        segment = np.concatenate(self._parts)[: self._wanted].astype(np.float64)
        levels = noise_levels(
            segment, self.sampling_rate, self.sensitivity, self.quantity, self.band
        )
        self.latest = {"noise_time": starttime, **levels}
        self._parts, self._have, self._expected = [], 0, None
        self._due = starttime + self.interval_s
        self._phase = 0.0
