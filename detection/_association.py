"""Network association by coincidence of onsets at several stations.

Like ObsPy's ``coincidence_trigger`` (and Earthworm's ``carlsubtrig``): onsets at enough
distinct stations within a time window make one event; with station positions given, the
onsets must also be consistent with travel times across the network.

Rules
-----
- Picks are grouped by time: a pick joins an open group if the group's onsets together with
  the pick span at most ``window`` seconds (events are tried before candidates, earlier groups
  before later ones); otherwise it opens a group of its own. Picks may arrive out of time
  order.
- With ``positions``, a pick of a station not yet in a group joins it only if, for every
  station already there, the difference of their onsets is at most the time a wave at
  ``velocity`` km/s takes between the two stations, plus ``tolerance`` seconds: no real
  arrival crosses the network faster. So the S pick of one quake at a far station does not
  make an event with the P picks of the next. Stations without a position are not checked.
- A station counts once however many of its channels picked; its onset is its earliest pick,
  and every pick's key is kept.
- The coincidence sum of a group is the sum of its distinct stations' weights (1.0 for a station
  missing from ``weights``, so without weights it is the number of stations). A group becomes an
  event when the sum reaches ``min_stations``; before that it is a candidate and is not
  returned.
- Phases: P picks and picks without a phase start and join groups as above. An S pick never
  starts a group nor counts in one: it joins the open group (events first, earliest first)
  that already holds a P or phase-less pick of its station and whose window it fits, and is
  dropped if there is none. So a station's S cannot pass for another station's P.
- ``close_before(t)`` closes the groups whose window ended before ``t`` (first onset +
  ``window`` < ``t``): events become final and are returned, candidates are dropped. A pick
  whose window would already be closed (``time + window < t`` of an earlier call) is ignored.
"""

from __future__ import annotations

import bisect
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
    phase : {"P", "S"} or None
        The pick's phase, if known.
    """

    station: str
    channel: str
    time: float
    peak_ratio: float
    key: int
    phase: str | None = None


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
    picks: list[Pick] = field(default_factory=list)  # in order of (time, key)
    onsets: dict[str, float] = field(default_factory=dict)  # station -> earliest pick time
    event_key: int = -1

    def add(self, pick: Pick) -> None:
        bisect.insort(self.picks, pick, key=_order)
        if pick.phase == "S":
            return  # an S pick is the event's, but no station's onset
        self.first = min(self.first, pick.time)
        self.last = max(self.last, pick.time)
        self.onsets[pick.station] = min(self.onsets.get(pick.station, math.inf), pick.time)


def _order(pick: Pick) -> tuple[float, int]:
    return (pick.time, pick.key)


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
    positions : mapping of str to (float, float), optional
        Latitude and longitude in degrees of each station, for the travel-time check.
    velocity : float
        Slowest apparent speed, km/s, of the first arrival across the network (crustal P is
        about 6 km/s; a slower value is more tolerant).
    tolerance : float
        Seconds added to each travel-time bound (picking error, depth).

    Raises
    ------
    ValueError
        If ``window``, ``velocity`` or ``tolerance`` is not a finite positive number
        (``tolerance`` may be 0), ``min_stations < 1``, or a weight is not a finite positive
        number.
    """

    def __init__(
        self,
        window: float = 40.0,
        min_stations: int = 3,
        weights: Mapping[str, float] | None = None,
        positions: Mapping[str, tuple[float, float]] | None = None,
        velocity: float = 6.0,
        tolerance: float = 2.0,
    ) -> None:
        if not (math.isfinite(velocity) and velocity > 0):
            raise ValueError(f"need a finite velocity > 0, got velocity={velocity}")
        if not (math.isfinite(tolerance) and tolerance >= 0):
            raise ValueError(f"need a finite tolerance >= 0, got tolerance={tolerance}")
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
        self._positions = dict(positions or {})
        self._velocity = float(velocity)
        self._tolerance = float(tolerance)
        self._bounds: dict[tuple[str, str], float] = {}
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

    def add_positions(self, positions: Mapping[str, tuple[float, float]]) -> None:
        """Learn (or correct) stations' latitude and longitude for the travel-time check."""
        self._positions.update(positions)
        self._bounds = {k: v for k, v in self._bounds.items() if not set(k) & set(positions)}

    @property
    def open_pick_keys(self) -> frozenset[int]:
        """Keys of the picks in groups still open: the only ones a later event can name."""
        return frozenset(self._keys)

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
        if pick.phase == "S":
            return self._add_s(pick)
        group = self._choose(pick)
        if group is None:
            group = _Group(pick.time, pick.time)
            self._groups.append(group)
        group.add(pick)
        self._keys.add(pick.key)
        if group.event_key < 0:
            if self._sum(group) < self._threshold:
                return []
            group.event_key = self._next_key
            self._next_key += 1
        return [self._event(group, "preliminary")]

    def _add_s(self, pick: Pick) -> list[NetworkEvent]:
        """An S pick joins the group that has its station's first arrival, or nothing."""
        t = pick.time
        fits = [
            g
            for g in self._groups
            if pick.station in g.onsets
            and g.onsets[pick.station] < t
            and max(g.last, t) - min(g.first, t) <= self._window
        ]
        if not fits:
            return []
        group = min(fits, key=lambda g: (g.event_key < 0, g.first))
        group.add(pick)
        self._keys.add(pick.key)
        return [self._event(group, "preliminary")] if group.event_key >= 0 else []

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
        window = self._window
        if all(group.first + window >= time for group in self._groups):
            return []  # the common case, asked after every record
        closed: list[_Group] = []
        still: list[_Group] = []
        for group in self._groups:
            (closed if group.first + self._window < time else still).append(group)
        self._groups = still
        for group in closed:
            self._keys.difference_update(p.key for p in group.picks)
        events = [self._event(g, "final") for g in closed if g.event_key >= 0]
        return sorted(events, key=lambda e: e.event_key)

    def _choose(self, pick: Pick) -> _Group | None:
        t = pick.time
        fits = [
            g
            for g in self._groups
            if max(g.last, t) - min(g.first, t) <= self._window and self._consistent(g, pick)
        ]
        if not fits:
            return None
        return min(fits, key=lambda g: (g.event_key < 0, g.first))

    def _consistent(self, group: _Group, pick: Pick) -> bool:
        """Whether the pick's onset fits the travel times from the group's other stations."""
        if pick.station not in self._positions:
            return True
        onsets = group.onsets
        if pick.station in onsets:
            return True  # another pick (channel, phase) of a station already in the event
        return all(
            abs(pick.time - t) <= self._bound(pick.station, s)
            for s, t in onsets.items()
            if s in self._positions
        )

    def _bound(self, a: str, b: str) -> float:
        key = (a, b) if a < b else (b, a)
        found = self._bounds.get(key)
        if found is None:
            (lat1, lon1), (lat2, lon2) = self._positions[a], self._positions[b]
            found = _distance_km(lat1, lon1, lat2, lon2) / self._velocity + self._tolerance
            self._bounds[key] = found
        return found

    def _sum(self, group: _Group) -> float:
        return sum(self._weights.get(s, 1.0) for s in group.onsets)

    def _event(self, group: _Group, status: EventStatus) -> NetworkEvent:
        onsets = group.onsets
        return NetworkEvent(
            event_key=group.event_key,
            time=min(onsets.values()),
            stations=tuple(sorted(onsets)),
            pick_keys=tuple(p.key for p in group.picks),
            coincidence_sum=self._sum(group),
            duration=max(onsets.values()) - min(onsets.values()),
            status=status,
        )


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, spherical Earth of radius 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))
