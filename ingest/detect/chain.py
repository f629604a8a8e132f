"""Detection and association over records: the one code path of the live worker and of
``larza detect`` on files, so both find the same picks and events.

A :class:`Detecting` keeps one three-component picker per sensor (a station's channels with
one location and band, e.g. ``HHZ``, ``HHN``, ``HHE``), each channel set up with its profile
from ``larza.toml``, and the network associator. The caller gives each pick a key (the
worker: its database id) and is told which events that created, updated or closed.

What reaches the pickers is decided here, once for both paths:

- a record whose last sample is not past the newest data of its channel (a server's resend,
  a file read twice, overlapping files) is not fed, and counted (``repeated``); one that
  overlaps in part is cut to its new samples by the detector;
- a channel whose rate cannot carry its profile's band gets the band cut to its Nyquist
  frequency or is skipped (:meth:`detection.DetectorConfig.fitted`), said once in a warning;
  a channel with ``enabled = false`` is skipped;
- an error inside one channel's detector is logged once, counted (``detector_errors``) and
  that channel started afresh: the other channels go on.

Association, by what is known of the stations:

- a travel-time table and at least ``[location] min_stations`` stations with coordinates:
  phase picks go to the :class:`detection.QuakeAssociator` and events are located
  earthquakes (created, updated, made final, or deleted when a better event took their
  picks); with three stations (the default network) an event needs P at all three and is
  located once it has ``min_phases_located`` phases, else stored not located with the
  reason (:func:`ingest.quakes.model.associator_config`);
- coordinates at fewer than three stations: the trigger groups of ``[association]``
  (:class:`detection.Associator`, onsets within ``window`` and consistent with the
  stations' distances), not located;
- no coordinates (bare files): trigger windows go to the
  :class:`detection.CoincidenceAssociator`, ObsPy's ``coincidence_trigger`` as a stream with
  ``[association] window`` as its ``trigger_off_extension`` (a quake's onsets at stations
  far apart need not overlap) and ``min_stations`` as its threshold, whose events are final
  when reported. Picks no event explains stay where the
caller stored them, in no event.

Preliminary picks (the live worker: ``preliminary=True``): a P is given to ``keep`` at
trigger-on (``trigger.preliminary`` set) and again, completed, when its trigger ends, with
``replaces`` naming the key ``keep`` returned for the first; one never completed (the
trigger was the S of the arrival before, or too short) is given back ``withdrawn`` once its
channel's data are :func:`withdraw_after_s` past it. Preliminary picks never reach the
associator: events are made of completed picks. Those stored before a restart are handed
back with :meth:`Detecting.known_preliminary`.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from detection import (
    AssociatedPick,
    Associator,
    CoincidenceAssociator,
    CoincidenceEvent,
    DetectorConfig,
    NetworkEvent,
    Origin,
    PhasePick,
    Pick,
    Quake,
    QuakeAssociator,
    SensorPicker,
    StationCoordinates,
    TravelTimeTable,
    Trigger,
    TriggerWindow,
)
from detection._sensor import S_WAIT_S
from ingest.config import LarzaConfig
from ingest.quakes.model import SMALLEST_NETWORK, associator_config, locates
from ingest.seedlink.decode import Record
from stations.queries import ChannelKey

log = logging.getLogger(__name__)

CLOSE_LAG_S = 30.0
"""An earthquake is made final this long (data time) after its last arrivals were due: the
other stations' records have time to come in, and their amplitudes to be read."""
GROUP_CLOSE_MARGIN_S = 60.0
"""A trigger group is final once data this long past its window have been seen."""
MIN_PICK_UNCERTAINTY_S = 0.01
"""A pick's onset uncertainty is never taken below this (the associator needs > 0)."""

SensorKey = tuple[str, str, str, str]
"""Network, station, location and the channel code's first two letters."""


@dataclass(frozen=True)
class Found:
    """A pick on one channel, with the profile that made it."""

    key: ChannelKey
    trigger: Trigger
    profile: str
    replaces: int | None = None
    """The key of the preliminary pick this completes (or withdraws)."""
    withdrawn: bool = False
    """The preliminary pick ``replaces`` was never completed: take it back."""


class EventChange:
    """An event created, updated, made final or deleted, as the caller stores it.

    ``time`` is the origin time of a located event, else its earliest pick. ``origin`` and
    ``picks`` (phases with residuals) are those of a located earthquake, ``None`` and empty
    for a coincidence event. ``version`` increases with every change of the event.

    A located earthquake's change (:meth:`of_quake`) works out its picks, stations and times
    when first read: the worker keeps only each event's latest change of a batch, so a quake
    picked at thousands of stations is written out once a batch, not once a pick.
    """

    def __init__(
        self,
        *,
        event_key: int,
        version: int,
        status: Literal["preliminary", "final", "deleted"],
        time: float,
        stations: tuple[str, ...],
        pick_keys: tuple[int, ...],
        coincidence_sum: float,
        duration: float,
        origin: Origin | None = None,
        picks: tuple[AssociatedPick, ...] = (),
    ) -> None:
        self.event_key = event_key
        self.version = version
        self.status: Literal["preliminary", "final", "deleted"] = status
        self.origin = origin
        self._quake: Quake | None = None
        self._derived: _Derived | None = _Derived(
            time, stations, pick_keys, coincidence_sum, duration, picks
        )

    @classmethod
    def of_quake(cls, quake: Quake) -> EventChange:
        change = cls.__new__(cls)
        change.event_key = quake.event_key
        change.version = quake.version
        change.status = quake.status
        change.origin = quake.origin
        change._quake = quake
        change._derived = None
        return change

    def _values(self) -> _Derived:
        if self._derived is None:
            assert self._quake is not None
            quake, origin = self._quake, self._quake.origin
            times = [p.time for p in quake.picks]
            stations = quake.stations
            self._derived = _Derived(
                time=origin.time if origin.located else min(times),
                stations=stations,
                pick_keys=quake.pick_keys,
                coincidence_sum=float(len(stations)),
                duration=max(times) - min(times),
                picks=quake.picks,
            )
        return self._derived

    @property
    def time(self) -> float:
        return self._values().time

    @property
    def stations(self) -> tuple[str, ...]:
        return self._values().stations

    @property
    def pick_keys(self) -> tuple[int, ...]:
        return self._values().pick_keys

    @property
    def coincidence_sum(self) -> float:
        return self._values().coincidence_sum

    @property
    def duration(self) -> float:
        return self._values().duration

    @property
    def picks(self) -> tuple[AssociatedPick, ...]:
        return self._values().picks

    def _key(self) -> tuple[object, ...]:
        return (self.event_key, self.version, self.status, self.origin, self._values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventChange):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EventChange{self._key()!r}"


@dataclass(frozen=True)
class _Derived:
    time: float
    stations: tuple[str, ...]
    pick_keys: tuple[int, ...]
    coincidence_sum: float
    duration: float
    picks: tuple[AssociatedPick, ...]


def _from_coincidence(
    event: CoincidenceEvent, onsets: Mapping[int, float], weights: Mapping[str, float]
) -> EventChange:
    """The event's time is its earliest onset; its coincidence sum counts each station once,
    with its ``[association]`` weight."""
    stations = tuple(sorted({".".join(t.split(".")[:2]) for t in event.trace_ids}))
    first = min(onsets[k] for k in event.pick_keys)
    return EventChange(
        event_key=event.event_key,
        version=1,
        status="final",
        time=first,
        stations=stations,
        pick_keys=event.pick_keys,
        coincidence_sum=float(sum(weights.get(s, 1.0) for s in stations)),
        duration=max(onsets[k] for k in event.pick_keys) - first,
    )


@dataclass
class _Channel:
    profile: str
    rate: float
    newest: float  # POSIX seconds of the newest sample fed
    sensor: SensorPicker | None  # None: skipped (disabled, or its rate cannot be used)


def withdraw_after_s(config: DetectorConfig) -> float:
    """Seconds of a channel's data after a preliminary pick's trigger-on after which it is
    withdrawn if not completed: the longest trigger, an S window it may wait for, and that
    window's wait (see :mod:`detection._sensor`)."""
    return config.max_duration + config.s_window + 2 * S_WAIT_S


def sensor_of(key: ChannelKey) -> SensorKey:
    """The sensor a channel belongs to."""
    return (key.network, key.station, key.location, key.channel[:2])


class Detecting:
    """Per-sensor pickers and the associator, fed record by record."""

    def __init__(
        self,
        config: LarzaConfig,
        stations: Mapping[str, StationCoordinates] | None = None,
        table: TravelTimeTable | None = None,
        *,
        preliminary: bool = False,
    ) -> None:
        """``stations``: where each station (``NET.STA``) is; ``table``: the travel times of
        ``[velocity_model]``. With both (and enough stations) events are located
        earthquakes, otherwise coincidence events (see the module). ``preliminary``: report
        picks at trigger-on too (see the module)."""
        self._config = config
        self._preliminary = preliminary
        # sensor -> (channel, trigger-on time) -> the key keep() gave its preliminary pick
        self._early: dict[SensorKey, dict[tuple[ChannelKey, float], int]] = {}
        self._quakes: QuakeAssociator | None = None
        self._table = table
        self._groups: Associator | None = None
        self._coincidence: CoincidenceAssociator | None = None
        self._versions: Counter[int] = Counter()  # of the trigger groups' events
        located = dict(stations or {})
        self._located = located
        need = config.location.min_stations
        if table is not None and locates(config.location, len(located)):
            settings = associator_config(config.location, len(located))
            self._quakes = QuakeAssociator(located, table, settings)
            if len(located) < need:
                log.warning(
                    "%d stations with coordinates, fewer than [location] min_stations = %d: "
                    "an event needs P at all %d; it is located with %d phases or more (P and "
                    "S), else stored not located",
                    len(located),
                    need,
                    len(located),
                    config.location.min_phases_located,
                )
        elif located:
            if table is not None:
                log.warning(
                    "%d station(s) with coordinates, fewer than %d: events are groups of "
                    "triggers, not located",
                    len(located),
                    SMALLEST_NETWORK,
                )
            groups = config.association
            self._groups = Associator(
                window=groups.window,
                min_stations=groups.min_stations,
                weights=groups.weights,
                positions=(
                    {k: (c.latitude, c.longitude) for k, c in located.items()}
                    if groups.travel_times
                    else None
                ),
                velocity=groups.velocity_km_s,
                tolerance=groups.tolerance_s,
            )
        else:
            self._coincidence = CoincidenceAssociator(
                threshold=config.association.min_stations,
                weights=config.association.weights,
                max_trigger_length=config.detector.max_duration,
                off_extension=config.association.window,
            )
        self._onsets: dict[int, float] = {}  # of the windows the coincidence has not decided
        self._channels: dict[ChannelKey, _Channel] = {}
        self._sensors: dict[SensorKey, SensorPicker] = {}
        self._newest: dict[ChannelKey, float] = {}
        self._said: set[tuple[ChannelKey, str]] = set()
        self.counts: Counter[str] = Counter()
        """``records`` fed, ``repeated`` (not fed: nothing new), ``skipped`` (records of
        skipped channels), ``detector_errors``."""

    @property
    def locates(self) -> bool:
        """Whether events are located earthquakes (else coincidences)."""
        return self._quakes is not None

    def add_stations(self, stations: Mapping[str, StationCoordinates]) -> None:
        """Stations added to the inventory while running. Their picks are stored; with
        located events they join the association at once: the associator derives its station
        geometry again and continues its open events and waiting picks
        (:meth:`detection.QuakeAssociator.add_stations`). Trigger groups and coincidences take
        them from the next start."""
        stations = {k: c for k, c in stations.items() if self._located.get(k) != c}
        if not stations:
            return
        self._located.update(stations)
        names = ", ".join(sorted(stations))
        if self._quakes is not None and self._table is not None:
            self._quakes.add_stations(stations)
            log.info("stations %s added while running: associated from now on", names)
        else:
            log.warning("stations %s added while running: associated from the next start", names)

    def seen_until(self, ends: Mapping[ChannelKey, float]) -> None:
        """The newest data already processed per channel (POSIX seconds of the last sample),
        e.g. as stored before a restart: records not past it are not fed."""
        for key, end in ends.items():
            channel = self._channels.get(key)
            if channel is not None:
                channel.newest = max(channel.newest, end)
            self._newest[key] = max(self._newest.get(key, -math.inf), end)

    @property
    def open_pick_keys(self) -> frozenset[int]:
        """Keys of the picks that a later event may still name."""
        if self._quakes is not None:
            return self._quakes.open_pick_keys
        if self._groups is not None:
            return self._groups.open_pick_keys
        assert self._coincidence is not None
        return self._coincidence.open_pick_keys

    def quiet_state(self) -> tuple[int, tuple[float, tuple[tuple[str, float], ...]]] | None:
        """Located earthquakes only: when nothing is open, the key the next event will get
        and what of the past can still shape the association's output
        (:meth:`detection.QuakeAssociator.quiet_state`); ``None`` otherwise (something open,
        a picker fed, a preliminary pick waiting, or trigger groups and coincidences, whose
        state is not read).

        On the association path (:meth:`associate`, :meth:`finish`, nothing fed) the
        associator is all of this object's state that output depends on: the pickers and
        channels are empty, no preliminary pick is waiting, the stations and table are
        fixed, and ``counts`` are not output."""
        if self._quakes is None or self._sensors or self._early:
            return None
        state = self._quakes.quiet_state()
        return None if state is None else (self._quakes.next_event_key, state)

    def knows(self, key: ChannelKey) -> bool:
        """Whether the channel has been set up (it has been fed or warmed)."""
        return key in self._channels

    def newest(self, key: ChannelKey) -> float:
        """POSIX seconds of the newest data of a channel fed, warmed or already processed
        (:meth:`seen_until`); -inf if none."""
        channel = self._channels.get(key)
        known = self._newest.get(key, -math.inf)
        return known if channel is None else max(known, channel.newest)

    def lead_in_s(self, key: ChannelKey) -> float:
        """How much of a channel's past data puts a new picker in the state an uninterrupted
        one has (see :meth:`warm`): ten LTA windows (a recursive LTA then differs by
        e^-10), at least a whole trigger, and the band-pass's settling time."""
        settings, _ = self._config.detector_for(key)
        return max(10 * settings.lta, settings.max_duration) + 10 / settings.freqmin

    def warm(self, records: Sequence[Record]) -> None:
        """Feed a channel records processed before a restart (from the archive), so that its
        picker continues as if it had never stopped: the picks they complete were stored
        then and are dropped here; one still open carries on into the new records."""
        for record in records:
            key = record.key
            channel = self._channels.get(key)
            if channel is None or channel.rate != record.sampling_rate:
                channel, _ = self._set_up(key, record.sampling_rate, channel)
            if channel.sensor is not None:
                try:
                    channel.sensor.feed(key.channel, record.data, record.starttime)
                except Exception:
                    self._failed(key, channel)
                channel.sensor.take_preliminary()  # stored then, as the picks were
            channel.newest = max(channel.newest, record.endtime)

    def known_preliminary(self, picks: Mapping[tuple[ChannelKey, float], int]) -> None:
        """Preliminary picks stored before a restart and not completed: (channel, trigger-on
        time) -> the key to name as ``replaces`` when they are completed or withdrawn."""
        if self._preliminary:
            for (k, on), early in picks.items():
                self._early.setdefault(sensor_of(k), {})[(k, on)] = early

    def stats(self) -> Counter[str]:
        """``counts`` and the pickers' counts: ``bridged`` gaps, ``restarts``, ``overlaps``
        (records cut), ``nonfinite`` samples, ``spikes`` (samples masked), ``s_picks``,
        ``folded`` (horizontal triggers of sensors with a vertical)."""
        total = Counter(self.counts)
        for sensor in self._sensors.values():
            total.update(sensor.stats)
        return total

    def feed(self, record: Record, keep: Callable[[Found], int]) -> list[EventChange]:
        """Detect on one record; ``keep`` stores each pick and returns its key. Returns the
        events created, updated or made final by this record, in order."""
        key = record.key
        channel = self._channels.get(key)
        picks: list[tuple[str, Trigger]] = []
        if channel is None or channel.rate != record.sampling_rate:
            channel, picks = self._set_up(key, record.sampling_rate, channel)
        if record.endtime <= channel.newest + 0.5 / record.sampling_rate:
            self.counts["repeated"] += 1
            return self._associate(key, picks, keep)
        channel.newest = record.endtime
        if channel.sensor is None:
            self.counts["skipped"] += 1
        else:
            self.counts["records"] += 1
            try:
                picks += channel.sensor.feed(key.channel, record.data, record.starttime)
            except Exception:
                self._failed(key, channel)
            self._take_preliminary(key, channel, keep)
        events = self._associate(key, picks, keep)
        if self._early:
            self._withdraw(key, channel.newest, keep)
        events += self._close_before(record.endtime)
        return events

    def associate(
        self,
        key: ChannelKey,
        picks: list[tuple[str, Trigger]],
        keep: Callable[[Found], int],
        *,
        until: float,
    ) -> list[EventChange]:
        """Associate picks found elsewhere (``larza reprocess`` picks each station's data in
        its own process) as :meth:`feed` does those of a record of ``key``'s station ending
        at ``until``: the picks join events, then the events whose window closed are made
        final."""
        events = self._associate(key, picks, keep)
        events += self._close_before(until)
        return events

    def finish(self, keep: Callable[[Found], int]) -> list[EventChange]:
        """End of the data (files): report picks still on or waiting, then close every
        event."""
        events: list[EventChange] = []
        for sensor_key in sorted(self._sensors):
            net, sta, loc, _ = sensor_key
            picks = self._sensors[sensor_key].flush()
            events += self._associate(ChannelKey(net, sta, loc, ""), picks, keep)
        events += self._close_before(math.inf)
        return events

    # -- internals ----------------------------------------------------------------------------

    def _close_before(self, time: float) -> list[EventChange]:
        if self._quakes is not None:
            done = self._quakes.close_before(time - CLOSE_LAG_S)
            return [EventChange.of_quake(q) for q in done.events]
        if self._groups is not None:
            closing = time - self._config.association.window - GROUP_CLOSE_MARGIN_S
            return [self._from_group(e) for e in self._groups.close_before(closing)]
        assert self._coincidence is not None
        decided = self._coincidence.close_before(time)
        weights = self._config.association.weights
        events = [_from_coincidence(e, self._onsets, weights) for e in decided.events]
        if decided.events or decided.unassociated:
            still = self._coincidence.open_pick_keys
            self._onsets = {k: t for k, t in self._onsets.items() if k in still}
        # a chain of one station's channels is not an event of the network
        need = self._config.association.min_stations
        return [e for e in events if len(e.stations) >= need]

    def _associate(
        self, key: ChannelKey, picks: list[tuple[str, Trigger]], keep: Callable[[Found], int]
    ) -> list[EventChange]:
        events: list[EventChange] = []
        station = f"{key.network}.{key.station}"
        for code, trigger in picks:
            pick_key = key._replace(channel=code)
            found = self._channels.get(pick_key)
            profile = found.profile if found is not None else "default"
            replaces = self._completes(pick_key, trigger) if self._early else None
            stored = keep(Found(pick_key, trigger, profile, replaces))
            if self._quakes is not None:
                sigma = float(trigger.onset_uncertainty)
                pick = PhasePick(
                    key=stored,
                    station=station,
                    time=float(trigger.onset_time),
                    phase="P" if trigger.phase == "P" else "S" if trigger.phase == "S" else None,
                    uncertainty=max(sigma, MIN_PICK_UNCERTAINTY_S) if math.isfinite(sigma) else 0.1,
                )
                events += [EventChange.of_quake(q) for q in self._quakes.add(pick).events]
            elif self._groups is not None:
                group = Pick(
                    station=station,
                    channel=code,
                    time=trigger.onset_time,
                    peak_ratio=float(trigger.peak_ratio),
                    key=stored,
                    phase=trigger.phase,
                )
                events += [self._from_group(e) for e in self._groups.add(group)]
            else:
                assert self._coincidence is not None
                window = TriggerWindow(
                    key=stored,
                    trace_id=str(pick_key),
                    on=float(trigger.on_time),
                    off=float(trigger.off_time),
                )
                self._onsets[stored] = float(trigger.onset_time)
                self._coincidence.add(window)
        return events

    def _take_preliminary(
        self, key: ChannelKey, channel: _Channel, keep: Callable[[Found], int]
    ) -> None:
        sensor = channel.sensor
        assert sensor is not None
        early = sensor.take_preliminary()
        if not self._preliminary:
            return
        for code, trigger in early:
            pick_key = key._replace(channel=code)
            found = self._channels.get(pick_key)
            profile = found.profile if found is not None else "default"
            stored = keep(Found(pick_key, trigger, profile))
            self._early.setdefault(sensor_of(pick_key), {})[(pick_key, trigger.on_time)] = stored
            self.counts["preliminary"] += 1

    def _completes(self, key: ChannelKey, trigger: Trigger) -> int | None:
        """The key of the preliminary pick a completed one replaces (taken off the list)."""
        channel = self._channels.get(key)
        tolerance = 0.5 / channel.rate if channel is not None else 0.005
        sensor = sensor_of(key)
        open_ = self._early.get(sensor, {})
        for (k, on), early in open_.items():
            if k == key and abs(on - trigger.on_time) <= tolerance:
                del open_[(k, on)]
                if not open_:
                    del self._early[sensor]
                return early
        return None

    def _withdraw(self, key: ChannelKey, newest: float, keep: Callable[[Found], int]) -> None:
        """Withdraw the preliminary picks of this record's sensor its data are far past."""
        sensor = sensor_of(key)
        open_ = self._early.get(sensor)
        if not open_:
            return
        for (k, on), early in list(open_.items()):
            settings, profile = self._config.detector_for(k)
            if newest - on > withdraw_after_s(settings):
                del open_[(k, on)]
                if not open_:
                    del self._early[sensor]
                when = Trigger(on, on, on, 0.0, math.nan, 0.0, 0, 0, 0, preliminary=True)
                keep(Found(k, when, profile, early, withdrawn=True))
                self.counts["withdrawn"] += 1

    def _from_group(self, event: NetworkEvent) -> EventChange:
        self._versions[event.event_key] += 1
        return EventChange(
            event_key=event.event_key,
            version=self._versions[event.event_key],
            status=event.status,
            time=event.time,
            stations=event.stations,
            pick_keys=event.pick_keys,
            coincidence_sum=event.coincidence_sum,
            duration=event.duration,
        )

    def _set_up(
        self, key: ChannelKey, rate: float, before: _Channel | None
    ) -> tuple[_Channel, list[tuple[str, Trigger]]]:
        """A channel's first record, or a change of its sampling rate: its profile fitted to
        the rate, or skipped; the picks the old set-up still had."""
        picks: list[tuple[str, Trigger]] = []
        sensor_key = sensor_of(key)
        if before is not None and before.sensor is not None:
            picks = before.sensor.remove(key.channel)
        settings, profile = self._config.detector_for(key)
        newest = before.newest if before is not None else self._newest.get(key, -math.inf)
        fitted: DetectorConfig | None = None
        if not settings.enabled:
            self._say(key, logging.INFO, "not detected on: enabled = false in its profile")
        else:
            fitted, change = settings.fitted(rate)
            if fitted is None:
                self._say(key, logging.WARNING, f"not detected on: {change}")
            elif change:
                self._say(key, logging.WARNING, change)
        sensor = None
        if fitted is not None:
            sensor = self._sensors.get(sensor_key)
            if sensor is None:
                sensor = self._sensors[sensor_key] = SensorPicker()
            sensor.add(key.channel, fitted, rate)
        channel = _Channel(profile, rate, newest, sensor)
        self._channels[key] = channel
        return channel, picks

    def _failed(self, key: ChannelKey, channel: _Channel) -> None:
        """An error inside one channel's detector: said once, and the channel restarted."""
        self.counts["detector_errors"] += 1
        if (key, "error") not in self._said:
            self._said.add((key, "error"))
            log.exception("%s: detection failed on a record; the channel starts afresh", key)
        sensor = channel.sensor
        assert sensor is not None
        config = sensor.detector(key.channel).config
        try:
            sensor.remove(key.channel)
        except Exception:  # its state is broken: start it again all the same
            log.debug("%s: the detector could not be flushed", key, exc_info=True)
        sensor.add(key.channel, config, channel.rate)

    def _say(self, key: ChannelKey, level: int, message: str) -> None:
        if (key, message) not in self._said:
            self._said.add((key, message))
            log.log(level, "%s: %s", key, message)
