"""Do a station's co-located sensors agree that the ground moved?

A seismometer (``HH``) and an accelerometer (``HN``) on one pier record the same ground
motion; a telemetry glitch, a digitizer fault, a calibration pulse or a kicked sensor
shows on one of them only. Real early-warning systems turn down triggers before they reach
the associator rather than trusting three coincident ones (ElarmS-2's trigger filters,
Kuyuk et al. 2014, BSSA 104, 162; the tau_c-Pd trigger criterion of Böse et al. 2009, BSSA
99, 897); the sensors of one station are the cheapest second opinion there is, and one
that needs no model of the quake.

The test, on the first seconds of P (both sensors' acceleration, m/s^2, on one time grid):

- the *primary* is the sensor that sees the motion best (the larger RMS over its own noise
  RMS); the motion it recorded, ``p``, is what the other should have recorded too;
- ``ratio = <o, p> / <p, p>``, the share of ``p`` found in the other sensor's record ``o``
  (1: all of it; 0: none), best over lags of ``max_lag_s`` (the differentiator's half
  sample, and sensors on two digitizers);
- ``sigma``: the spread of that ratio on the other sensor's noise alone, measured, not
  assumed: ``p`` slid along the other sensor's record before the onset (its noise, coloured
  as it is). A ratio is only believed when ``sigma <= max_sigma`` (1/6: the ``min_ratio``
  of 0.5 is then three sigmas from both 0 and 1);
- ``agree`` when ``ratio >= min_ratio`` (a factor of two for gains and site effects),
  ``disagree`` when below;
- while ``sigma`` is too large the answer is ``pending``; once the window is complete it is
  ``unseen``: the other sensor's noise hides motion this small (a small P, or a noisy
  accelerometer). A sensor that recorded no noise at all (a flat, dead channel) gives
  ``unseen`` too: it can confirm nothing;
- a clipped sensor's record is not the ground's: the other one must show motion of its own,
  its RMS at least ``min_snr`` times its noise RMS (``agree``), else ``disagree`` once the
  window is complete (a quake that clips the seismometer never hides in the
  accelerometer's noise); both clipped tells nothing (``unseen``).

What the caller does with ``unseen`` is its choice (:class:`detection.NetworkWarning`: the
station is used unconfirmed, as a station without a second sensor is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["AgreementConfig", "SensorAgreement", "Verdict", "compare_colocated"]

Verdict = Literal["agree", "disagree", "unseen", "pending"]


@dataclass(frozen=True)
class AgreementConfig:
    """Settings of the co-located sensors' test (see the module).

    Attributes
    ----------
    min_ratio : float
        Share of the primary's motion the other sensor must show.
    max_sigma : float
        Largest spread of that share, on the other's noise, for a verdict.
    max_lag_s : float
        Lags searched either side, seconds.
    min_snr : float
        RMS over noise RMS the unclipped sensor needs when the other clipped.
    min_noise_s : float
        Seconds of noise before the onset needed to measure the spread.
    """

    min_ratio: float = 0.5
    max_sigma: float = 1.0 / 6.0
    max_lag_s: float = 0.02
    min_snr: float = 3.0
    min_noise_s: float = 2.0

    def __post_init__(self) -> None:
        if not (0 < self.min_ratio < 1 and self.max_sigma > 0 and self.min_snr > 0):
            raise ValueError(
                "need 0 < min_ratio < 1, max_sigma > 0 and min_snr > 0, got "
                f"min_ratio={self.min_ratio}, max_sigma={self.max_sigma}, min_snr={self.min_snr}"
            )
        if not (self.max_lag_s >= 0 and self.min_noise_s > 0):
            raise ValueError(
                f"need max_lag_s >= 0 and min_noise_s > 0, got max_lag_s={self.max_lag_s}, "
                f"min_noise_s={self.min_noise_s}"
            )


@dataclass(frozen=True)
class SensorAgreement:
    """The verdict, the share of the primary's motion the other shows and its spread on
    noise (NaN where not measured), and the verdict in words."""

    verdict: Verdict
    ratio: float
    sigma: float
    detail: str


def compare_colocated(
    a: ArrayLike,
    b: ArrayLike,
    a_noise: ArrayLike,
    b_noise: ArrayLike,
    sampling_rate: float,
    *,
    complete: bool,
    names: tuple[str, str] = ("a", "b"),
    clipped: tuple[bool, bool] = (False, False),
    config: AgreementConfig | None = None,
) -> SensorAgreement:
    """Whether two co-located sensors recorded the same motion since a P onset.

    Parameters
    ----------
    a, b : array_like
        The two sensors' acceleration (m/s^2) from the onset on, on one time grid (same
        length and sampling rate).
    a_noise, b_noise : array_like
        Each sensor's acceleration before the onset, the same rate.
    sampling_rate : float
        Samples per second.
    complete : bool
        Whether the window is as long as it will get: an undecided test is then ``unseen``.
    names : tuple of str
        The sensors' names, for the detail (e.g. ``("HH", "HN")``).
    clipped : tuple of bool
        Whether each sensor reached full scale in the window.
    config : AgreementConfig, optional

    Returns
    -------
    SensorAgreement
    """
    cfg = config or AgreementConfig()
    x = (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    noise = (np.asarray(a_noise, dtype=np.float64), np.asarray(b_noise, dtype=np.float64))
    if x[0].shape != x[1].shape or x[0].ndim != 1:
        raise ValueError(f"need a and b of one 1-D shape, got {x[0].shape} and {x[1].shape}")
    if not (math.isfinite(sampling_rate) and sampling_rate > 0):
        raise ValueError(f"need a finite sampling_rate > 0, got {sampling_rate}")
    undecided: Verdict = "unseen" if complete else "pending"
    need = cfg.min_noise_s * sampling_rate
    if x[0].size < 2 or min(n.size for n in noise) < need:
        return SensorAgreement(undecided, math.nan, math.nan, "too little data to compare")
    spread = (float(np.std(noise[0])), float(np.std(noise[1])))
    for name, s in zip(names, spread, strict=True):
        if s == 0.0:
            return SensorAgreement(
                "unseen", math.nan, math.nan, f"{name} records no noise: it confirms nothing"
            )
    rms = (_rms(x[0]), _rms(x[1]))
    if clipped[0] or clipped[1]:
        i = 1 if clipped[0] else 0
        if clipped[0] and clipped[1]:
            return SensorAgreement("unseen", math.nan, math.nan, "both sensors at full scale")
        snr = rms[i] / spread[i]
        words = f"{names[1 - i]} at full scale, {names[i]} at {snr:.1f} times its noise"
        if snr >= cfg.min_snr:
            return SensorAgreement("agree", math.nan, math.nan, words)
        return SensorAgreement("disagree" if complete else "pending", math.nan, math.nan, words)
    i = 0 if rms[0] / spread[0] >= rms[1] / spread[1] else 1
    p, o, o_noise = x[i], x[1 - i], noise[1 - i]
    power = float(np.dot(p, p))
    if power == 0.0:
        return SensorAgreement(undecided, math.nan, math.nan, "no motion on either sensor")
    lag = round(cfg.max_lag_s * sampling_rate)
    ratio = max(_shifted_dot(o, p, k) for k in range(-lag, lag + 1)) / power
    if o_noise.size >= 2 * p.size:
        on_noise = np.correlate(o_noise - np.mean(o_noise), p, "valid") / power
        sigma = float(np.sqrt(np.mean(on_noise**2)))
    else:  # too short a noise record for the slide: as if its noise were white
        sigma = spread[1 - i] / math.sqrt(power)
    words = f"{names[1 - i]} shows {ratio:.2f} (±{sigma:.2f}) of the motion {names[i]} recorded"
    if sigma > cfg.max_sigma:
        return SensorAgreement(undecided, ratio, sigma, words)
    verdict: Verdict = "agree" if ratio >= cfg.min_ratio else "disagree"
    return SensorAgreement(verdict, ratio, sigma, words)


def _rms(x: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def _shifted_dot(o: NDArray[np.float64], p: NDArray[np.float64], k: int) -> float:
    """``sum o[n + k] p[n]`` over the samples both have."""
    if k >= 0:
        return float(np.dot(o[k:], p[: p.size - k]))
    return float(np.dot(o[: o.size + k], p[-k:]))
