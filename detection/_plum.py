"""Station alerts from observed shaking, PLUM-style: a station whose own shaking crosses a
level predicts that shaking within about 30 km of it (Kodera et al. 2018, BSSA 108, 983;
Japan's PLUM since 2018), without a source estimate.

One sensor is not believed alone. A crossing (a station's sensor, the time, the intensity) is
a *candidate*; it becomes a station alert when, within ``agree_s`` seconds, either another
sensor of the same station (its accelerometer ``HN`` and its seismometer ``HH``) or another
station crossed too. A candidate left alone for ``agree_s`` is *suppressed*, and said so,
with its reason (a glitch, a telemetry spike or a kicked sensor shakes one sensor only).
Each station alerts once an episode: again only after ``rearm_s`` seconds without a crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ShakingAlert", "ShakingCandidate", "ShakingVote"]


@dataclass(frozen=True)
class ShakingCandidate:
    """One sensor's shaking above the level.

    Attributes
    ----------
    station : str
        ``NET.STA``.
    sensor : str
        The sensor: location and band, e.g. ``".HN"`` or ``"00.HH"``.
    time : float
        POSIX seconds of the data that crossed.
    mmi : float
        Its instrumental intensity.
    """

    station: str
    sensor: str
    time: float
    mmi: float


@dataclass(frozen=True)
class ShakingAlert:
    """A station alert: the candidate, and what agreed with it (``"sensor .HH"`` or
    ``"station TJ.MURGH"``)."""

    candidate: ShakingCandidate
    agreed: str


class ShakingVote:
    """Candidates in, station alerts and suppressed candidates out.

    Parameters
    ----------
    mmi_level : float
        The intensity a sensor's shaking must reach.
    agree_s : float
        Seconds within which a second sensor or station must agree.
    rearm_s : float
        Seconds without a crossing after which a station may alert again.
    """

    def __init__(self, *, mmi_level: float, agree_s: float = 5.0, rearm_s: float = 60.0) -> None:
        if not (1.0 <= mmi_level <= 10.0):
            raise ValueError(f"need 1 <= mmi_level <= 10, got mmi_level={mmi_level}")
        if not (agree_s > 0 and rearm_s > 0):
            raise ValueError(f"need agree_s > 0 and rearm_s > 0, got {agree_s}, {rearm_s}")
        self.mmi_level = mmi_level
        self._agree = agree_s
        self._rearm = rearm_s
        self._waiting: list[ShakingCandidate] = []
        self._alerted: dict[str, float] = {}  # station -> time of its last crossing

    def add(self, candidate: ShakingCandidate) -> list[ShakingAlert]:
        """A sensor's shaking at ``candidate.mmi``; below the level it is ignored. Returns
        the station alerts it makes (its own station's, and a waiting one's it confirms)."""
        if candidate.mmi < self.mmi_level:
            return []
        t = candidate.time
        if self._episode(candidate.station, t):
            self._alerted[candidate.station] = t  # the episode goes on
            return []
        out: list[ShakingAlert] = []
        partners = [
            c for c in self._waiting if abs(c.time - t) <= self._agree and _differs(c, candidate)
        ]
        if partners:
            first = partners[0]
            out.append(ShakingAlert(candidate, _what(first, candidate)))
            self._alerted[candidate.station] = t
            for other in partners:
                if not self._episode(other.station, t):
                    out.append(ShakingAlert(other, _what(candidate, other)))
                    self._alerted[other.station] = t
            self._waiting = [c for c in self._waiting if c.station not in self._alerted]
        else:
            self._waiting.append(candidate)
        return out

    def expire(self, now: float) -> list[ShakingCandidate]:
        """Candidates nothing agreed with within ``agree_s`` before ``now``: suppressed."""
        gone = [c for c in self._waiting if now - c.time > self._agree]
        self._waiting = [c for c in self._waiting if now - c.time <= self._agree]
        self._alerted = {s: t for s, t in self._alerted.items() if now - t <= self._rearm}
        return gone

    def _episode(self, station: str, t: float) -> bool:
        last = self._alerted.get(station)
        return last is not None and t - last <= self._rearm


def _differs(a: ShakingCandidate, b: ShakingCandidate) -> bool:
    """Another station, or another sensor of the same one."""
    return a.station != b.station or a.sensor != b.sensor


def _what(partner: ShakingCandidate, candidate: ShakingCandidate) -> str:
    if partner.station == candidate.station:
        return f"sensor {partner.sensor}"
    return f"station {partner.station}"
