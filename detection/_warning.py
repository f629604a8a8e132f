"""Network early warning from a point source: P picks in, alert messages out.

As soon as ``min_stations`` stations have a P (first arrivals, picked at trigger-on), the
picks are located (:func:`detection.locate` with the velocity model's table), the magnitude
is estimated from each station's on-site Pd and tau_c (:mod:`detection._onsite`, Pd at the
hypocentral distance the location gives), and each target site gets its predicted intensity
and the time the S waves reach it. Each new station, and each record that grows the P windows,
updates the estimate; a message is sent when it changes enough (``update_magnitude``,
``update_km``, a site crossing its threshold).

Intensity prediction (``IntensityEquation``, configurable): by default Atkinson, Worden & Wald
(2014, BSSA 104, 3096), active crustal regions::

    MMI = c1 + c2 M + c3 log10 R + c4 R + c5 B + c6 M log10 R
    R = sqrt(D**2 + h**2), h = max(1, 10**(-1.72 + 0.43 M)), B = max(0, log10(R / 50))

with D the hypocentral distance (km); c1..c6 = 0.309, 1.864, -1.672, -0.00219, 1.77,
-0.383. Bindi et al. (2011, GJI 187, 327) fitted the same kind of equation to Central Asian
intensities: put its coefficients (or the Service's own) in ``[alerts.intensity]``.

False alerts are guarded against before anything is sent; each candidate turned down is
returned as a :class:`Suppressed` with its reason:

- ``too_few_stations``: fewer stations with P than ``min_stations`` (a glitch, a spike, a
  calibration pulse or a kicked sensor is seen by one station);
- ``timing``: a station's clock is not trusted (timing quality below ``min_timing_quality``):
  its picks are left out;
- ``sensors_disagree``: a station with a second sensor recording (an accelerometer beside
  the seismometer) enters the point source only when the two recorded the same motion in
  the first seconds of its P (:func:`detection.compare_colocated`): a glitch, a telemetry
  fault or a calibration pulse shows on one sensor. Until their verdict the station waits
  (the candidate is held, not suppressed); a station whose sensors disagree is left out,
  and a candidate left with fewer than ``min_stations`` is suppressed. Where the other
  sensor's noise hides motion this small (``unseen``: a small P, a noisy or dead
  accelerometer, or its data not there when the P window is complete), the station is used
  unconfirmed, as one with a single sensor is: the guards below still apply;
- ``clipped``: a sensor at full scale gives no Pd (the accelerometer's is used);
- ``not_located`` / ``inconsistent``: the picks fit no hypocentre (RMS above ``max_rms_s``:
  glitches at several stations at once are not one quake). While the picks are too few to
  free the depth (three P), the depth is fixed at each of ``trial_depths_km`` and the best
  fit kept: the region's quakes are shallow or 70-250 km deep;
- ``distant``: the epicentre is farther than ``max_distance_km`` from the nearest station
  (a large distant or teleseismic quake: its P crosses the network steeply, and its
  long-period P fakes a large tau_c);
- ``long_period``: a station's tau_c above ``max_tau_c_s`` (2.5 s, beyond M 7 where the
  3-s window saturates anyway), or above 1.5 times the seconds of P measured, is not a
  local P: a large distant quake's long-period P, a calibration step or a drift; its
  reading is left out, and when such stations are as many as the others the candidate is
  suppressed (an alert already out is cancelled);
- ``small``: the magnitude is below ``min_magnitude`` and no site reaches its threshold.

The engine follows one quake at a time: a P at a station that cannot share a source with the
candidate's first pick (more than twice ``max_distance_km`` from its station, or further
from it in time than the P can cross between the two stations at the model's surface
velocity, plus ``SAME_QUAKE_SLACK_S``) is another quake's and is left out.

After an alert, a pick that its hypocentre explains as the S wave at that station (see
``s_tolerance_s``) is that S, not the P of another quake: it neither joins nor starts a
candidate (``explained_s``), while the alert is out and after it ended; a cancelled alert's
hypocentre explains nothing.

An alert is ``ended`` when the S waves have passed every site by ``end_after_s``; it is
``cancelled`` (a false alarm) when its picks are withdrawn and too few stations are left.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from detection._colocated import SensorAgreement, Verdict
from detection._geo import distance_km
from detection._locate import LocatorConfig, Observation, Origin, StationCoordinates, locate
from detection._onsite import OnsiteReading, combined_magnitude, magnitude_from_pd
from detection._traveltime import TravelTimeTable

NOT_YET_GRID_KM = 5.0
"""Spacing of the epicentres searched with the stations still without P, km."""
NOT_YET_REACH_KM = 150.0
"""How far from the picked stations' centre they are searched, km (at most
``max_distance_km``)."""
NOT_YET_STATIONS = 48
"""At most this many stations still without P are used, the nearest to the picked ones: the
stations beside a quake are the ones its P reaches next, and a network of thousands of
silent stations would cost a grid of nodes x stations travel times at every pick."""
KM_PER_DEGREE = 111.19
SAME_QUAKE_SLACK_S = 2.0
"""Beyond the straight crossing at the surface velocity: picking errors and station
elevations."""

__all__ = [
    "IntensityEquation",
    "NetworkWarning",
    "PointSource",
    "SiteForecast",
    "Suppressed",
    "TargetSite",
    "WarningConfig",
    "WarningMessage",
]


@dataclass(frozen=True)
class TargetSite:
    """A place to warn: name, degrees, and the intensity at which it is warned."""

    name: str
    latitude: float
    longitude: float
    threshold_mmi: float = 4.0


@dataclass(frozen=True)
class IntensityEquation:
    """``MMI = c1 + c2 M + c3 log10 R + c4 R + c5 B + c6 M log10 R`` (see the module)."""

    c1: float = 0.309
    c2: float = 1.864
    c3: float = -1.672
    c4: float = -0.00219
    c5: float = 1.77
    c6: float = -0.383
    name: str = "Atkinson, Worden & Wald (2014), active crustal regions"

    def mmi(self, magnitude: float, hypocentral_km: float) -> float:
        """Predicted intensity at a hypocentral distance, within 1 to 10."""
        h = max(1.0, 10 ** (-1.72 + 0.43 * magnitude))
        r = math.sqrt(hypocentral_km**2 + h**2)
        log_r = math.log10(r)
        b = max(0.0, math.log10(r / 50.0))
        value = (
            self.c1
            + self.c2 * magnitude
            + self.c3 * log_r
            + self.c4 * r
            + self.c5 * b
            + self.c6 * magnitude * log_r
        )
        return min(10.0, max(1.0, value))


@dataclass(frozen=True)
class WarningConfig:
    """Settings of the network warning (``[alerts]`` in ``larza.toml``)."""

    min_stations: int = 3
    max_rms_s: float = 1.0
    max_distance_km: float = 250.0
    min_timing_quality: int = 50
    min_magnitude: float = 4.0
    max_tau_c_s: float = 2.5
    update_magnitude: float = 0.2
    update_km: float = 10.0
    end_after_s: float = 30.0
    pick_uncertainty_s: float = 0.2
    s_tolerance_s: float = 2.0
    s_tolerance_fraction: float = 0.5
    trial_depths_km: tuple[float, ...] = (10.0, 70.0, 150.0, 220.0)
    not_yet_margin_s: float = 1.0
    live_s: float = 30.0
    sites: tuple[TargetSite, ...] = ()
    intensity: IntensityEquation = field(default_factory=IntensityEquation)
    locator: LocatorConfig = field(
        default_factory=lambda: LocatorConfig(fixed_depth_km=100.0, min_phases_free_depth=4)
    )

    def __post_init__(self) -> None:
        if self.min_stations < 2:
            raise ValueError(f"need min_stations >= 2, got {self.min_stations}")
        for name in (
            "max_rms_s",
            "max_distance_km",
            "end_after_s",
            "pick_uncertainty_s",
            "s_tolerance_s",
            "live_s",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"need a finite {name} > 0, got {value}")
        if not (math.isfinite(self.not_yet_margin_s) and self.not_yet_margin_s >= 0):
            raise ValueError(f"need a finite not_yet_margin_s >= 0, got {self.not_yet_margin_s}")
        if not 0 <= self.s_tolerance_fraction < 1:
            raise ValueError(f"need 0 <= s_tolerance_fraction < 1, got {self.s_tolerance_fraction}")


@dataclass(frozen=True)
class SiteForecast:
    """What a target site is told: intensity, S arrival (POSIX s), seconds left then."""

    name: str
    latitude: float
    longitude: float
    mmi: float
    s_arrival: float
    warning_s: float
    alert: bool


@dataclass(frozen=True)
class PointSource:
    """The network's estimate: an origin, a magnitude, and the sites' forecasts."""

    origin: Origin
    magnitude: float
    magnitude_sigma: float
    stations: tuple[str, ...]
    sites: tuple[SiteForecast, ...]


@dataclass(frozen=True)
class Suppressed:
    """A candidate turned down, and why (see the module)."""

    reason: str
    detail: str
    stations: tuple[str, ...] = ()


Action = Literal["created", "updated", "cancelled", "ended"]


@dataclass(frozen=True)
class WarningMessage:
    """A message to send: the action, the estimate (None to cancel or end) and why."""

    action: Action
    source: PointSource | None
    reason: str = ""


@dataclass
class _Station:
    time: float  # P onset, POSIX s
    key: int
    timing_ok: bool = True
    sensors: Verdict | Literal["unchecked"] = "unchecked"  # its co-located sensors' word
    sensors_detail: str = ""
    readings: dict[str, OnsiteReading] = field(default_factory=dict)  # sensor -> reading
    clipped: set[str] = field(default_factory=set)


class NetworkWarning:
    """P picks and on-site readings in, warning messages out, for one quake at a time.

    Call :meth:`add_pick` with each station's first P (preliminary picks are what it is
    for), :meth:`add_reading` as each sensor's P window grows, :meth:`withdraw` when a pick
    is taken back, and :meth:`tick` with the time of the newest data: each returns the
    messages to send and the candidates suppressed.
    """

    def __init__(
        self,
        stations: Mapping[str, StationCoordinates],
        table: TravelTimeTable,
        config: WarningConfig | None = None,
    ) -> None:
        self._coords = dict(stations)
        self._lats = np.array([c.latitude for c in self._coords.values()])
        self._lons = np.array([c.longitude for c in self._coords.values()])
        self._reach_s: dict[str, float] = {}  # station -> when its P reached every station
        self._table = table
        self._config = config or WarningConfig()
        self._picks: dict[str, _Station] = {}
        self._sent: PointSource | None = None
        self._explains: Origin | None = None  # the last alert's hypocentre, for its S waves
        self._active = False
        self._said: set[tuple[str, str]] = set()
        # the picks last located, their origin, and the picks of the last whole-grid search
        self._located: tuple[tuple[tuple[str, float], ...], Origin, int] | None = None
        self._heard: dict[str, float] = {}  # station -> newest data time
        # the picks last searched again with the stations without P, and what was found
        self._not_yet: tuple[tuple[tuple[str, float], ...], Origin] | None = None
        self._last_pick: dict[str, float] = {}  # station -> time of its newest pick

    @property
    def active(self) -> bool:
        """Whether an alert is out (created, not cancelled or ended)."""
        return self._active

    @property
    def config(self) -> WarningConfig:
        return self._config

    @property
    def idle(self) -> bool:
        """No alert out and no pick held: the next pick starts a new candidate."""
        return not self._active and not self._picks

    def add_pick(
        self,
        station: str,
        time: float,
        key: int,
        *,
        timing_quality: int | None = None,
        colocated: bool = False,
    ) -> tuple[list[WarningMessage], list[Suppressed]]:
        """A station's P onset (its first; later ones of the same quake are ignored, but
        for one after a pick its sensors disagreed on, which replaces it).

        ``colocated``: the station has a second sensor recording (an accelerometer beside
        the seismometer): its P enters the point source only once :meth:`sensors` says
        they agree (see the module); without one it is used unchecked.
        """
        if station not in self._coords:
            return [], [Suppressed("unknown_station", f"{station} has no coordinates")]
        self.expire(time)
        self._last_pick[station] = max(time, self._last_pick.get(station, -math.inf))
        if self.rejected(station):  # a glitch held the station: this may be its P
            del self._picks[station]
        if station in self._picks or self._window_over(time) or not self._same_quake(station, time):
            return [], []
        due = self._explained_s(station, time)
        if due is not None:
            return [], [
                Suppressed(
                    "explained_s",
                    f"{station}: the S of the alert's hypocentre (due {due - time:+.1f} s from "
                    "the pick), not the P of another quake",
                    (station,),
                )
            ]
        ok = timing_quality is None or timing_quality >= self._config.min_timing_quality
        self._picks[station] = _Station(time, key, ok, "pending" if colocated else "unchecked")
        if not ok:
            return [], [
                Suppressed("timing", f"{station}: timing quality {timing_quality} %", (station,))
            ]
        return self._evaluate(now=time)

    def add_reading(
        self, station: str, sensor: str, reading: OnsiteReading, *, clipped: bool = False
    ) -> tuple[list[WarningMessage], list[Suppressed]]:
        """A sensor's on-site measurement since the station's P (it grows record by record)."""
        found = self._picks.get(station)
        if found is None:
            return [], []
        suppressed = []
        if clipped:
            if sensor not in found.clipped:
                suppressed.append(
                    Suppressed("clipped", f"{station}.{sensor} at full scale", (station,))
                )
            found.clipped.add(sensor)
            found.readings.pop(sensor, None)
        else:
            found.readings[sensor] = reading
        messages, more = self._evaluate(now=reading.onset_time + reading.seconds)
        return messages, suppressed + more

    def heard(self, station: str, until: float) -> None:
        """A station's data reach ``until`` (its newest sample). While it has no P, its P
        had not arrived by then: the hypocentre is farther from it, in travel time, than
        that (the not-yet-arrived data; see :meth:`_not_yet_arrived`)."""
        if until > self._heard.get(station, -math.inf):
            self._heard[station] = until

    def expire(self, time: float) -> tuple[str, ...]:
        """Drop a candidate that no P can join any more at ``time`` (no alert out, and the
        P of its quake would have reached every station by then: a glitch, or a small quake
        at fewer than ``min_stations``), so that the next quake's picks start one of their
        own rather than being left out as another quake's; the stations dropped.
        :meth:`add_pick` calls it; the caller may first, to restart those stations'
        meters."""
        if self._active or not self._picks:
            return ()
        name, first = min(self._picks.items(), key=lambda item: item[1].time)
        if time - first.time <= self._reach(name):
            return ()
        dropped = tuple(sorted(self._picks))
        self._picks.clear()
        self._located = None
        return dropped

    def rejected(self, station: str) -> bool:
        """Whether the station's pick was left out because its sensors disagree (its next
        pick replaces it)."""
        found = self._picks.get(station)
        return found is not None and found.sensors == "disagree"

    def awaiting(self, station: str) -> bool:
        """Whether the station's P waits for its co-located sensors' verdict."""
        found = self._picks.get(station)
        return found is not None and found.sensors == "pending"

    def sensors(
        self, station: str, agreement: SensorAgreement, now: float
    ) -> tuple[list[WarningMessage], list[Suppressed]]:
        """The verdict of the station's co-located sensors on its P
        (:func:`detection.compare_colocated`), at data time ``now``; a pending one changes
        nothing, a final one is kept."""
        found = self._picks.get(station)
        if found is None or found.sensors != "pending" or agreement.verdict == "pending":
            return [], []
        found.sensors = agreement.verdict
        found.sensors_detail = agreement.detail
        return self._evaluate(now=now)

    def withdraw(self, key: int, now: float) -> tuple[list[WarningMessage], list[Suppressed]]:
        """A pick taken back (its trigger was not a P): the estimate without it; an alert
        left with too few stations is cancelled."""
        gone = [s for s, p in self._picks.items() if p.key == key]
        for station in gone:
            del self._picks[station]
        if not gone:
            return [], []
        counted = [p for p in self._usable().values() if p.sensors != "disagree"]
        if self._active and len(counted) < self._config.min_stations:
            self._active = False
            self._sent = None
            self._explains = None
            return [WarningMessage("cancelled", None, f"picks withdrawn at {', '.join(gone)}")], []
        return self._evaluate(now=now)

    def tick(self, now: float) -> list[WarningMessage]:
        """The newest data time: an alert whose S waves have passed every site by
        ``end_after_s`` ends; a quiet candidate is forgotten."""
        if self._active and self._sent is not None:
            last = max([s.s_arrival for s in self._sent.sites] or [self._sent.origin.time + 60.0])
            if now > last + self._config.end_after_s:
                self._active = False
                source, self._sent = self._sent, None
                self._picks.clear()
                return [WarningMessage("ended", source, "the S waves have passed every site")]
        elif self._picks and now - min(p.time for p in self._picks.values()) > 120.0:
            self._picks.clear()
        return []

    # -- internals ----------------------------------------------------------------------------

    def _explained_s(self, station: str, time: float) -> float | None:
        """The predicted S time at ``station`` of the last alert's hypocentre, if the pick at
        ``time`` is that S: nearer to it than to the predicted P, and within
        ``s_tolerance_s`` plus ``s_tolerance_fraction`` of the S-P time (three P picks
        leave the depth unknown: a deep quake put at 100 km instead of 150 has its S-P
        times a third short)."""
        origin = self._explains
        if origin is None or time < origin.time:
            return None
        c = self._coords[station]
        epi = float(distance_km(origin.latitude, origin.longitude, c.latitude, c.longitude))
        p_time, s_time = (
            origin.time
            + float(self._table.time(is_s, epi, origin.depth_km))
            + float(self._table.elevation_delay(is_s, c.elevation_km))
            for is_s in (False, True)
        )
        cfg = self._config
        tolerance = cfg.s_tolerance_s + cfg.s_tolerance_fraction * (s_time - p_time)
        if abs(time - s_time) <= tolerance and abs(time - s_time) < abs(time - p_time):
            return s_time
        return None

    def _same_quake(self, station: str, time: float) -> bool:
        """Whether one source can send its P to ``station`` at ``time`` and to the candidate's
        first station at its pick (always, without a candidate)."""
        if not self._picks:
            return True
        name, first = min(self._picks.items(), key=lambda item: item[1].time)
        a, b = self._coords[name], self._coords[station]
        apart = float(distance_km(a.latitude, a.longitude, b.latitude, b.longitude))
        if apart > 2 * self._config.max_distance_km:
            return False
        return abs(time - first.time) <= apart / self._table.surface_vp + SAME_QUAKE_SLACK_S

    def _window_over(self, time: float) -> bool:
        """A pick too long after the first is another quake's (this engine follows one)."""
        if not self._picks:
            return False
        return time - min(p.time for p in self._picks.values()) > 60.0

    def _usable(self) -> dict[str, _Station]:
        return {s: p for s, p in self._picks.items() if p.timing_ok}

    def _evaluate(self, now: float) -> tuple[list[WarningMessage], list[Suppressed]]:
        cfg = self._config
        picked = self._usable()
        names = tuple(sorted(picked))
        if len(picked) < cfg.min_stations:
            return [], [
                Suppressed(
                    "too_few_stations",
                    f"P at {len(picked)} of the {cfg.min_stations} stations needed",
                    names,
                )
            ]
        usable = {s: p for s, p in picked.items() if p.sensors in ("agree", "unseen", "unchecked")}
        if len(usable) < cfg.min_stations:
            pending = [s for s, p in picked.items() if p.sensors == "pending"]
            if len(usable) + len(pending) >= cfg.min_stations:
                return [], []  # the sensors' verdicts are still to come
            disagree = sorted(s for s, p in picked.items() if p.sensors == "disagree")
            detail = "; ".join(f"{s}: {picked[s].sensors_detail}" for s in disagree)
            return [], [Suppressed("sensors_disagree", detail, names)]
        names = tuple(sorted(usable))
        observations = [
            Observation(s, "P", p.time, cfg.pick_uncertainty_s, p.key) for s, p in usable.items()
        ]
        origin = self._locate(observations, now)
        if origin.status == "not_located":
            return [], [Suppressed("not_located", origin.reason, names)]
        if origin.rms > cfg.max_rms_s:
            return [], [
                Suppressed("inconsistent", f"RMS {origin.rms:.2f} s > {cfg.max_rms_s} s", names)
            ]
        if origin.min_distance_km > cfg.max_distance_km:
            return [], [
                Suppressed(
                    "distant",
                    f"epicentre {origin.min_distance_km:.0f} km from the nearest station",
                    names,
                )
            ]
        magnitude, sigma, long_period = self._magnitude(origin, usable)
        sites = self._forecast(origin, magnitude, now)
        source = PointSource(origin, magnitude, sigma, names, sites)
        if not math.isfinite(magnitude):
            if long_period:
                detail = f"tau_c above {cfg.max_tau_c_s} s at {', '.join(long_period)}"
                if self._active:  # the P was not a local quake's after all: a false alarm
                    self._active = False
                    self._sent = None
                    self._picks.clear()
                    self._explains = None
                    return [WarningMessage("cancelled", None, f"long-period P: {detail}")], []
                return [], [Suppressed("long_period", detail, names)]
            return [], [Suppressed("no_magnitude", "no P window long enough yet", names)]
        if magnitude < cfg.min_magnitude and not any(s.alert for s in sites):
            return [], [Suppressed("small", f"M {magnitude:.1f}", names)]
        if not self._active:
            self._active = True
            self._sent = source
            self._explains = origin
            return [WarningMessage("created", source)], []
        if self._changed(source):
            self._sent = source
            self._explains = origin
            return [WarningMessage("updated", source, "the estimate changed")], []
        return [], []

    def _locate(self, observations: list[Observation], now: float) -> Origin:
        """The hypocentre; while too few picks free the depth and the configured fixed depth
        fits them worse than their uncertainty, the best of the fixed depths tried
        (``trial_depths_km``: a shallow quake and a deep one fit three P picks at their own
        depth only); one that the stations still without P rule out is searched again with
        them (:meth:`_not_yet_arrived`)."""
        origin = self._locate_picks(observations)
        silent = self._nearest(self._silent(now), [o.station for o in observations])
        if not silent or origin.status == "not_located" or not self._violation(origin, silent):
            return origin
        picks = tuple(sorted((o.station, o.time) for o in observations))
        if self._not_yet is not None and self._not_yet[0] == picks:
            kept = self._not_yet[1]  # searched before for these picks: still allowed?
            if not self._violation(kept, silent):
                return kept
        found = self._not_yet_arrived(observations, silent, origin)
        self._not_yet = (picks, found)
        return found

    def _locate_picks(self, observations: list[Observation]) -> Origin:
        picks = tuple(sorted((o.station, o.time) for o in observations))
        if self._located is not None and self._located[0] == picks:
            return self._located[1]  # the same picks: a reading changed, not the location
        if self._located is not None:
            # more picks of the quake located with free depth: from that hypocentre, until
            # they grew by a fifth since the last search of the whole grid (a quake picked
            # by hundreds of stations would search it at every pick)
            before, prior, searched = self._located
            if prior.status == "free" and len(picks) < searched * 1.2 and set(before) <= set(picks):
                start = (prior.latitude, prior.longitude, prior.depth_km)
                cfg = self._config
                origin = locate(observations, self._coords, self._table, cfg.locator, start=start)
                if origin.status == "free":
                    self._located = (picks, origin, searched)
                    return origin
        origin = self._locate_anew(observations)
        self._located = (picks, origin, len(picks))
        return origin

    def _locate_anew(self, observations: list[Observation]) -> Origin:
        cfg = self._config
        origin = locate(observations, self._coords, self._table, cfg.locator)
        if origin.status != "fixed_depth" or origin.rms <= cfg.pick_uncertainty_s:
            return origin
        for depth in cfg.trial_depths_km:
            trial = locate(
                observations,
                self._coords,
                self._table,
                replace(cfg.locator, fixed_depth_km=depth),
            )
            if trial.status == "fixed_depth" and trial.rms < origin.rms:
                origin = trial
        return origin

    def _silent(self, now: float) -> dict[str, float]:
        """The stations whose data are flowing (newer than ``live_s`` before ``now``) and
        that have no pick of this quake (none in the last minute): station -> the time
        before which their P cannot have arrived (their newest data less
        ``not_yet_margin_s``, the picker's delay at trigger-on)."""
        cfg = self._config
        return {
            s: until - cfg.not_yet_margin_s
            for s, until in self._heard.items()
            if s in self._coords
            and s not in self._picks
            and until >= now - cfg.live_s
            and self._last_pick.get(s, -math.inf) < now - 60.0
        }

    def _reach(self, station: str) -> float:
        """Seconds from a P at ``station`` until a P of the same quake has reached every
        station (at the surface velocity, distances up to twice ``max_distance_km``)."""
        found = self._reach_s.get(station)
        if found is None:
            a = self._coords[station]
            far = np.minimum(
                distance_km(a.latitude, a.longitude, self._lats, self._lons),
                2 * self._config.max_distance_km,
            )
            found = float(np.max(far)) / self._table.surface_vp + SAME_QUAKE_SLACK_S
            self._reach_s[station] = found
        return found

    def _centre(self, picked: list[str]) -> tuple[float, float]:
        """The mean latitude and longitude of the stations ``picked``."""
        return (
            float(np.mean([self._coords[s].latitude for s in picked])),
            float(np.mean([self._coords[s].longitude for s in picked])),
        )

    def _nearest(self, silent: dict[str, float], picked: list[str]) -> dict[str, float]:
        """The ``NOT_YET_STATIONS`` of ``silent`` nearest to the picked stations' centre."""
        if len(silent) <= NOT_YET_STATIONS:
            return silent
        lat0, lon0 = self._centre(picked)
        names = list(silent)
        far = distance_km(
            lat0,
            lon0,
            np.array([self._coords[s].latitude for s in names]),
            np.array([self._coords[s].longitude for s in names]),
        )
        nearest = np.argsort(far, kind="stable")[:NOT_YET_STATIONS]
        return {names[i]: silent[names[i]] for i in nearest.tolist()}

    def _arrival_delays(
        self, names: list[str], lats: np.ndarray, lons: np.ndarray, depth: float
    ) -> np.ndarray:
        """P travel times (with the climb to each station) from epicentres ``lats, lons``
        (any shape) at ``depth`` to the stations ``names``: shape ``lats.shape + (n,)``."""
        c_lat = np.array([self._coords[s].latitude for s in names])
        c_lon = np.array([self._coords[s].longitude for s in names])
        c_elev = np.array([self._coords[s].elevation_km for s in names])
        epi = distance_km(lats[..., None], lons[..., None], c_lat, c_lon)
        return np.asarray(self._table.time(False, epi, depth)) + np.asarray(
            self._table.elevation_delay(False, c_elev)
        )

    def _violation(self, origin: Origin, silent: Mapping[str, float]) -> float:
        """How long before the data of a station still without P the origin's P reaches
        it (0: none is ruled out)."""
        names = list(silent)
        arrive = origin.time + self._arrival_delays(
            names, np.array(origin.latitude), np.array(origin.longitude), origin.depth_km
        )
        return float(np.max(np.maximum(np.array([silent[s] for s in names]) - arrive, 0.0)))

    def _not_yet_arrived(
        self, observations: list[Observation], silent: Mapping[str, float], origin: Origin
    ) -> Origin:
        """The hypocentre that fits the picks best while its P reaches no station still
        without P before that station's data end (Horiuchi et al. 2005, BSSA 95, 708;
        the "not-yet-arrived" data of Satriano et al. 2008's RTLoc; ElarmS likewise): a grid
        of epicentres (``NOT_YET_GRID_KM``) around the picked stations out to
        ``max_distance_km`` at the depths tried, the fit of its picks plus the squared
        seconds by which it puts a P before a silent station's data, then refined from the
        best node; ``origin`` (the picks' own fit) if no node does better."""
        cfg = self._config
        picked = [o.station for o in observations]
        times = np.array([o.time for o in observations])
        lat0, lon0 = self._centre(picked)
        reach = min(cfg.max_distance_km, NOT_YET_REACH_KM)
        steps = np.arange(-reach, reach + NOT_YET_GRID_KM / 2, NOT_YET_GRID_KM)
        y, x = np.meshgrid(steps, steps, indexing="ij")
        lats = lat0 + y / KM_PER_DEGREE
        lons = lon0 + x / (KM_PER_DEGREE * math.cos(math.radians(lat0)))
        names = list(silent)
        before = np.array([silent[s] for s in names])
        depths = sorted({cfg.locator.fixed_depth_km, *cfg.trial_depths_km})
        best: tuple[float, float, float, float, float] | None = None  # cost, lat, lon, depth, t0
        for depth in depths:
            residual = times - self._arrival_delays(picked, lats, lons, depth)
            t0 = residual.mean(axis=-1)
            misfit = np.mean((residual - t0[..., None]) ** 2, axis=-1)
            arrive = t0[..., None] + self._arrival_delays(names, lats, lons, depth)
            early = np.maximum(before - arrive, 0.0)
            cost = misfit + np.sum(early**2, axis=-1)
            i = np.unravel_index(int(np.argmin(cost)), cost.shape)
            if best is None or cost[i] < best[0]:
                best = (float(cost[i]), float(lats[i]), float(lons[i]), depth, float(t0[i]))
        assert best is not None
        cost, lat, lon, depth, t0 = best
        if cost >= origin.rms**2 + self._violation(origin, silent) ** 2:
            return origin
        start = (lat, lon, depth)
        refined = locate(
            observations,
            self._coords,
            self._table,
            replace(cfg.locator, fixed_depth_km=depth),
            start=start,
        )
        if refined.status != "not_located" and (
            refined.rms**2 + self._violation(refined, silent) ** 2 <= cost
        ):
            return refined
        # the refinement slid back to where the silent stations rule it out: the node
        ahead = self._arrival_delays(picked, np.array(lat), np.array(lon), depth)
        epi = distance_km(
            lat,
            lon,
            np.array([self._coords[s].latitude for s in picked]),
            np.array([self._coords[s].longitude for s in picked]),
        )
        return replace(
            refined if refined.status != "not_located" else origin,
            latitude=lat,
            longitude=lon,
            depth_km=depth,
            time=t0,
            rms=float(np.sqrt(np.mean((times - t0 - ahead) ** 2))),
            min_distance_km=float(np.min(epi)),
            max_distance_km=float(np.max(epi)),
        )

    def _magnitude(
        self, origin: Origin, usable: Mapping[str, _Station]
    ) -> tuple[float, float, list[str]]:
        """The network magnitude, its spread, and the stations whose P is too long-period."""
        estimates: list[tuple[float, float]] = []
        long_period: list[str] = []
        for station, pick in usable.items():
            coords = self._coords[station]
            epi = float(
                distance_km(origin.latitude, origin.longitude, coords.latitude, coords.longitude)
            )
            hypo = math.hypot(epi, origin.depth_km + coords.elevation_km)
            # the accelerometer's reading where the seismometer clipped; the longest window
            readings = sorted(
                (r for s, r in pick.readings.items() if s not in pick.clipped),
                key=lambda r: r.seconds,
            )
            if not readings or not math.isfinite(readings[-1].magnitude):
                continue
            reading = readings[-1]
            if reading.tau_c_s > min(self._config.max_tau_c_s, 1.5 * reading.seconds):
                long_period.append(station)
                continue
            from_pd = magnitude_from_pd(reading.pd_m, hypo)
            sigma = reading.magnitude_sigma
            # the station's tau_c estimate and its Pd estimate at the located distance
            estimates.append(combined_magnitude([(reading.magnitude, sigma), (from_pd, 0.31)]))
        if not estimates or len(long_period) > len(estimates):
            return math.nan, math.nan, long_period
        values = np.array([m for m, _ in estimates])
        sigmas = np.array([s for _, s in estimates])
        mean = float(np.mean(values))
        spread = float(np.std(values, ddof=1)) if values.size > 1 else float(sigmas[0])
        return mean, max(spread, float(np.sqrt(np.mean(sigmas**2) / values.size))), long_period

    def _forecast(self, origin: Origin, magnitude: float, now: float) -> tuple[SiteForecast, ...]:
        out = []
        for site in self._config.sites:
            epi = float(
                distance_km(origin.latitude, origin.longitude, site.latitude, site.longitude)
            )
            hypo = math.hypot(epi, origin.depth_km)
            s_time = origin.time + float(self._table.time(True, epi, origin.depth_km))
            mmi = self._config.intensity.mmi(magnitude, hypo) if math.isfinite(magnitude) else 1.0
            out.append(
                SiteForecast(
                    site.name,
                    site.latitude,
                    site.longitude,
                    mmi,
                    s_time,
                    s_time - now,
                    mmi >= site.threshold_mmi,
                )
            )
        return tuple(out)

    def _changed(self, source: PointSource) -> bool:
        sent = self._sent
        if sent is None:
            return True
        cfg = self._config
        moved = float(
            distance_km(
                sent.origin.latitude,
                sent.origin.longitude,
                source.origin.latitude,
                source.origin.longitude,
            )
        )
        if abs(source.magnitude - sent.magnitude) >= cfg.update_magnitude or moved >= cfg.update_km:
            return True
        if abs(source.origin.depth_km - sent.origin.depth_km) >= cfg.update_km:
            return True
        return any(a.alert != b.alert for a, b in zip(source.sites, sent.sites, strict=True))
