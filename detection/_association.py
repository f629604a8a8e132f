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
from dataclasses import dataclass
from typing import Literal

import numpy as np

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


class _Group:
    """One group's picks and stations, with what an event of it needs kept up to date as
    picks join, so that a pick costs about the same however many the group already has."""

    __slots__ = (
        "_order",
        "event_key",
        "first",
        "index",
        "keys",
        "last",
        "lats",
        "lons",
        "max_onset",
        "min_onset",
        "n_positioned",
        "onset_times",
        "onsets",
        "picks",
        "stations",
        "weight",
    )

    def __init__(self, time: float) -> None:
        self.first = self.last = time
        self.picks: list[Pick] = []  # in order of (time, key)
        self._order: list[tuple[float, int]] = []
        self.keys: list[int] = []  # the picks' keys, in the same order
        self.onsets: dict[str, float] = {}  # station -> earliest pick time
        self.stations: list[str] = []  # sorted
        self.weight = 0.0
        self.min_onset = math.inf
        self.max_onset = -math.inf
        self.event_key = -1
        # Positioned stations, for the travel-time check: index by station, and arrays
        # (grown by doubling) of their latitude, longitude (radians) and onset.
        self.index: dict[str, int] = {}
        self.lats = np.empty(8)
        self.lons = np.empty(8)
        self.onset_times = np.empty(8)
        self.n_positioned = 0

    def add(self, pick: Pick, weight: float, position: tuple[float, float] | None) -> None:
        at = bisect.bisect(self._order, (pick.time, pick.key))
        self._order.insert(at, (pick.time, pick.key))
        self.picks.insert(at, pick)
        self.keys.insert(at, pick.key)
        if pick.phase == "S":
            return  # an S pick is the event's, but no station's onset
        t = pick.time
        self.first = min(self.first, t)
        self.last = max(self.last, t)
        station = pick.station
        before = self.onsets.get(station)
        if before is None:
            self.onsets[station] = t
            bisect.insort(self.stations, station)
            self.weight += weight
            self.min_onset = min(self.min_onset, t)
            self.max_onset = max(self.max_onset, t)
            if position is not None:
                self._place(station, position, t)
        elif t < before:
            self.onsets[station] = t
            self.min_onset = min(self.min_onset, t)
            if before == self.max_onset:
                self.max_onset = max(self.onsets.values())
            i = self.index.get(station)
            if i is not None:
                self.onset_times[i] = t

    def _place(self, station: str, position: tuple[float, float], t: float) -> None:
        n = self.n_positioned
        if n == len(self.lats):
            self.lats = np.resize(self.lats, 2 * n)
            self.lons = np.resize(self.lons, 2 * n)
            self.onset_times = np.resize(self.onset_times, 2 * n)
        self.lats[n], self.lons[n] = math.radians(position[0]), math.radians(position[1])
        self.onset_times[n] = t
        self.index[station] = n
        self.n_positioned = n + 1


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
        """Learn (or correct) stations' latitude and longitude for the travel-time check
        (groups already open keep the positions their stations joined with)."""
        self._positions.update(positions)

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
            group = _Group(pick.time)
            self._groups.append(group)
        group.add(pick, self._weights.get(pick.station, 1.0), self._positions.get(pick.station))
        self._keys.add(pick.key)
        if group.event_key < 0:
            if group.weight < self._threshold:
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
        group.add(pick, 0.0, None)
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
        """Whether the pick's onset fits the travel times from the group's other stations
        (those with a position), all compared at once."""
        position = self._positions.get(pick.station)
        if position is None or pick.station in group.onsets:
            return True  # not checked; or another pick (channel, phase) of a station in it
        n = group.n_positioned
        if n == 0:
            return True
        lat, lon = math.radians(position[0]), math.radians(position[1])
        lats, lons = group.lats[:n], group.lons[:n]
        h = (
            np.sin((lats - lat) / 2) ** 2
            + math.cos(lat) * np.cos(lats) * np.sin((lons - lon) / 2) ** 2
        )
        km = 2 * 6371.0 * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        bounds = km / self._velocity + self._tolerance
        return bool(np.all(np.abs(pick.time - group.onset_times[:n]) <= bounds))

    def _event(self, group: _Group, status: EventStatus) -> NetworkEvent:
        return NetworkEvent(
            event_key=group.event_key,
            time=group.min_onset,
            stations=tuple(group.stations),
            pick_keys=tuple(group.keys),
            coincidence_sum=group.weight,
            duration=group.max_onset - group.min_onset,
            status=status,
        )
