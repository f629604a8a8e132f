"""Detection and association over records: the one code path of the live worker and of
``larza detect`` on files, so both find the same detections and events.

A :class:`Detecting` keeps one streaming detector per channel (its profile resolved from
``larza.toml``) and the network associator. The caller gives each detection a key (the
worker: its database id) and is told which events that created, updated or closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from detection import Associator, NetworkEvent, Pick, StreamingDetector, Trigger
from ingest.config import LarzaConfig
from ingest.seedlink.decode import Record
from stations.queries import ChannelKey

CLOSE_MARGIN_S = 60.0
"""An event is final once data this long past its window have been seen at any station."""


@dataclass(frozen=True)
class Found:
    """A trigger on one channel, with the profile that made it."""

    key: ChannelKey
    trigger: Trigger
    profile: str


class Detecting:
    """Per-channel detectors and the associator, fed record by record."""

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
        self._detectors: dict[ChannelKey, tuple[StreamingDetector, str]] = {}

    def add_positions(self, positions: Mapping[str, tuple[float, float]]) -> None:
        """Stations added to the inventory while running (``NET.STA`` -> latitude,
        longitude); ignored when the association does not check travel times."""
        if self._config.association.travel_times:
            self._associator.add_positions(positions)

    @property
    def open_pick_keys(self) -> frozenset[int]:
        """Keys of the detections that a later event may still name."""
        return self._associator.open_pick_keys

    def knows(self, key: ChannelKey) -> bool:
        """Whether the channel's detector exists (it has been fed or warmed)."""
        return key in self._detectors

    def lead_in_s(self, key: ChannelKey) -> float:
        """How much of a channel's past data puts a new detector in the state an
        uninterrupted one has (see :meth:`warm`): ten LTA windows (a recursive LTA then
        differs by e^-10), at least a whole trigger, and the band-pass's settling time."""
        settings, _ = self._config.detector_for(key)
        return max(10 * settings.lta, settings.max_duration) + 10 / settings.freqmin

    def warm(self, records: Sequence[Record]) -> None:
        """Feed a channel records processed before a restart (from the archive), so that its
        detector continues as if it had never stopped: the triggers they complete were
        stored then and are dropped here; one still open carries on into the new records."""
        for record in records:
            detector, _ = self._detector(record)
            detector.feed(record.data, record.starttime, sampling_rate=record.sampling_rate)

    def _detector(self, record: Record) -> tuple[StreamingDetector, str]:
        found = self._detectors.get(record.key)
        if found is None:
            settings, profile = self._config.detector_for(record.key)
            found = StreamingDetector(settings, sampling_rate=record.sampling_rate), profile
            self._detectors[record.key] = found
        return found

    def feed(self, record: Record, keep: Callable[[Found], int]) -> list[NetworkEvent]:
        """Detect on one record; ``keep`` stores each detection and returns its key. Returns
        the events created, updated or made final by this record, in order."""
        detector, profile = self._detector(record)
        station = f"{record.key.network}.{record.key.station}"
        events: list[NetworkEvent] = []
        for trigger in detector.feed(
            record.data, record.starttime, sampling_rate=record.sampling_rate
        ):
            pick_key = keep(Found(record.key, trigger, profile))
            pick = Pick(
                station=station,
                channel=record.key.channel,
                time=trigger.onset_time,
                peak_ratio=float(trigger.peak_ratio),
                key=pick_key,
            )
            events += self._associator.add(pick)
        events += self._associator.close_before(record.endtime - self.window - CLOSE_MARGIN_S)
        return events

    def finish(self, keep: Callable[[Found], int]) -> list[NetworkEvent]:
        """End of the data (files): report triggers still on, then close every event."""
        events: list[NetworkEvent] = []
        for key, (detector, profile) in sorted(self._detectors.items(), key=lambda i: str(i[0])):
            station = f"{key.network}.{key.station}"
            for trigger in detector.flush():
                pick_key = keep(Found(key, trigger, profile))
                events += self._associator.add(
                    Pick(
                        station,
                        key.channel,
                        trigger.onset_time,
                        float(trigger.peak_ratio),
                        pick_key,
                    )
                )
        events += self._associator.close_before(float("inf"))
        return events
