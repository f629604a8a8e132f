"""Phase association: picks become an earthquake only when one hypocentre explains them.

Picks (station, phase P / S / unknown, time, uncertainty) are fed in time order; earthquakes
are created and updated as picks arrive and become final when no more arrivals can come.

Rules
-----
- A pick first tries the open events: it joins the one whose predicted arrival at its station
  (for its phase, for either phase when it has none, or for the other one when only that fits
  and ``relabel`` allows it) it matches within the tolerance: ``tolerance_sigmas`` times the
  root sum of squares of the pick's uncertainty and the model's error for that phase, plus
  the prediction's own uncertainty from the event's location errors (at most
  ``max_prediction_error_s``). An event keeps one P and one S per station, the better-fitting
  pick. After a change the event is relocated around its last hypocentre and picks its new
  hypocentre no longer explains are released. An event located from ``settle_phases``
  phases or more is relocated only when its phases have grown by ``relocate_growth`` since
  the last location: a pick joining in between is an arrival of that origin with weight 0
  (associated, not yet used), so a quake picked at thousands of stations costs a number of
  relocations that grows with the logarithm of its picks, not one a pick.
- A pick no event explains waits in the pool. A P pick (or one without a phase) then looks
  for a cluster: pool P picks at other stations whose times one source position explains. A
  coarse grid of source positions votes: at each node the pick implies an origin time, and
  every other P pick consistent with it (within the tolerance plus what the cell's size can
  change) counts its station once. The best node's picks are located, inconsistent picks
  dropped; with P picks at ``min_stations`` stations the cluster is a candidate, and the pool's
  other picks (S included) that fit join it.
- A candidate becomes an event when it holds ``min_phases`` phases (more than the four
  unknowns, so that agreeing is evidence) at ``min_stations`` stations with P, every residual
  within the tolerance, its residuals pass a chi-square test (``confidence``, with the picks'
  uncertainties and the model's error), the stations that should have its P did pick
  (``min_coverage``), and its P picks do not all fall within ``min_moveout_s`` of one another.
  So an S pick never starts an event, but it can complete one, and a pick nothing explains
  never moves an event's time.
- A new event may be an open event located wrong (the new picks did not fit it): when one
  hypocentre explains most picks of both, the open event takes them all (no duplicate). Picks
  of the other open events that a new event explains clearly better move to it; an open event
  left unexplained by what remains is deleted (status ``"deleted"``) and its picks return to
  the pool.
- P picks at ``glitch_stations`` stations within ``glitch_window_s`` of one another are a
  glitch (a timing or telemetry fault seen at once): they start and join nothing.
- ``close_before(t)`` (data time) makes final the events whose farthest station's S has had
  time to arrive (plus ``linger_s``): each is relocated from scratch with all its picks and
  returned. Pool picks older than the longest possible wait are returned as unassociated.

Two quakes close in time are separated because each event takes only the picks its own
hypocentre explains and a cluster is a set one source explains; the cost per pick is the open
events (few) and one grid vote over the pool's recent picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import scipy.stats
from numpy.typing import NDArray

from detection._feasible import SolutionBound
from detection._geo import azimuth_deg, distance_km
from detection._locate import (
    LocatedArrival,
    LocatorConfig,
    Observation,
    Origin,
    StationCoordinates,
    locate,
)
from detection._traveltime import TravelTimeTable
from detection._vote_grid import VotingGrid

__all__ = [
    "AssociatedPick",
    "PhasePick",
    "Quake",
    "QuakeAssociator",
    "QuakeAssociatorConfig",
    "QuakeUpdate",
]

Float64Array = NDArray[np.float64]
Phase = Literal["P", "S"]
QuakeStatus = Literal["preliminary", "final", "deleted"]
_KM_PER_DEG = math.pi / 180.0 * 6371.0
_MERGE_WINDOW_S = 30.0
_MOVE_MARGIN = 0.25
_DETERMINED = 5
"""Phases that leave one to spare over the four unknowns of a hypocentre."""
_LOCATIONS_KEPT = 64
"""Locations remembered (see :meth:`QuakeAssociator._locate`)."""
_TYPICAL_SIGMA = 0.1
"""Uncertainty of a pick the coverage test expects, seconds."""
_VOTE_CLUSTERS = 1
_VOTE_S = True
"""Distinct source positions a vote offers as clusters, best first."""
"""A pick moves to a new event only if it fits it this much better (in tolerances)."""
"""A new event may be an open event located wrong when their origin times are this close."""


@dataclass(frozen=True)
class PhasePick:
    """One pick offered to the associator.

    Attributes
    ----------
    key : int
        The caller's id of the pick (unique).
    station : str
        Station id, e.g. ``"TJ.SAREZ"``.
    time : float
        Onset, POSIX seconds.
    phase : {"P", "S"} or None
        The picker's phase; ``None`` when it could not tell.
    uncertainty : float
        One-sigma uncertainty of the onset, seconds.
    """

    key: int
    station: str
    time: float
    phase: Phase | None = None
    uncertainty: float = 0.1


@dataclass(frozen=True)
class AssociatedPick:
    """A pick as an event uses it: the phase it was given and how well it fits."""

    key: int
    station: str
    phase: Phase
    time: float
    uncertainty: float
    residual: float
    weight: float
    distance_km: float
    relabelled: bool = False


class Quake:
    """An earthquake: its origin and the picks it explains.

    Attributes
    ----------
    event_key : int
        Stable id, increasing in order of creation.
    version : int
        Increases with every change (1 at creation).
    status : {"preliminary", "final", "deleted"}
        ``"deleted"``: a preliminary event withdrawn, its picks taken by a better event
        (or released).
    origin : Origin
        The location, with the locator's configuration (a fixed depth, say, when the event
        has few phases).
    picks : tuple of AssociatedPick
        In time order. Made when first read: a quake picked at thousands of stations
        changes with every pick, and a caller that keeps only the latest version of each
        event (one a batch, say) pays for the picks of that one.
    """

    def __init__(
        self,
        event_key: int,
        version: int,
        status: QuakeStatus,
        origin: Origin,
        picks: tuple[AssociatedPick, ...] | Callable[[], tuple[AssociatedPick, ...]],
    ) -> None:
        self.event_key = event_key
        self.version = version
        self.status: QuakeStatus = status
        self.origin = origin
        self._picks = picks

    @property
    def picks(self) -> tuple[AssociatedPick, ...]:
        if callable(self._picks):
            self._picks = self._picks()
        return self._picks

    @property
    def pick_keys(self) -> tuple[int, ...]:
        return tuple(p.key for p in self.picks)

    @property
    def stations(self) -> tuple[str, ...]:
        return tuple(sorted({p.station for p in self.picks}))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quake):
            return NotImplemented
        return (self.event_key, self.version, self.status, self.origin, self.picks) == (
            other.event_key,
            other.version,
            other.status,
            other.origin,
            other.picks,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Quake(event_key={self.event_key}, version={self.version}, status={self.status!r}, "
            f"origin={self.origin!r}, picks={self.picks!r})"
        )


@dataclass(frozen=True)
class QuakeUpdate:
    """What one call changed: events created, updated, made final or deleted (each once, its
    latest version, in order of event key) and picks released for good as unassociated."""

    events: tuple[Quake, ...] = ()
    unassociated: tuple[PhasePick, ...] = ()


@dataclass(frozen=True)
class QuakeAssociatorConfig:
    """Tolerances and thresholds of the phase associator (see the module's rules).

    Attributes
    ----------
    min_stations : int
        Stations with a P (or unlabelled) pick an event needs.
    min_phases : int
        Phases an event needs (7 by default: with one or two phases to spare over the four
        unknowns, picks that fit by chance are too common in a noisy stream, as
        ``bench/locate.py`` shows). At least ``min_stations``: a network of three stations
        makes events of their three P picks, which the chi-square test cannot check (no
        phase to spare) and which are published not located when the locator's
        ``min_phases`` asks for more (see :meth:`QuakeAssociator._publish`).
    p_model_error_s, s_model_error_s : float
        How far the velocity model's times may be off, seconds: with a pick's uncertainty
        (in quadrature) the uncertainty of its residual.
    tolerance_sigmas : float
        Largest residual, in those uncertainties.
    max_prediction_error_s : float
        Cap of the prediction's own uncertainty added to the tolerance.
    min_moveout_s : float
        P picks of a new event spanning less than this are a glitch, not a quake.
    confidence : float
        A new event's residuals must pass a chi-square test at this level: the sum of the
        squared residuals over their uncertainties (pick and model), over the degrees of
        freedom left (phases minus 4), below the chi-square quantile. Random picks a
        hypocentre happens to explain within the tolerance rarely pass it.
    min_coverage : float
        Of the live stations (any pick within ``live_window_s``) no farther from a new event
        than its farthest P station, at least this share must have its P: a quake is picked
        at the stations nearest to it first, picks that happen to fit a hypocentre fall at
        random stations.
    live_window_s : float
    glitch_stations, glitch_window_s : int, float
        P picks at this many stations within this many seconds of one another are a glitch
        (a timing or telemetry fault seen by several stations at once): they start nothing
        and join nothing.
    nucleation_spacing_km, nucleation_depth_km : float
        Steps of the grid that votes for clusters.
    max_voters : int
        At most this many stations (the nearest to the pick's) vote with it: on a network of
        thousands of stations the pool holds picks from all over it, and a cluster needs only
        ``min_stations``.
    vote_reach_km : float
        A station's P picks vote for source positions within this distance of it (north-south
        and east-west). A network narrower than this less the locator's search margin votes
        over the whole grid; on a wide one it bounds the grid's memory and the cost of a vote.
    settle_phases : int
        From this many phases an event is relocated only when its phases have grown by
        ``relocate_growth`` (a share) since its last location, and at the end.
    relocate_growth : float
    linger_s : float
        An event stays open this long after its farthest station's S is due.
    relabel : bool
        Let a pick join an event as the other phase when only that fits (a picker's S
        called P, say).
    locator : LocatorConfig
        How events are located (fixed depth, grades...).
    """

    min_stations: int = 4
    min_phases: int = 7
    p_model_error_s: float = 0.2
    s_model_error_s: float = 0.35
    tolerance_sigmas: float = 3.0
    max_prediction_error_s: float = 3.0
    min_moveout_s: float = 0.05
    confidence: float = 0.99
    min_coverage: float = 0.6
    live_window_s: float = 600.0
    glitch_stations: int = 3
    glitch_window_s: float = 0.02
    nucleation_spacing_km: float = 15.0
    nucleation_depth_km: float = 20.0
    vote_reach_km: float = 300.0
    max_voters: int = 24
    settle_phases: int = 40
    relocate_growth: float = 0.2
    linger_s: float = 5.0
    relabel: bool = True
    locator: LocatorConfig = field(default_factory=LocatorConfig)

    def __post_init__(self) -> None:
        if self.min_stations < 3:
            raise ValueError(f"need min_stations >= 3, got {self.min_stations}")
        if self.min_phases < self.min_stations:
            raise ValueError(f"need min_phases >= min_stations, got {self.min_phases}")
        for name in (
            "tolerance_sigmas",
            "nucleation_spacing_km",
            "nucleation_depth_km",
            "vote_reach_km",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"need a finite {name} > 0, got {value}")
        if not 0 <= self.min_coverage <= 1:
            raise ValueError(f"need 0 <= min_coverage <= 1, got {self.min_coverage}")
        if self.max_voters < self.min_stations:
            raise ValueError(f"need max_voters >= min_stations, got {self.max_voters}")
        if self.glitch_stations < 2:
            raise ValueError(f"need glitch_stations >= 2, got {self.glitch_stations}")
        if not 0.5 <= self.confidence < 1:
            raise ValueError(f"need 0.5 <= confidence < 1, got {self.confidence}")
        for name in (
            "p_model_error_s",
            "s_model_error_s",
            "max_prediction_error_s",
            "min_moveout_s",
            "relocate_growth",
            "linger_s",
            "live_window_s",
            "glitch_window_s",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"need a finite {name} >= 0, got {value}")


class _Pool(dict[int, PhasePick]):
    """The picks waiting for an event, by key, with a bound on the oldest one's time (no
    greater than it; exact after :meth:`QuakeAssociator.close_before` scanned them)."""

    earliest: float = math.inf

    def __setitem__(self, key: int, pick: PhasePick) -> None:
        super().__setitem__(key, pick)
        if pick.time < self.earliest:
            self.earliest = pick.time


class _Picks(dict[int, tuple[PhasePick, Phase]]):
    """A track's picks by key, (pick, phase used), with the key holding each station's
    phase (a track keeps one P and one S a station)."""

    def __init__(self, items: Mapping[int, tuple[PhasePick, Phase]] | None = None) -> None:
        super().__init__()
        self.slots: dict[tuple[str, Phase], int] = {}
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: int, value: tuple[PhasePick, Phase]) -> None:
        super().__setitem__(key, value)
        self.slots[(value[0].station, value[1])] = key

    def __delitem__(self, key: int) -> None:
        pick, used = self[key]
        super().__delitem__(key)
        if self.slots.get((pick.station, used)) == key:
            del self.slots[(pick.station, used)]

    def pop(self, key: int) -> tuple[PhasePick, Phase]:  # type: ignore[override]
        value = self[key]
        del self[key]
        return value


@dataclass
class _Track:
    """An event, or a candidate on its way to becoming one."""

    picks: _Picks  # key -> (pick, phase used)
    working: Origin  # free depth whenever the phases allow: what association predicts from
    event_key: int = -1
    version: int = 0
    published: Origin | None = None
    closes: tuple[Origin, float] | None = None  # the working origin and when it closes
    located_phases: int = 0  # phases at the last relocation
    searched_phases: int = 0  # phases at the last search of the whole grid (a candidate's)
    shown: dict[int, tuple[LocatedArrival | None, Phase, AssociatedPick]] = field(
        default_factory=dict
    )  # what _quake made of each pick, from which arrival

    def slot(self, station: str, phase: Phase) -> int | None:
        return self.picks.slots.get((station, phase))

    def p_stations(self) -> set[str]:
        return {p.station for p, used in self.picks.values() if used == "P"}


class QuakeAssociator:
    """Streams picks into located earthquakes.

    Parameters
    ----------
    stations : mapping of str to StationCoordinates
        Every station whose picks can be associated; picks of other stations are returned
        unassociated at once.
    table : TravelTimeTable
        Travel times of the velocity model.
    config : QuakeAssociatorConfig, optional

    Raises
    ------
    ValueError
        With fewer stations than ``min_stations``.
    """

    def __init__(
        self,
        stations: Mapping[str, StationCoordinates],
        table: TravelTimeTable,
        config: QuakeAssociatorConfig | None = None,
    ) -> None:
        self._cfg = config or QuakeAssociatorConfig()
        if len(stations) < self._cfg.min_stations:
            raise ValueError(
                f"need at least min_stations={self._cfg.min_stations} stations with "
                f"coordinates, got {len(stations)}"
            )
        self._stations = dict(stations)
        self._table = table
        self._work_cfg = replace(
            self._cfg.locator, min_phases=3, min_phases_free_depth=4, likelihood_errors=False
        )
        self._sparse = self._cfg.min_phases < _DETERMINED
        """Events may have no phase to spare (a three-station network): see :meth:`_fit`."""
        self._bound = SolutionBound(table)
        self._located: dict[
            tuple[tuple[Observation, ...], tuple[float, float, float] | None, LocatorConfig],
            Origin,
        ] = {}
        self._pool = _Pool()
        self._events: dict[int, _Track] = {}
        self._candidates: list[_Track] = []
        self._next_key = 1
        self._horizon = -math.inf
        self._last_pick: dict[str, float] = {}
        self._last_pick_earliest = math.inf  # at most the oldest of _last_pick
        self._glitches: set[int] = set()
        self._derive()

    def add_stations(self, stations: Mapping[str, StationCoordinates]) -> None:
        """Stations joining while running (a station already known takes the new
        coordinates): what is derived from the stations is built again, and the picks
        waiting, the open events and candidates (their keys and versions) carry on; an open
        event takes the new stations' picks."""
        self._stations.update(stations)
        self._derive()
        for track in (*self._events.values(), *self._candidates):
            track.closes = None  # when it closes depends on the stations: computed again

    def _derive(self) -> None:
        """The stations' index, coordinates, distances apart, the longest wait of a pick and
        the voting grid."""
        table = self._table
        self._located.clear()  # located with the stations' former coordinates
        self._index = {name: i for i, name in enumerate(self._stations)}
        lat = np.array([c.latitude for c in self._stations.values()])
        lon = np.array([c.longitude for c in self._stations.values()])
        self._elev = np.array([c.elevation_km for c in self._stations.values()])
        self._lat, self._lon = lat, lon
        self._apart = distance_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        aperture = float(self._apart.max())
        reach = min(aperture + self._cfg.locator.search_margin_km, table.max_distance_km)
        self._wait = float(table.time(True, reach, 0.0)) + 15.0
        """Longest a pick can wait in the pool for the rest of its event."""
        self._grid = VotingGrid(
            lat,
            lon,
            self._elev,
            table,
            spacing_km=self._cfg.nucleation_spacing_km,
            depth_step_km=self._cfg.nucleation_depth_km,
            margin_km=self._cfg.locator.search_margin_km,
            max_depth_km=min(
                self._cfg.locator.max_depth_km or table.max_depth_km, table.max_depth_km
            ),
            reach_km=self._cfg.vote_reach_km,
        )

    # -- public ---------------------------------------------------------------------------

    @property
    def open_events(self) -> tuple[Quake, ...]:
        """The preliminary events, in order of event key."""
        return tuple(self._quake(t, "preliminary") for _, t in sorted(self._events.items()))

    @property
    def open_pick_keys(self) -> frozenset[int]:
        """Keys of the picks a later update may still name: waiting, or in an open event
        or candidate."""
        keys = set(self._pool)
        for track in (*self._events.values(), *self._candidates):
            keys.update(track.picks)
        return frozenset(keys)

    @property
    def voting_grid_bytes(self) -> int:
        """Memory the voting grid's kept station travel times take."""
        return self._grid.kept_bytes

    @property
    def pool_size(self) -> int:
        """Picks waiting for an event."""
        return len(self._pool)

    @property
    def next_event_key(self) -> int:
        """The key the next new event will be given."""
        return self._next_key

    def quiet_state(self) -> tuple[float, tuple[tuple[str, float], ...]] | None:
        """What of the past can still shape the output, when nothing is open; else ``None``.

        Quiet: no open event, no candidate, no pick waiting in the pool, no glitch pick
        held. What is left then that later output depends on is returned: the data-time
        horizon of :meth:`close_before` (a pick older than it less the longest wait is
        refused) and each live station's latest pick time (the coverage test), by station.
        Two quiet associators of the same stations, table and configuration with equal
        states give the same output from the same picks on, up to event keys, which go on
        from :attr:`next_event_key` in each.

        The rest of the state is neutral: the remembered locations (a location is a function
        of its observations, start and configuration), the voting grid's kept columns (a
        function of the station), and the bounds kept on the oldest pool pick and on the
        oldest station pick time (they only decide when an exact scan runs).

        Returns
        -------
        tuple of (float, tuple of (str, float)) or None
            The horizon and the sorted (station, latest pick time) pairs; ``None`` when not
            quiet.
        """
        if self._events or self._candidates or self._pool or self._glitches:
            return None
        return self._horizon, tuple(sorted(self._last_pick.items()))

    def add(self, pick: PhasePick) -> QuakeUpdate:
        """Offer one pick; return the events it created, changed or deleted.

        A pick of a station without coordinates, or one too old for any open event, comes
        back at once as unassociated; a pick offered twice (same key) is ignored.

        Raises
        ------
        ValueError
            If the pick's time or uncertainty is not a finite number (uncertainty > 0), or
            its phase is not P, S or None.
        """
        if not (math.isfinite(pick.time) and math.isfinite(pick.uncertainty)):
            raise ValueError(f"need a finite time and uncertainty, got {pick}")
        if pick.uncertainty <= 0:
            raise ValueError(f"need an uncertainty > 0, got {pick.uncertainty}")
        if pick.phase not in ("P", "S", None):
            raise ValueError(f"phase must be 'P', 'S' or None, got {pick.phase!r}")
        if pick.station not in self._stations or pick.time < self._horizon - self._wait:
            return QuakeUpdate(unassociated=(pick,))
        if pick.key in self._pool or any(pick.key in t.picks for t in self._events.values()):
            return QuakeUpdate()
        latest = max(self._last_pick.get(pick.station, -math.inf), pick.time)
        self._last_pick[pick.station] = latest
        self._last_pick_earliest = min(self._last_pick_earliest, latest)
        best = self._best_track(pick, list(self._events.values()))
        if best is None and self._glitch(pick):
            return self._drop_glitches()
        changed: dict[int, _Track] = {}
        deleted: list[_Track] = []
        released: list[PhasePick] = []
        if best is not None:
            track, phase = best
            released += self._join(track, pick, phase)
            self._claim({pick.key})  # the sweep claimed what it took
            changed[track.event_key] = track
        else:
            self._pool[pick.key] = pick
            promoted = self._grow_candidates(pick)
            if promoted is None and pick.phase != "S":
                promoted = self._nucleate(pick)
            if promoted is not None:
                changed[promoted.event_key] = promoted
                if promoted.version == 0:  # a new event, not one it merged into
                    moved, deleted = self._compete(promoted)
                    changed.update((t.event_key, t) for t in moved)
        for key in {p.key for p in released}:
            self._pool[key] = next(p for p in released if p.key == key)
        for track in deleted:
            changed.pop(track.event_key, None)
        for track in changed.values():
            self._publish(track)
        out = [self._quake(t, "preliminary") for t in changed.values()]
        out += [self._quake(t, "deleted") for t in deleted]
        return QuakeUpdate(tuple(sorted(out, key=lambda q: q.event_key)))

    def close_before(self, time: float) -> QuakeUpdate:
        """Make final the events no further arrival can reach by data time ``time``.

        Returns
        -------
        QuakeUpdate
            The final events (relocated from scratch) and the pool picks too old to join any
            event, which are released as unassociated.
        """
        self._horizon = max(self._horizon, time)
        done = [t for t in self._events.values() if self._closes(t) < time]
        finals: list[Quake] = []
        for track in sorted(done, key=lambda t: t.event_key):
            del self._events[track.event_key]
            for pick in self._relocate(track, start=None):
                self._pool[pick.key] = pick
            self._publish(track)
            finals.append(self._quake(track, "final"))
        self._candidates = [c for c in self._candidates if self._closes(c) >= time]
        # called for every record: the pool and the stations are scanned only when the
        # oldest of them may have aged out (exact: each keeps a bound on its oldest time)
        old: list[PhasePick] = []
        if self._pool.earliest < time - self._wait:
            old = [p for p in self._pool.values() if p.time < time - self._wait]
            self._claim({p.key for p in old})
            self._glitches.difference_update(p.key for p in old)
            self._pool.earliest = min((p.time for p in self._pool.values()), default=math.inf)
        if self._last_pick_earliest < time - self._cfg.live_window_s:
            for station, last in list(self._last_pick.items()):
                if last < time - self._cfg.live_window_s:
                    del self._last_pick[station]
            self._last_pick_earliest = min(self._last_pick.values(), default=math.inf)
        return QuakeUpdate(tuple(finals), tuple(sorted(old, key=lambda p: (p.time, p.key))))

    def flush(self) -> QuakeUpdate:
        """End of data: every open event becomes final, every pool pick unassociated."""
        return self.close_before(math.inf)

    # -- association with events ------------------------------------------------------------

    def _glitch(self, pick: PhasePick) -> bool:
        """Whether the pick, which no open event explains, makes (or joins) a glitch: P picks
        no event explains as P at ``glitch_stations`` stations within ``glitch_window_s``.
        Glitch picks stay in the pool, out of every vote and event, until they are released
        as unassociated.

        The picks an event holds as the picker's P are its own: on a network of thousands of
        stations a large quake's P reaches stations the same distance away within a few
        milliseconds of one another, and another pick falling among them is no reason to
        take them back. A pick an event took as the other phase (or without a phase from the
        picker) may have been a glitch's first pick: it counts."""
        if pick.phase == "S":
            return False
        w = self._cfg.glitch_window_s

        def near(picks: list[PhasePick]) -> list[PhasePick]:
            return [
                p
                for p in picks
                if p.phase != "S" and abs(p.time - pick.time) <= w and p.station != pick.station
            ]

        held = [p for t in self._events.values() for p, used in t.picks.values() if p.phase != used]
        company = near([*self._pool.values(), *held])
        if len({p.station for p in company}) + 1 < self._cfg.glitch_stations:
            return False
        self._pool[pick.key] = pick
        self._glitches.update(p.key for p in company)
        self._glitches.add(pick.key)
        self._claim_candidates(self._glitches)
        return True

    def _drop_glitches(self) -> QuakeUpdate:
        """Events that took a glitch's first picks before it was one give them back."""
        changed = []
        for track in self._events.values():
            bad = self._glitches & track.picks.keys()
            if not bad:
                continue
            for key in bad:
                self._pool[key] = track.picks.pop(key)[0]
            for pick in self._relocate(track, start=track.working):
                self._pool[pick.key] = pick
            self._publish(track)
            changed.append(self._quake(track, "preliminary"))
        return QuakeUpdate(tuple(sorted(changed, key=lambda q: q.event_key)))

    def _closes(self, track: _Track) -> float:
        if track.closes is None or _where(track.closes[0]) != _where(track.working):
            track.closes = (track.working, self._closes_at(track.working))
        return track.closes[1]

    def _closes_at(self, origin: Origin) -> float:
        if not origin.located:
            return -math.inf
        d = distance_km(origin.latitude, origin.longitude, self._lat, self._lon)
        s = self._table.time(True, d, origin.depth_km) + self._table.elevation_delay(
            True, self._elev
        )
        slack = self._cfg.tolerance_sigmas * self._cfg.s_model_error_s
        return origin.time + float(s.max()) + slack + self._cfg.linger_s

    def _phases(self, track: _Track, pick: PhasePick) -> list[Phase]:
        """The phases a pick may join a track as: its own (either without one), or the other
        when relabelling is allowed and the track is an event."""
        phases: list[Phase] = ["P", "S"] if pick.phase is None else [pick.phase]
        if pick.phase is not None and self._cfg.relabel and track.event_key > 0:
            phases.append("S" if pick.phase == "P" else "P")
        return phases

    def _fit(self, track: _Track, pick: PhasePick) -> tuple[float, Phase] | None:
        """Normalised misfit and phase of the pick in the track, or None if it does not fit."""
        o = track.working
        if not o.located or pick.time < o.time or pick.key in self._glitches:
            return None
        if self._sparse and len(track.picks) < _DETERMINED:
            return self._fit_afresh(track, pick)
        c = self._stations[pick.station]
        d = float(distance_km(o.latitude, o.longitude, c.latitude, c.longitude))
        best: tuple[float, Phase] | None = None
        for phase in self._phases(track, pick):
            is_s = phase == "S"
            t, gx, gz = self._table.time_gradient(is_s, d, o.depth_km)
            predicted = o.time + float(t) + float(self._table.elevation_delay(is_s, c.elevation_km))
            spread = math.hypot(
                abs(float(gx)) * (o.semi_major_km or 0.0),
                abs(float(gz)) * (o.depth_error_km or 0.0),
                o.time_error_s or 0.0,
            )
            tol = self._tolerance(phase, pick) + min(spread, self._cfg.max_prediction_error_s)
            misfit = abs(pick.time - predicted) / tol
            if misfit > 1.0:
                continue
            held = track.slot(pick.station, phase)
            if (
                held is not None
                and held != pick.key
                and abs(track.picks[held][0].time - predicted) / tol <= misfit
            ):
                continue  # the station's pick of this phase fits better
            # a relabelled pick must fit clearly better than as the picker labelled it
            cost = misfit + (0.5 if pick.phase is not None and phase != pick.phase else 0.0)
            if best is None or cost < best[0]:
                best = (cost, phase)
        return best

    def _fit_afresh(self, track: _Track, pick: PhasePick) -> tuple[float, Phase] | None:
        """The fit of a pick to a track with no phase to spare (a three-station event of its
        P picks, say): its location is one of many that explain the picks, so what it
        predicts says little. The pick fits if the track's picks and it, located afresh,
        are all within the tolerance; it fills an empty slot only."""
        best: tuple[float, Phase] | None = None
        picks = {**{k: p for k, (p, _) in track.picks.items()}, pick.key: pick}
        for phase in self._phases(track, pick):
            held = track.slot(pick.station, phase)
            if held is not None and not self._fits_better(track, held, pick):
                continue
            trial = [
                *(o for o in self._observations(track) if o.key != held),
                Observation(pick.station, phase, pick.time, pick.uncertainty, pick.key),
            ]
            tolerances = [self._tolerance(o.phase, picks[o.key]) for o in trial]
            if not self._bound.may_fit(trial, tolerances, self._stations, self._work_cfg):
                continue  # no hypocentre explains them all: the location would not fit
            origin = self._locate(trial, None)
            if not origin.located:
                continue
            scores = {
                a.key: abs(a.residual) / self._tolerance(a.phase, picks[a.key])
                for a in origin.arrivals
            }
            if max(scores.values()) > 1.0 or not self._chi_square_passes(origin, picks):
                continue
            cost = scores[pick.key] + (
                0.5 if pick.phase is not None and phase != pick.phase else 0.0
            )
            if best is None or cost < best[0]:
                best = (cost, phase)
        return best

    def _fits_better(self, track: _Track, held: int, pick: PhasePick) -> bool:
        """Whether a pick may take a held slot of a track with no phase to spare: the same
        arrival on the station's other sensor (within the tolerance of the held pick) with
        a smaller uncertainty."""
        kept, phase = track.picks[held]
        close = abs(kept.time - pick.time) <= self._tolerance(phase, kept)
        return close and pick.uncertainty < kept.uncertainty

    def _copy_of_open_event(self, track: _Track) -> bool:
        """Whether most of a new track's picks are arrivals an open event already holds,
        as picked on the stations' other sensors (a station's seismometer and accelerometer
        both pick a quake) or given the other phase (an S picked on the vertical as a P):
        then it is that event's leftovers, not a new quake."""
        for event in self._events.values():
            same = 0
            for pick, _ in track.picks.values():
                window = self._tolerance("S", pick)
                if any(
                    held.station == pick.station and abs(held.time - pick.time) <= window
                    for held, _ in event.picks.values()
                ):
                    same += 1
            if same >= 0.8 * len(track.picks):
                return True
        return False

    def _tolerance(self, phase: Phase, pick: PhasePick) -> float:
        model = self._cfg.p_model_error_s if phase == "P" else self._cfg.s_model_error_s
        return self._cfg.tolerance_sigmas * math.hypot(pick.uncertainty, model)

    def _best_track(self, pick: PhasePick, tracks: list[_Track]) -> tuple[_Track, Phase] | None:
        best: tuple[float, _Track, Phase] | None = None
        for track in tracks:
            fit = self._fit(track, pick)
            if fit is not None and (best is None or fit[0] < best[0]):
                best = (fit[0], track, fit[1])
        return None if best is None else (best[1], best[2])

    def _join(self, track: _Track, pick: PhasePick, phase: Phase) -> list[PhasePick]:
        """Add the pick (replacing a worse one of its station and phase), relocate; return
        the picks the track let go."""
        released: list[PhasePick] = []
        held = track.slot(pick.station, phase)
        if held is not None:
            released.append(track.picks.pop(held)[0])
        track.picks[pick.key] = (pick, phase)
        if held is None and self._settled(track):
            track.working = self._with_arrivals(track.working, [(pick, phase)])
        else:
            released += self._relocate(track, start=track.working)
        released += self._sweep(track)
        return [p for p in released if p.key not in track.picks]

    def _settled(self, track: _Track) -> bool:
        """Whether the track's location stands for its present picks (see ``settle_phases``)."""
        n = track.located_phases
        return (
            track.working.located
            and n >= self._cfg.settle_phases
            and len(track.picks) < n * (1.0 + self._cfg.relocate_growth)
        )

    def _with_arrivals(self, origin: Origin, added: list[tuple[PhasePick, Phase]]) -> Origin:
        """The origin with the picks as arrivals of weight 0 (associated, not used): their
        residuals, distances and azimuths from it."""
        arrivals = []
        for pick, phase in added:
            c = self._stations[pick.station]
            d = float(distance_km(origin.latitude, origin.longitude, c.latitude, c.longitude))
            is_s = phase == "S"
            predicted = (
                origin.time
                + float(self._table.time(is_s, d, origin.depth_km))
                + float(self._table.elevation_delay(is_s, c.elevation_km))
            )
            az = float(azimuth_deg(origin.latitude, origin.longitude, c.latitude, c.longitude))
            arrivals.append(
                LocatedArrival(
                    key=pick.key,
                    station=pick.station,
                    phase=phase,
                    time=pick.time,
                    uncertainty=pick.uncertainty,
                    residual=pick.time - predicted,
                    weight=0.0,
                    distance_km=d,
                    azimuth=az,
                )
            )
        return replace(origin, arrivals=origin.arrivals + tuple(arrivals))

    def _claim(self, keys: set[int]) -> None:
        """Picks an event took leave the pool and every candidate."""
        for key in keys:
            self._pool.pop(key, None)
        self._claim_candidates(keys)

    def _claim_candidates(self, keys: set[int]) -> None:
        survivors: list[_Track] = []
        for c in self._candidates:
            for key in keys & c.picks.keys():
                del c.picks[key]
            if len(c.p_stations()) >= self._cfg.min_stations:
                survivors.append(c)
        self._candidates = survivors

    def _observations(self, track: _Track) -> list[Observation]:
        return [
            Observation(p.station, used, p.time, p.uncertainty, p.key)
            for p, used in track.picks.values()
        ]

    def _relocate(self, track: _Track, start: Origin | None) -> list[PhasePick]:
        """Locate the track; release picks beyond the tolerance, worst first, as long as the
        track keeps ``min_stations`` stations with P."""
        released: list[PhasePick] = []
        if self._sparse and len(track.picks) <= _DETERMINED:
            start = None  # from few phases, the last location is one of many: search afresh
        while True:
            hypo = None
            if start is not None and start.located:
                hypo = (start.latitude, start.longitude, start.depth_km)
            origin = self._locate(self._observations(track), hypo)
            track.working = origin
            track.located_phases = len(track.picks)
            start = origin
            worst: tuple[float, int] | None = None
            for a in origin.arrivals:
                pick = track.picks[a.key][0]
                excess = abs(a.residual) / self._tolerance(a.phase, pick)
                if excess > 1.0 and (worst is None or excess > worst[0]):
                    worst = (excess, a.key)
            if worst is None or not origin.located:
                return released
            pick, used = track.picks[worst[1]]
            if used == "P" and len(track.p_stations()) <= self._cfg.min_stations:
                return released
            del track.picks[worst[1]]
            released.append(pick)

    def _locate(
        self,
        observations: list[Observation],
        start: tuple[float, float, float] | None,
        config: LocatorConfig | None = None,
    ) -> Origin:
        """The location of the observations (from ``start``, or searched afresh) with the
        working configuration, or ``config``.

        On a sparse network the last few are remembered: a three-station event is located
        from scratch with the same picks when it is found, made an event and made final
        (and its published origin, with the errors scanned on a grid, made again for the
        final version), and a pick tried against it again after a miss is tried with the
        same picks. A location is a function of its observations, start and configuration
        (the stations and the table fixed), so the one remembered is the one ``locate``
        would make again. (A dense network's events are located from their last
        hypocentre with a new pick each time: nothing repeats.)"""
        config = config or self._work_cfg
        if not self._sparse:
            return locate(observations, self._stations, self._table, config, start=start)
        key = (tuple(observations), start, config)
        origin = self._located.get(key)
        if origin is None:
            origin = locate(observations, self._stations, self._table, config, start=start)
            if len(self._located) >= _LOCATIONS_KEPT:
                del self._located[next(iter(self._located))]
            self._located[key] = origin
        return origin

    def _sweep(self, track: _Track) -> list[PhasePick]:
        """Pool picks the track now explains join it (one relocation for all of them)."""
        joined: list[tuple[PhasePick, Phase]] = []
        replaced = False
        for key in sorted(self._pool, key=lambda k: self._pool[k].time):
            pick = self._pool[key]
            fit = self._fit(track, pick)
            if fit is None:
                continue
            held = track.slot(pick.station, fit[1])
            if held is not None:
                self._pool[held] = track.picks.pop(held)[0]
                replaced = True
            track.picks[key] = (pick, fit[1])
            self._claim({key})
            joined.append((pick, fit[1]))
        if not joined:
            return []
        if not replaced and self._settled(track):
            track.working = self._with_arrivals(track.working, joined)
            return []
        return self._relocate(track, start=track.working)

    # -- new events ---------------------------------------------------------------------------

    def _grow_candidates(self, pick: PhasePick) -> _Track | None:
        for cand in list(self._candidates):
            fit = self._fit(cand, pick)
            if fit is None or cand.slot(pick.station, fit[1]) is not None:
                continue
            cand.picks[pick.key] = (pick, fit[1])
            promoted = self._promote(cand)
            if promoted is not None:
                return promoted
        return None

    def _nucleate(self, pick: PhasePick) -> _Track | None:
        cluster = self._vote(pick)
        if cluster is None:
            return None
        p_picks, (lat, lon, depth) = cluster
        start = replace(_UNLOCATED, latitude=lat, longitude=lon, depth_km=depth, status="free")
        picks: dict[int, tuple[PhasePick, Phase]] = {p.key: (p, "P") for p in p_picks}
        track = _Track(picks=_Picks(picks), working=start)
        self._relocate(track, start=start)
        if len(track.p_stations()) < self._cfg.min_stations or not track.working.located:
            return None
        for other in sorted(self._pool.values(), key=lambda p: p.time):
            if other.key in track.picks:
                continue
            fit = self._fit(track, other)
            if fit is not None and track.slot(other.station, fit[1]) is None:
                track.picks[other.key] = (other, fit[1])
        if len(track.picks) > len(picks):
            self._relocate(track, start=track.working)
        promoted = self._promote(track)
        if promoted is None:
            keys = frozenset(k for k, (_, used) in track.picks.items() if used == "P")
            self._candidates = [
                c
                for c in self._candidates
                if not keys >= {k for k, (_, used) in c.picks.items() if used == "P"}
            ]
            self._candidates.append(track)
        return promoted

    def _promote(self, track: _Track) -> _Track | None:
        """Make the track an event if it is one (see the module's rules), or merge it into an
        open event it turns out to be part of."""
        if len(track.picks) < self._cfg.min_phases:
            return None
        # searched afresh when its phases grew by a fifth since the last search (a candidate
        # that grows pick by pick without passing would otherwise search the whole grid at
        # every pick); in between, from its last location
        afresh = len(track.picks) >= track.searched_phases * (1.0 + self._cfg.relocate_growth)
        self._relocate(track, start=None if afresh else track.working)
        if afresh:
            track.searched_phases = len(track.picks)
        if not self._explains(track) or self._coverage(track) < self._cfg.min_coverage:
            return None
        if self._sparse and self._copy_of_open_event(track):
            return None
        self._candidates = [c for c in self._candidates if c is not track]
        merged = self._merge(track)
        if merged is not None:
            return merged
        self._claim(set(track.picks))
        track.event_key = self._next_key
        self._next_key += 1
        self._events[track.event_key] = track
        for pick in self._sweep(track):
            self._pool[pick.key] = pick
        return track

    def _compete(self, new: _Track) -> tuple[list[_Track], list[_Track]]:
        """Picks of the other open events that the new event explains better move to it.

        Two quakes close in time can make an event of their mixed picks before either has
        enough picks of its own; when one of them appears, it takes back its picks. An event
        left unexplained by what remains is deleted and its picks return to the pool (from
        which the events sweep what they explain). Returns the events changed and deleted."""
        moved: dict[int, _Track] = {}
        for old in list(self._events.values()):
            if old is new:
                continue
            taken = []
            for key, (pick, used) in old.picks.items():
                here = self._misfit(old, pick, used)
                fit = self._fit(new, pick)
                if fit is not None and fit[0] + _MOVE_MARGIN < here:
                    taken.append((key, pick, fit[1]))
            if not taken:
                continue
            for key, pick, phase in taken:
                if new.slot(pick.station, phase) is not None:
                    continue
                del old.picks[key]
                new.picks[key] = (pick, phase)
            moved[old.event_key] = old
        if not moved:
            return [], []
        for pick in self._relocate(new, start=new.working):
            self._pool[pick.key] = pick
        deleted: list[_Track] = []
        for old in moved.values():
            released = self._relocate(old, start=old.working) if old.picks else []
            if old.picks and self._explains(old):
                for pick in released:
                    self._pool[pick.key] = pick
                continue
            deleted.append(old)
            del self._events[old.event_key]
            for pick, _ in old.picks.values():
                self._pool[pick.key] = pick
            for pick in released:
                self._pool[pick.key] = pick
        changed = [new, *(t for t in moved.values() if t not in deleted)]
        for track in changed:
            for pick in self._sweep(track):
                self._pool[pick.key] = pick
        return changed[1:], deleted

    def _misfit(self, track: _Track, pick: PhasePick, phase: Phase) -> float:
        """|residual| / tolerance of a pick the track holds."""
        for a in track.working.arrivals:
            if a.key == pick.key:
                return abs(a.residual) / self._tolerance(phase, pick)
        return math.inf

    def _explains(self, track: _Track) -> bool:
        """Enough phases and stations with P, every residual within the tolerance, a passing
        chi-square test, P times that move out across the network."""
        o = track.working
        p_times = [p.time for p, used in track.picks.values() if used == "P"]
        if (
            len(track.picks) < self._cfg.min_phases
            or len(track.p_stations()) < self._cfg.min_stations
            or not o.located
            or max(p_times) - min(p_times) < self._cfg.min_moveout_s
        ):
            return False
        for a in o.arrivals:
            pick = track.picks[a.key][0]
            if abs(a.residual) > self._tolerance(a.phase, pick):
                return False
        return self._chi_square_passes(o, {k: p for k, (p, _) in track.picks.items()})

    def _chi_square_passes(self, origin: Origin, picks: Mapping[int, PhasePick]) -> bool:
        """The origin's residuals over their uncertainties (pick and model) pass the
        chi-square test at ``confidence``; with no phase to spare there is nothing to test."""
        chi2 = 0.0
        for a in origin.arrivals:
            model = self._cfg.p_model_error_s if a.phase == "P" else self._cfg.s_model_error_s
            chi2 += a.residual**2 / (picks[a.key].uncertainty ** 2 + model**2)
        dof = len(origin.arrivals) - 4
        if dof < 1:
            return True
        return chi2 <= float(scipy.stats.chi2.ppf(self._cfg.confidence, dof))

    def _merge(self, new: _Track) -> _Track | None:
        """An open event that is the same quake as the new one (one hypocentre explains most
        picks of both: the old event was located wrong, so the new picks did not fit it)
        takes the union; return it, or None."""
        t0 = new.working.time
        for old in sorted(self._events.values(), key=lambda e: abs(e.working.time - t0)):
            if not old.working.located or abs(old.working.time - t0) > _MERGE_WINDOW_S:
                continue
            union = dict(new.picks)
            slots = {(p.station, used) for p, used in new.picks.values()}
            for key, (pick, used) in old.picks.items():
                if (pick.station, used) not in slots:
                    union[key] = (pick, used)
            trial = _Track(picks=_Picks(union), working=new.working)
            self._relocate(trial, start=None)
            kept = set(trial.picks)
            if (
                not self._explains(trial)
                or len(kept & new.picks.keys()) < 0.8 * len(new.picks)
                or len(kept & old.picks.keys()) < 0.5 * len(old.picks)
            ):
                continue
            released = [p for key, (p, _) in old.picks.items() if key not in kept]
            old.picks, old.working = trial.picks, trial.working
            self._claim(kept)
            for pick in released:
                self._pool[pick.key] = pick
            for pick in self._sweep(old):
                self._pool[pick.key] = pick
            return old
        return None

    def _coverage(self, track: _Track) -> float:
        """Share of the live stations within the farthest P station's distance that have P.

        A station counts as having its P when it picked anything near the predicted P time
        (another event may hold that pick): only a station silent when the P should have
        arrived counts against the event."""
        o = track.working
        picked = track.p_stations()
        live = [n for n in self._stations if n in self._last_pick and n not in picked]
        if not live:
            return 1.0
        reach = max(a.distance_km for a in o.arrivals if a.phase == "P")
        idx = np.array([self._index[n] for n in live])
        d = distance_km(o.latitude, o.longitude, self._lat[idx], self._lon[idx])
        near = d <= reach
        if not near.any():
            return 1.0
        t, gx, gz = self._table.time_gradient(False, d[near], o.depth_km)
        due = o.time + t + self._table.elevation_delay(False, self._elev[idx[near]])
        spread = np.hypot(
            np.hypot(np.abs(gx) * (o.semi_major_km or 0.0), np.abs(gz) * (o.depth_error_km or 0.0)),
            o.time_error_s or 0.0,
        )
        base = self._cfg.tolerance_sigmas * math.hypot(_TYPICAL_SIGMA, self._cfg.p_model_error_s)
        windows = base + np.minimum(spread, self._cfg.max_prediction_error_s)
        heard: dict[str, list[float]] = {}
        for other in [*self._events.values(), *self._candidates]:
            for p, _ in other.picks.values():
                heard.setdefault(p.station, []).append(p.time)
        for p in self._pool.values():
            heard.setdefault(p.station, []).append(p.time)
        missing = 0
        names = [live[i] for i in np.flatnonzero(near)]
        for name, when, window in zip(names, due, windows, strict=True):
            if not any(abs(t - when) <= window for t in heard.get(name, ())):
                missing += 1
        return len(picked) / (len(picked) + missing)

    def _vote(self, pick: PhasePick) -> tuple[list[PhasePick], tuple[float, float, float]] | None:
        """The source position the pick and the pool's other P picks agree on most: the P
        picks it explains (one a station) and the node."""
        cfg = self._cfg
        q = self._index[pick.station]
        v = self._table.surface_vp
        near = 2 * math.sqrt(2) * cfg.vote_reach_km  # farther, two windows cannot meet
        others = [
            p
            for p in self._pool.values()
            if p.phase != "S"
            and p.station != pick.station
            and p.key not in self._glitches
            and self._apart[q, self._index[p.station]] <= near
            and abs(p.time - pick.time)
            <= self._apart[q, self._index[p.station]] / v
            + self._tolerance("P", p)
            + self._tolerance("P", pick)
        ]
        stations = {p.station for p in others}
        if len(stations) + 1 < cfg.min_stations:
            return None
        if len(stations) > cfg.max_voters:  # a wide network's pool: the nearest vote
            nearest = sorted(stations, key=lambda s: (self._apart[q, self._index[s]], s))
            kept = set(nearest[: cfg.max_voters])
            others = [p for p in others if p.station in kept]
        voters = sorted({self._index[p.station] for p in others} | {q})
        column = {station: k for k, station in enumerate(voters)}
        grid = self._grid.window(q, voters)
        columns = np.array([column[self._index[p.station]] for p in others])
        own = column[q]
        times = np.array([p.time - pick.time for p in others])
        sigma = np.array([p.uncertainty for p in others])
        tol = cfg.tolerance_sigmas * np.sqrt(
            sigma**2 + pick.uncertainty**2 + 2 * cfg.p_model_error_s**2
        )
        origin = -grid.time[:, own].astype(np.float64)
        delta = times[None, :] - grid.time[:, columns] - origin[:, None]
        slack = np.abs(grid.slack[:, columns, :] - grid.slack[:, own : own + 1, :])
        ok = np.abs(delta) <= tol[None, :] + slack.sum(axis=2)
        votes = np.ones(origin.size, dtype=np.int64)
        for name in {p.station for p in others}:
            votes += ok[:, columns == column[self._index[name]]].any(axis=1)
        top = int(votes.max())
        if top < cfg.min_stations:
            return None
        best = np.flatnonzero(votes == top)
        spread = np.where(ok[best], np.abs(delta[best]) / tol[None, :], 0.0).sum(axis=1)
        node = int(best[np.argmin(spread)])
        chosen: dict[str, tuple[float, PhasePick]] = {}
        for j, p in enumerate(others):
            score = abs(float(delta[node, j])) / float(tol[j])
            if ok[node, j] and (p.station not in chosen or score < chosen[p.station][0]):
                chosen[p.station] = (score, p)
        lat, lon, depth = grid.node(node)
        return [pick, *(p for _, p in chosen.values())], (lat, lon, depth)

    # -- output -----------------------------------------------------------------------------

    def _publish(self, track: _Track) -> None:
        """The origin reported: the working one, or located again with the caller's locator
        configuration when that fixes the depth or refuses to locate."""
        track.version += 1
        n = len(track.picks)
        user = self._cfg.locator
        # errors the working origin has not: a few stations' are scanned on a grid
        scan = user.likelihood_errors and not _at_least_stations(track.picks, 4)
        if n >= user.min_phases_free_depth and _at_least_stations(track.picks, 3) and not scan:
            track.published = track.working
        else:
            hypo = (track.working.latitude, track.working.longitude, track.working.depth_km)
            track.published = self._locate(self._observations(track), hypo, user)

    def _quake(self, track: _Track, status: QuakeStatus) -> Quake:
        """The track as the caller sees it, its picks made when first read (from a copy of
        the track's picks now)."""
        origin = track.published or track.working
        picks = dict(track.picks)
        return Quake(
            track.event_key, track.version, status, origin, lambda: _shown(track, origin, picks)
        )


def _shown(
    track: _Track, origin: Origin, picks: dict[int, tuple[PhasePick, Phase]]
) -> tuple[AssociatedPick, ...]:
    """A version's picks in time order. A pick's entry is made again only when its arrival
    (or phase) changed: a settled event's picks keep theirs between relocations."""
    by_key = {a.key: a for a in origin.arrivals}
    shown = track.shown
    out = []
    for key, (pick, used) in picks.items():
        a = by_key.get(key)
        held = shown.get(key)
        if held is not None and held[0] is a and held[1] == used:
            out.append(held[2])
            continue
        made = AssociatedPick(
            key=key,
            station=pick.station,
            phase=used,
            time=pick.time,
            uncertainty=pick.uncertainty,
            residual=a.residual if a is not None else math.nan,
            weight=a.weight if a is not None else 0.0,
            distance_km=a.distance_km if a is not None else math.nan,
            relabelled=pick.phase is not None and pick.phase != used,
        )
        shown[key] = (a, used, made)
        out.append(made)
    if len(shown) > 2 * len(track.picks) + 64:  # picks let go: forget them
        track.shown = {k: v for k, v in shown.items() if k in track.picks}
    out.sort(key=_time_order)
    return tuple(out)


def _time_order(pick: AssociatedPick) -> tuple[float, int]:
    return (pick.time, pick.key)


def _at_least_stations(picks: Mapping[int, tuple[PhasePick, Phase]], n: int) -> bool:
    """Whether the picks come from at least n stations (stops as soon as they do)."""
    seen: set[str] = set()
    for pick, _ in picks.values():
        seen.add(pick.station)
        if len(seen) >= n:
            return True
    return False


def _where(origin: Origin) -> tuple[float, float, float, float]:
    """The hypocentre and origin time (what an event's closing time depends on)."""
    return (origin.time, origin.latitude, origin.longitude, origin.depth_km)


_UNLOCATED = Origin(
    status="not_located",
    reason="",
    time=math.nan,
    latitude=math.nan,
    longitude=math.nan,
    depth_km=math.nan,
    rms=math.nan,
    n_phases=0,
    n_stations=0,
    azimuthal_gap=360.0,
    min_distance_km=math.nan,
    max_distance_km=math.nan,
    time_error_s=None,
    latitude_error_km=None,
    longitude_error_km=None,
    depth_error_km=None,
    semi_major_km=None,
    semi_minor_km=None,
    ellipse_azimuth=None,
    quality="-",
    arrivals=(),
)
