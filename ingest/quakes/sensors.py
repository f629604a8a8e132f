"""Which of a station's sensors measures an event's amplitudes: the seismometer unless it
clipped, then the accelerometer (which does not clip in a quake that clips the seismometer)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from obspy import Trace

__all__ = ["ACCELEROMETER_CODES", "SEISMOMETER_CODES", "choose_sensor", "is_clipped"]

SEISMOMETER_CODES = ("HH", "BH", "EH", "SH")
ACCELEROMETER_CODES = ("HN", "BN", "EN", "SN", "HL", "HG")
_HORIZONTAL = ("N", "E", "1", "2")


def is_clipped(trace: Trace, clip_level: float | None) -> bool:
    """Whether any sample reaches ``clip_level`` counts (``None``: never)."""
    if clip_level is None or trace.stats.npts == 0:
        return False
    return bool(np.abs(np.asarray(trace.data, dtype=np.float64)).max() >= clip_level)


def choose_sensor(channels: Iterable[str], clipped: Iterable[str] = ()) -> tuple[str, ...]:
    """The horizontal channels to measure on, e.g. ``("HHE", "HHN")``.

    The seismometer's horizontals when it has any and none of its channels clipped, else the
    accelerometer's unclipped horizontals; empty if neither is usable.

    Parameters
    ----------
    channels : iterable of str
        Channel codes the station recorded the event on.
    clipped : iterable of str
        Those that clipped.
    """
    have = sorted(set(channels))
    bad = set(clipped)
    by_sensor: Mapping[str, list[str]] = {
        code: [c for c in have if c[:2] == code and c[2] in _HORIZONTAL]
        for code in SEISMOMETER_CODES + ACCELEROMETER_CODES
    }
    for code in SEISMOMETER_CODES:
        horizontals = by_sensor[code]
        if horizontals and not any(c in bad for c in have if c[:2] == code):
            return tuple(horizontals)
    for code in ACCELEROMETER_CODES:
        usable = [c for c in by_sensor[code] if c not in bad]
        if usable:
            return tuple(usable)
    return ()
