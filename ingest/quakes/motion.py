"""Ground motion of one sensor of a station: its traces response-corrected with ObsPy to
acceleration and velocity, then measured by :mod:`detection` (PGA, PGV, PSA, intensity)."""

from __future__ import annotations

from collections.abc import Sequence

from obspy import Inventory, Trace, UTCDateTime
from obspy.core.inventory.response import Response

from detection import ComponentMotion, StationMotion, component_motion, station_motion

__all__ = ["corrected", "ground_motion"]


def corrected(trace: Trace, response: Inventory | Response, output: str) -> Trace:
    """The trace in m/s (``VEL``) or m/s^2 (``ACC``), band-limited to 0.05-0.8 x Nyquist."""
    tr = trace.copy()
    tr.data = tr.data.astype("float64")
    nyquist = 0.5 * tr.stats.sampling_rate
    pre = (0.04, 0.08, 0.8 * nyquist, 0.95 * nyquist)
    try:
        if isinstance(response, Response):
            tr.stats.response = response
            tr.remove_response(output=output, pre_filt=pre, water_level=None)
        else:
            tr.remove_response(inventory=response, output=output, pre_filt=pre, water_level=None)
    except Exception as e:  # ObsPy raises a bare Exception when no response matches
        raise ValueError(f"{trace.id}: cannot remove the instrument response: {e}") from e
    return tr


def ground_motion(
    traces: Sequence[Trace],
    response: Inventory | Response,
    start: UTCDateTime | None = None,
    end: UTCDateTime | None = None,
    periods: Sequence[float] = (0.3, 1.0, 3.0),
    damping: float = 0.05,
) -> StationMotion:
    """PGA, PGV, PSA and intensity of one sensor's components (within [start, end]).

    Parameters
    ----------
    traces : sequence of obspy.Trace
        The sensor's channels (e.g. HNZ, HNN, HNE), counts, with some time before ``start``.
    response : obspy.Inventory or Response
        Their metadata (a Response only when there is one trace).

    Raises
    ------
    ValueError
        Without traces, or when a response cannot be removed.
    """
    if not traces:
        raise ValueError("need at least one trace")
    parts: list[ComponentMotion] = []
    for trace in traces:
        acc = corrected(trace, response, "ACC")
        vel = corrected(trace, response, "VEL")
        for tr in (acc, vel):
            if start is not None or end is not None:
                tr.trim(start, end)
        component = {"1": "N", "2": "E"}.get(trace.stats.channel[-1], trace.stats.channel[-1])
        parts.append(
            component_motion(
                component, acc.data, vel.data, trace.stats.sampling_rate, periods, damping
            )
        )
    return station_motion(parts)
