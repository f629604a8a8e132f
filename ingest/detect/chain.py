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
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from detection import (
    Associator,
    DetectorConfig,
    NetworkEvent,
    Pick,
    SensorPicker,
    Trigger,
)
from ingest.config import LarzaConfig
from ingest.seedlink.decode import Record
from stations.queries import ChannelKey

log = logging.getLogger(__name__)

CLOSE_MARGIN_S = 60.0
"""An event is final once data this long past its window have been seen at any station."""

SensorKey = tuple[str, str, str, str]
"""Network, station, location and the channel code's first two letters."""


@dataclass(frozen=True)
class Found:
    """A pick on one channel, with the profile that made it."""

    key: ChannelKey
    trigger: Trigger
    profile: str


@dataclass
class _Channel:
    profile: str
    rate: float
    newest: float  # POSIX seconds of the newest sample fed
    sensor: SensorPicker | None  # None: skipped (disabled, or its rate cannot be used)


def sensor_of(key: ChannelKey) -> SensorKey:
    """The sensor a channel belongs to."""
    return (key.network, key.station, key.location, key.channel[:2])


class Detecting:
    """Per-sensor pickers and the associator, fed record by record."""

    def __init__(
        self,
        config: LarzaConfig,
        positions: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        """``positions``: latitude and longitude of each station (``NET.STA``) for the
        association's travel-time check; stations left out are not checked."""
        self._config = config
        table = config.association
        self.window = table.window
        self._associator = Associator(
            window=table.window,
            min_stations=table.min_stations,
            weights=table.weights,
            positions=positions if table.travel_times else None,
            velocity=table.velocity_km_s,
            tolerance=table.tolerance_s,
        )
        self._channels: dict[ChannelKey, _Channel] = {}
        self._sensors: dict[SensorKey, SensorPicker] = {}
        self._newest: dict[ChannelKey, float] = {}
        self._said: set[tuple[ChannelKey, str]] = set()
        self.counts: Counter[str] = Counter()
        """``records`` fed, ``repeated`` (not fed: nothing new), ``skipped`` (records of
        skipped channels), ``detector_errors``."""

    def add_positions(self, positions: Mapping[str, tuple[float, float]]) -> None:
        """Stations added to the inventory while running (``NET.STA`` -> latitude,
        longitude); ignored when the association does not check travel times."""
        if self._config.association.travel_times:
            self._associator.add_positions(positions)

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
        return self._associator.open_pick_keys

    def knows(self, key: ChannelKey) -> bool:
        """Whether the channel has been set up (it has been fed or warmed)."""
        return key in self._channels

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
            channel.newest = max(channel.newest, record.endtime)

    def stats(self) -> Counter[str]:
        """``counts`` and the pickers' counts: ``bridged`` gaps, ``restarts``, ``overlaps``
        (records cut), ``nonfinite`` samples, ``spikes`` (samples masked), ``s_picks``,
        ``folded`` (horizontal triggers of sensors with a vertical)."""
        total = Counter(self.counts)
        for sensor in self._sensors.values():
            total.update(sensor.stats)
        return total

    def feed(self, record: Record, keep: Callable[[Found], int]) -> list[NetworkEvent]:
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
        events = self._associate(key, picks, keep)
        events += self._associator.close_before(record.endtime - self.window - CLOSE_MARGIN_S)
        return events

    def associate(
        self,
        key: ChannelKey,
        picks: list[tuple[str, Trigger]],
        keep: Callable[[Found], int],
        *,
        until: float,
    ) -> list[NetworkEvent]:
        """Associate picks found elsewhere (``larza reprocess`` picks each station's data in
        its own process) as :meth:`feed` does those of a record of ``key``'s station ending
        at ``until``: the picks join events, then the events whose window closed are made
        final."""
        events = self._associate(key, picks, keep)
        events += self._associator.close_before(until - self.window - CLOSE_MARGIN_S)
        return events

    def finish(self, keep: Callable[[Found], int]) -> list[NetworkEvent]:
        """End of the data (files): report picks still on or waiting, then close every
        event."""
        events: list[NetworkEvent] = []
        for sensor_key in sorted(self._sensors):
            net, sta, loc, _ = sensor_key
            picks = self._sensors[sensor_key].flush()
            events += self._associate(ChannelKey(net, sta, loc, ""), picks, keep)
        events += self._associator.close_before(float("inf"))
        return events

    # -- internals ----------------------------------------------------------------------------

    def _associate(
        self, key: ChannelKey, picks: list[tuple[str, Trigger]], keep: Callable[[Found], int]
    ) -> list[NetworkEvent]:
        events: list[NetworkEvent] = []
        station = f"{key.network}.{key.station}"
        for code, trigger in picks:
            pick_key = key._replace(channel=code)
            found = self._channels.get(pick_key)
            profile = found.profile if found is not None else "default"
            stored = keep(Found(pick_key, trigger, profile))
            events += self._associator.add(
                Pick(
                    station=station,
                    channel=code,
                    time=trigger.onset_time,
                    peak_ratio=float(trigger.peak_ratio),
                    key=stored,
                    phase=trigger.phase,
                )
            )
        return events

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
