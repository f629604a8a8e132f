"""Wood-Anderson amplitudes from a channel's counts and its StationXML response (ObsPy).

The trace is corrected to ground velocity with the channel's response (a seismometer or an
accelerometer alike: ObsPy evaluates the response for velocity input) and passed through the
Wood-Anderson torsion seismometer: natural period 0.8 s, damping 0.8, static magnification
``gain`` (ObsPy's ``WOODANDERSON`` poles and zero). The default gain is 2080, the
magnification Uhrhammer & Collins (1990) measured on the real instruments and ObsPy's value:
the amplitudes Hutton & Boore (1987) calibrated ML with were read from such instruments, so
2080 is the gain that goes with their formula. Richter's nominal 2800 gives amplitudes 2800/2080
times larger, ML 0.13 higher; set ``wood_anderson_gain = 2800`` in ``[magnitude]`` when a
``log A0`` table was calibrated that way (SeisComP's default).
"""

from __future__ import annotations

from obspy import Inventory, Trace, UTCDateTime
from obspy.core.inventory.response import Response
from obspy.signal.invsim import WOODANDERSON

__all__ = ["DEFAULT_WA_GAIN", "wood_anderson", "wood_anderson_amplitude_mm"]

DEFAULT_WA_GAIN = 2080.0


def _pre_filter(trace: Trace) -> tuple[float, float, float, float]:
    nyquist = 0.5 * trace.stats.sampling_rate
    return (0.05, 0.1, 0.8 * nyquist, 0.95 * nyquist)


def wood_anderson(
    trace: Trace, response: Inventory | Response, gain: float = DEFAULT_WA_GAIN
) -> Trace:
    """The trace as a Wood-Anderson seismometer would have written it: displacement, metres.

    Parameters
    ----------
    trace : obspy.Trace
        Counts of a seismometer or accelerometer channel.
    response : obspy.Inventory or Response
        The channel's metadata (an inventory holding it) or its response.
    gain : float
        Static magnification of the simulated instrument.

    Raises
    ------
    ValueError
        If the inventory has no response for the trace (ObsPy's error, re-raised naming it).
    """
    tr = trace.copy()
    tr.data = tr.data.astype("float64")
    try:
        if isinstance(response, Response):
            tr.stats.response = response
            tr.remove_response(output="VEL", pre_filt=_pre_filter(tr), water_level=None)
        else:
            tr.remove_response(
                inventory=response, output="VEL", pre_filt=_pre_filter(tr), water_level=None
            )
    except Exception as e:  # ObsPy raises a bare Exception when no response matches
        raise ValueError(f"{trace.id}: cannot remove the instrument response: {e}") from e
    paz = dict(WOODANDERSON)
    paz["sensitivity"] = float(gain)
    tr.simulate(paz_remove=None, paz_simulate=paz)
    return tr


def wood_anderson_amplitude_mm(
    trace: Trace,
    response: Inventory | Response,
    start: UTCDateTime | None = None,
    end: UTCDateTime | None = None,
    gain: float = DEFAULT_WA_GAIN,
) -> float:
    """Peak (zero-to-peak) Wood-Anderson amplitude in mm, within [start, end] if given.

    Give the trace some time before ``start`` (a few tens of seconds): the response is
    removed over the whole trace, and its ends are tapered.
    """
    wa = wood_anderson(trace, response, gain)
    if start is not None or end is not None:
        wa.trim(start, end)
    if wa.stats.npts == 0:
        raise ValueError(f"{trace.id}: no data between {start} and {end}")
    return 1000.0 * float(abs(wa.data).max())
