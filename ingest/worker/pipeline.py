"""Per-packet work: decode, detect, associate, and store it all with the stream position.

Everything one packet produced is written in one transaction together with the stream's
sequence number, so a restart resumes exactly after the last packet whose results were kept.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from detection import NetworkEvent
from ingest.config import LarzaConfig
from ingest.detect.chain import Detecting, Found
from ingest.health.monitor import HealthMonitor
from ingest.seedlink.decode import Record, RecordError, decode_record
from ingest.seedlink.source import Packet
from ingest.worker.archive import SdsArchive
from stations.changes import log_changes
from stations.models import ChangeKind, Channel, EventStatus
from stations.queries import (
    ChannelKey,
    NewDetection,
    channel_index,
    channel_statuses,
    record_arrivals,
    save_stream_states,
    store_detections,
    store_event,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
FUTURE_TOLERANCE_S = 10.0  # a record ending later than this after its arrival is refused


def _positions(channels: Mapping[ChannelKey, Channel]) -> dict[str, tuple[float, float]]:
    return {
        f"{k.network}.{k.station}": (c.station.latitude, c.station.longitude)
        for k, c in channels.items()
    }


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Pipeline:
    """Turns packets from one server into stored arrivals, detections and events."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        server: str,
        config: LarzaConfig | None = None,
        archive: SdsArchive | None = None,
        health: bool = True,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._factory = session_factory
        self._archive = archive
        self._server = server
        self._config = config = config or LarzaConfig()
        self._clock = clock
        self._event_ids: dict[int, int] = {}
        # Detections are inserted once a batch: until then the associator knows each by a
        # local key; the ids of those an open event may still name are kept here.
        self._next_key = 1
        self._pending: list[tuple[int, NewDetection]] = []
        self._detection_ids: dict[int, int] = {}
        self._changed: dict[int, NetworkEvent] = {}  # events changed in the current batch
        self._log: list[tuple[ChangeKind, int]] = []  # what the current batch changed
        self._unknown: set[ChannelKey] = set()
        self.counts: Counter[str] = Counter()
        with session_factory() as session:
            self._channels: dict[ChannelKey, Channel] = channel_index(session)
        # End time of the newest record seen per channel: a record ending no later is a repeat.
        self._last_end: dict[ChannelKey, float] = {}
        self._load_last_ends()
        self.monitor = HealthMonitor(config, self._channels) if health else None
        self._detecting = Detecting(config, _positions(self._channels))
        self._detecting.seen_until(self._last_end)

    def _load_last_ends(self) -> None:
        with self._factory() as session:
            statuses = channel_statuses(
                session, channel_ids=(c.id for c in self._channels.values())
            )
        self._last_end = {
            key: statuses[c.id].last_sample_time.timestamp()
            for key, c in self._channels.items()
            if c.id in statuses
        }

    def refresh_channels(self) -> int:
        """Re-read the inventory's channels (stations imported while running); returns how
        many channels are new. Channels already known keep their running state."""
        with self._factory() as session:
            latest = channel_index(session)
        added = {k: c for k, c in latest.items() if k not in self._channels}
        self._channels.update(latest)  # the health monitor shares this mapping
        self._unknown -= set(added)
        if added:
            self._detecting.add_positions(_positions(added))
        return len(added)

    def resync(self) -> None:
        """Re-read what other workers may have changed: the stations held have changed
        (a lease taken over or lost), so newest records and archive sizes are read again."""
        self._load_last_ends()
        self._detecting.seen_until(self._last_end)
        if self._archive is not None:
            self._archive.forget()

    def close(self) -> None:
        """Release open files (the worker's shutdown)."""
        if self._archive is not None:
            self._archive.close()

    def handle(self, packet: Packet) -> None:
        """Process one packet and store all it produced with the stream position, atomically."""
        self.handle_many([packet])

    def handle_many(self, packets: Sequence[Packet]) -> None:
        """Process packets in order and store all they produced, with the stream positions,
        in one transaction: after a crash, either all of them count or none does."""
        arrival = self._clock()
        arrival_s = arrival.timestamp()
        # newest data times as POSIX seconds, made datetimes once per channel and station
        positions: dict[str, dict[tuple[str, str], tuple[int, float]]] = {}
        arrivals: dict[int, tuple[float, int]] = {}
        try:
            with self._factory() as session, session.begin():
                for packet in packets:
                    net, _, sta = packet.station_id.partition("_")
                    record = self._decode(packet, f"{net}.{sta}")
                    if record is not None:
                        self._take(session, packet, record, arrival_s, arrivals)
                    if packet.seqnum is not None:
                        end = record.endtime if record is not None else arrival_s
                        server = positions.setdefault(packet.server or self._server, {})
                        server[(net, sta)] = (packet.seqnum, end)
                self._store_pending(session, arrival)
                # An event updated by many picks of one batch is written once, as it ends up.
                for event in self._changed.values():
                    self._store_event(session, event, arrival)
                record_arrivals(
                    session,
                    arrivals={c: (_utc(t), n) for c, (t, n) in arrivals.items()},
                    arrival_time=arrival,
                )
                for server_id, at in positions.items():
                    save_stream_states(
                        session,
                        server=server_id,
                        positions={k: (seq, _utc(t)) for k, (seq, t) in at.items()},
                        now=arrival,
                    )
                if self._archive is not None:
                    self._archive.store_index(session, now=arrival)
                log_changes(session, changes=self._log, now=arrival)  # last: see its docs
        except BaseException:
            self._changed.clear()
            self._log.clear()
            self._pending.clear()
            if self._archive is not None:
                self._archive.rolled_back()
            raise
        self._changed.clear()
        self._log.clear()
        still = self._detecting.open_pick_keys
        self._detection_ids = {k: v for k, v in self._detection_ids.items() if k in still}
        if self._archive is not None:
            self._archive.committed()
        self.counts["packets"] += len(packets)

    def _take(
        self,
        session: Session,
        packet: Packet,
        record: Record,
        arrival_s: float,
        arrivals: dict[int, tuple[float, int]],
    ) -> None:
        if self._archive is not None:
            # Every decodable record, known to the inventory or not: nothing is lost.
            self._archive.append(
                session, key=record.key, starttime=record.starttime, record=packet.payload
            )
        channel = self._channels.get(record.key)
        if channel is None:
            self.counts["unknown_stream"] += 1
            if record.key not in self._unknown:
                self._unknown.add(record.key)
                log.warning(
                    "%s seq %s: stream not in the inventory: archived, not processed",
                    record.key,
                    packet.seqnum,
                )
            return
        refused = self._refusal(record, channel, arrival_s)
        if refused:
            self.counts[refused[0]] += 1
            log.warning(
                "%s seq %s: %s: archived, not processed", record.key, packet.seqnum, refused[1]
            )
            return
        self._last_end[record.key] = record.endtime
        previous = arrivals.get(channel.id)
        end = record.endtime
        arrivals[channel.id] = (
            end if previous is None else max(previous[0], end),
            1 if previous is None else previous[1] + 1,
        )
        self._process(session, record, channel, arrival_s)

    @staticmethod
    def _refusal(record: Record, channel: Channel, arrival_s: float) -> tuple[str, str] | None:
        """Why a record of a known channel is not processed (counter, words), or None."""
        if abs(record.sampling_rate - channel.sampling_rate) > 1e-6 * channel.sampling_rate:
            return (
                "wrong_rate",
                f"sampling rate {record.sampling_rate:g} Hz, "
                f"the inventory says {channel.sampling_rate:g} Hz",
            )
        ahead = record.endtime - arrival_s
        if ahead > FUTURE_TOLERANCE_S:
            return ("future", f"record ends {ahead:.0f} s after it arrived (clock ahead?)")
        return None

    def _decode(self, packet: Packet, station: str) -> Record | None:
        """The packet's record; None (counted and logged) if corrupt or a repeat."""
        try:
            record = decode_record(packet.payload)
        except RecordError as e:
            self.counts["corrupt"] += 1
            log.warning("%s seq %s: skipped: %s", station, packet.seqnum, e)
            return None
        last_end = self._last_end.get(record.key)
        if last_end is not None and record.endtime <= last_end + 0.5 / record.sampling_rate:
            self.counts["repeated"] += 1
            log.warning(
                "%s seq %s: record ending %s was already received, skipped",
                record.key,
                packet.seqnum,
                record.end_datetime().isoformat(),
            )
            return None
        return record

    def _process(
        self, session: Session, record: Record, channel: Channel, arrival_s: float
    ) -> None:
        self.counts["records"] += 1
        if self.monitor is not None:
            self.monitor.add(record, channel, arrival_s)
        if channel.kind.value == "soh":
            return

        def keep(found: Found) -> int:
            return self._store_detection(found, channel)

        for event in self._detecting.feed(record, keep):
            self._changed[event.event_key] = event

    def _store_detection(self, found: Found, channel: Channel) -> int:
        """Queue a detection for the batch's insert; its local key for the associator."""
        trigger = found.trigger
        key = self._next_key
        self._next_key += 1
        self._pending.append(
            (
                key,
                NewDetection(
                    channel_id=channel.id,
                    on_time=_utc(trigger.on_time),
                    off_time=_utc(trigger.off_time),
                    onset_time=_utc(trigger.onset_time),
                    peak_ratio=float(trigger.peak_ratio),
                    snr=float(trigger.snr) if math.isfinite(trigger.snr) else None,
                    peak_amplitude=float(trigger.peak_amplitude),
                    profile=found.profile,
                    phase=trigger.phase,
                    onset_uncertainty=float(trigger.onset_uncertainty),
                    polarity=trigger.polarity,
                    bridged=trigger.bridged,
                ),
            )
        )
        self.counts["detections"] += 1
        log.info(
            "detection %s %s at %s (ratio %.1f, snr %.1f)",
            found.key,
            trigger.phase or "-",
            _utc(trigger.onset_time).isoformat(),
            trigger.peak_ratio,
            trigger.snr,
        )
        return key

    def _store_pending(self, session: Session, now: datetime) -> None:
        """Insert the batch's detections in one statement and learn their ids."""
        ids = store_detections(session, detections=[d for _, d in self._pending], now=now)
        for (key, _), detection_id in zip(self._pending, ids, strict=True):
            self._detection_ids[key] = detection_id
            self._log.append((ChangeKind.DETECTION, detection_id))
        self._pending.clear()

    def _store_event(self, session: Session, event: NetworkEvent, now: datetime) -> None:
        stored = store_event(
            session,
            event_id=self._event_ids.get(event.event_key),
            time=_utc(event.time),
            status=EventStatus(event.status),
            n_stations=len(event.stations),
            coincidence_sum=float(event.coincidence_sum),
            duration=float(event.duration),
            detection_ids=[self._detection_ids[k] for k in event.pick_keys],
            now=now,
        )
        self._log.append((ChangeKind.EVENT, stored.id))
        if event.event_key not in self._event_ids:
            self.counts["events"] += 1
            log.info(
                "event %d at %s: %s", stored.id, stored.time.isoformat(), ", ".join(event.stations)
            )
        self._event_ids[event.event_key] = stored.id
