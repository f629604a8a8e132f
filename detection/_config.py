"""The settings of a channel's detector, and how they are fitted to a sampling rate."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["NYQUIST_SHARE", "DetectorConfig"]

Method = Literal["recursive", "classic"]

NYQUIST_SHARE = 0.8
"""A band's upper corner is cut to this share of the Nyquist frequency when the channel's rate
cannot carry it (a 20-sps channel: 1-8 Hz instead of 1-20 Hz)."""

_NUMBERS = (
    "freqmin",
    "freqmax",
    "sta",
    "lta",
    "trigger_on",
    "trigger_off",
    "min_duration",
    "max_duration",
    "max_gap",
    "s_window",
    "s_ratio",
)


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of a :class:`~detection.StreamingDetector`; refuses invalid values.

    Attributes
    ----------
    enabled : bool
        A disabled channel is not detected on, nor used for S picks.
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
        ``trigger_off``; ``0 < trigger_off <= trigger_on``. On a vertical channel these are
        the P thresholds.
    min_duration, max_duration : float
        Shorter triggers are dropped; longer ones are cut at ``max_duration`` seconds.
    max_gap : float
        Seconds: a gap up to this long is bridged (the chain continues over samples
        interpolated across it, and detections near it are marked); a longer one restarts
        the chain, with a warm-up of one LTA window. 0 restarts on every gap.
    despike : bool
        Whether spikes (short runs of samples a Hampel filter flags) are taken out of the
        data before the band-pass, so that one glitch cannot blind the channel.
    s_window : float
        Seconds after a P onset in which its S is searched on the horizontals (the longest
        S-P time expected).
    s_ratio : float
        The S threshold: the horizontals' energy in the half second after the S onset must
        be at least this many times that in the half second before it.

    Raises
    ------
    ValueError
        Naming the field and the value, if one is out of range.
    """

    enabled: bool = True
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
    max_gap: float = 1.0
    despike: bool = True
    s_window: float = 25.0
    s_ratio: float = 3.0

    def __post_init__(self) -> None:
        if self.method not in ("recursive", "classic"):
            raise ValueError(f"need method 'recursive' or 'classic', got method={self.method!r}")
        for name in ("enabled", "despike"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"need true or false for {name}, got {getattr(self, name)!r}")
        for name in _NUMBERS:
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
        if self.max_gap < 0:
            raise ValueError(f"need max_gap >= 0, got max_gap={self.max_gap}")
        if self.s_window <= 0:
            raise ValueError(f"need s_window > 0, got s_window={self.s_window}")
        if self.s_ratio <= 0:
            raise ValueError(f"need s_ratio > 0, got s_ratio={self.s_ratio}")

    def fitted(self, sampling_rate: float) -> tuple[DetectorConfig | None, str]:
        """These settings made to fit a channel's rate, and what was changed, in words.

        A band whose upper corner is at or above :data:`NYQUIST_SHARE` of the Nyquist
        frequency is cut there, if at least an octave of band is left; otherwise (or if the
        STA window is shorter than two samples) the channel cannot be detected on and
        ``None`` is returned.

        Parameters
        ----------
        sampling_rate : float
            Samples per second of the channel.

        Returns
        -------
        config : DetectorConfig or None
            ``self`` if it fits as it is, an adjusted copy, or ``None``.
        change : str
            Empty if nothing changed, else what was changed or why the channel is skipped.
        """
        rate = float(sampling_rate)
        if not (math.isfinite(rate) and rate > 0):
            return None, f"skipped: sampling rate {sampling_rate!r} is not a positive number"
        band = f"{self.freqmin:g}-{self.freqmax:g} Hz"
        if self.sta * rate < 2 or round(self.lta * rate) <= round(self.sta * rate):
            return None, f"skipped: {rate:g} sps gives an STA window of under two samples"
        top = NYQUIST_SHARE * rate / 2
        if self.freqmax < top:
            return self, ""
        if self.freqmin * 2 > top:
            return None, f"skipped: {rate:g} sps cannot carry the {band} band"
        fitted = replace(self, freqmax=top)
        return fitted, f"band {band} cut to {self.freqmin:g}-{top:g} Hz for {rate:g} sps"
