"""Network association by coincidence of onsets at several stations.

Like ObsPy's ``coincidence_trigger`` (and Earthworm's ``carlsubtrig``) without travel times:
onsets at enough distinct stations within a time window make one event.

Rules
-----
- Picks are grouped by time: a pick joins an open group if the group's onsets together with
  the pick span at most ``window`` seconds (events are tried before candidates, earlier groups
  before later ones); otherwise it opens a group of its own. Picks may arrive out of time
  order.
- A station counts once however many of its channels picked; its onset is its earliest pick,
  and every pick's key is kept.
- The coincidence sum of a group is the sum of its distinct stations' weights (1.0 for a station
  missing from ``weights``, so without weights it is the number of stations). A group becomes an
  event when the sum reaches ``min_stations``; before that it is a candidate and is not
  returned.
- ``close_before(t)`` closes the groups whose window ended before ``t`` (first onset +
  ``window`` < ``t``): events become final and are returned, candidates are dropped. A pick
  whose window would already be closed (``time + window < t`` of an earlier call) is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Associator", "NetworkEvent", "Pick"]

EventStatus = Literal["preliminary", "final"]


@dataclass(frozen=True)
class Pick:
    """One station's onset offered to the associator.

    Attributes
    ----------
    station : str
        Station id, e.g. ``"TJ.SAREZ"``; picks of one station count once.
    channel : str
        Channel code, e.g. ``"HHZ"``.
    time : float
        Onset, POSIX seconds.
    peak_ratio : float
        Largest STA/LTA of the trigger.
    key : int
        The caller's id of the detection (opaque here).
    """

    station: str
    channel: str
    time: float
    peak_ratio: float
    key: int


@dataclass(frozen=True)
class NetworkEvent:
    """Onsets at several stations that make one event.

    Attributes
    ----------
    event_key : int
        Stable id, increasing in order of creation; an update keeps it.
    time : float
        Earliest onset, POSIX seconds.
    stations : tuple of str
        Distinct stations, sorted.
    pick_keys : tuple of int
        Keys of all picks of the event, in time order.
    coincidence_sum : float
        Sum of the stations' weights.
    duration : float
        Latest station onset minus earliest, seconds.
    status : {"preliminary", "final"}
        ``"final"`` once its window has closed.
    """

    event_key: int
    time: float
    stations: tuple[str, ...]
    pick_keys: tuple[int, ...]
    coincidence_sum: float
    duration: float
    status: EventStatus


@dataclass
class _Group:
    first: float
    last: float
    picks: list[Pick] = field(default_factory=list)
    event_key: int = -1


class Associator:
    """Groups picks from several stations into network events.

    Parameters
    ----------
    window : float
        Longest span, in seconds, of the onsets of one event.
    min_stations : int
        Coincidence sum an event needs (the number of distinct stations, without weights).
    weights : mapping of str to float, optional
        Weight of each station in the coincidence sum; stations not listed weigh 1.0.

    Raises
    ------
    ValueError
        If ``window`` is not a finite positive number, ``min_stations < 1``, or a weight is not
        a finite positive number.
    """

    def __init__(
        self,
        window: float = 40.0,
        min_stations: int = 3,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        if not (math.isfinite(window) and window > 0):
            raise ValueError(f"need a finite window > 0, got window={window}")
        if isinstance(min_stations, bool) or not isinstance(min_stations, int):
            raise ValueError(f"need an integer min_stations, got min_stations={min_stations!r}")
        if min_stations < 1:
            raise ValueError(f"need min_stations >= 1, got min_stations={min_stations}")
        weights = dict(weights or {})
        for station, weight in weights.items():
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"need a finite weight > 0, got weights[{station!r}]={weight}")
        self._window = float(window)
        self._threshold = float(min_stations)
        self._weights = weights
        self._groups: list[_Group] = []
        self._next_key = 1
        self._horizon = -math.inf
        self._keys: set[int] = set()

    @property
    def window(self) -> float:
        """Longest span of one event's onsets, seconds."""
        return self._window

    @property
    def threshold(self) -> float:
        """Coincidence sum an event needs."""
        return self._threshold

    @property
    def open_events(self) -> tuple[NetworkEvent, ...]:
        """The preliminary events, in order of event key."""
        return tuple(self._event(g, "preliminary") for g in self._groups if g.event_key >= 0)

    def add(self, pick: Pick) -> list[NetworkEvent]:
        """Offer one pick; return the events it created or updated.

        Parameters
        ----------
        pick : Pick
            The onset.

        Returns
        -------
        list of NetworkEvent
            Empty, or the one preliminary event the pick made or changed.

        Raises
        ------
        ValueError
            If the pick's time is not finite.
        """
        if not math.isfinite(pick.time):
            raise ValueError(f"need a finite pick time, got time={pick.time}")
        if pick.key in self._keys or pick.time + self._window < self._horizon:
            return []
        group = self._choose(pick.time)
        if group is None:
            group = _Group(pick.time, pick.time)
            self._groups.append(group)
        group.picks.append(pick)
        group.first = min(group.first, pick.time)
        group.last = max(group.last, pick.time)
        self._keys.add(pick.key)
        if group.event_key < 0:
            if self._sum(group) < self._threshold:
                return []
            group.event_key = self._next_key
            self._next_key += 1
        return [self._event(group, "preliminary")]

    def close_before(self, time: float) -> list[NetworkEvent]:
        """Close the groups whose window ended before ``time`` (data time, POSIX seconds).

        Parameters
        ----------
        time : float
            Groups with ``first onset + window < time`` are closed.

        Returns
        -------
        list of NetworkEvent
            The events closed, now final, in order of event key.
        """
        self._horizon = max(self._horizon, time)
        closed: list[_Group] = []
        still: list[_Group] = []
        for group in self._groups:
            (closed if group.first + self._window < time else still).append(group)
        self._groups = still
        for group in closed:
            self._keys.difference_update(p.key for p in group.picks)
        events = [self._event(g, "final") for g in closed if g.event_key >= 0]
        return sorted(events, key=lambda e: e.event_key)

    def _choose(self, t: float) -> _Group | None:
        fits = [g for g in self._groups if max(g.last, t) - min(g.first, t) <= self._window]
        if not fits:
            return None
        return min(fits, key=lambda g: (g.event_key < 0, g.first))

    def _sum(self, group: _Group) -> float:
        return sum(self._weights.get(s, 1.0) for s in {p.station for p in group.picks})

    def _event(self, group: _Group, status: EventStatus) -> NetworkEvent:
        onsets: dict[str, float] = {}
        for p in group.picks:
            onsets[p.station] = min(onsets.get(p.station, math.inf), p.time)
        picks = sorted(group.picks, key=lambda p: (p.time, p.key))
        return NetworkEvent(
            event_key=group.event_key,
            time=min(onsets.values()),
            stations=tuple(sorted(onsets)),
            pick_keys=tuple(p.key for p in picks),
            coincidence_sum=self._sum(group),
            duration=max(onsets.values()) - min(onsets.values()),
            status=status,
        )
