"""Per-packet work: decode, judge, archive, detect, associate, and store it all with the
stream position.

Everything a batch of packets produced is written in one transaction together with each
station's position: the sequence number and start time of the last record *archived* (never
a repeat, a corrupt packet or an arrival time), so a restart resumes exactly after it. A
record is skipped only when it is a true repeat of one already taken (same channel, start
time and bytes: see :mod:`ingest.worker.ledger`); a late or backfilled record is archived.
A span missing from a channel's data is stored as a gap, logged, and counted by health.
A failure in one channel's processing is contained to that channel.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from detection import StationCoordinates, TravelTimeTable, predicted_arrivals
from ingest.alerts.engine import EarlyWarning, Outgoing, adopt_alerts
from ingest.config import LarzaConfig
from ingest.detect.chain import Detecting, EventChange, Found, SensorKey, sensor_of
from ingest.health.monitor import HealthMonitor
from ingest.quakes.model import locates
from ingest.seedlink.decode import Record, RecordError, decode_record
from ingest.seedlink.source import Packet
from ingest.worker.archive import SdsArchive
from ingest.worker.early import PreliminaryPicks
from ingest.worker.ledger import Kind, Ledger, Seen
from ingest.worker.quakes import EventMeasurer
from stations.alerts import AlertClosedError, add_alert_version
from stations.changes import log_changes
from stations.gaps import NewGap, add_gaps, fill_gaps
from stations.models import ChangeKind, Channel, EventStatus, LocationStatus
from stations.quakes import NewArrival, NewOrigin, NewPrediction, delete_event, store_origin
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
LEAD_IN_BYTES = 256 * 1024
"""How much of a day file's tail is read for a channel's lead-in (~8 min of 512-byte Steim-2
records at 100 sps)."""


def _stations(channels: Mapping[ChannelKey, Channel]) -> dict[str, StationCoordinates]:
    return {
        f"{k.network}.{k.station}": StationCoordinates(
            c.station.latitude, c.station.longitude, c.station.elevation / 1000.0
        )
        for k, c in channels.items()
    }


def _station_ids(channels: Mapping[ChannelKey, Channel]) -> dict[str, int]:
    return {f"{k.network}.{k.station}": c.station_id for k, c in channels.items()}


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
        locate: bool = False,
    ) -> None:
        """``locate``: events are located earthquakes when the inventory has enough stations
        (the travel-time table of ``[velocity_model]`` is built, or read from its cache)."""
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
        self._changed: dict[int, EventChange] = {}  # events changed in the current batch
        self._log: list[tuple[ChangeKind, int]] = []  # what the current batch changed
        self._unknown: set[ChannelKey] = set()
        self.counts: Counter[str] = Counter()
        self.broken = False
        with session_factory() as session:
            self._channels: dict[ChannelKey, Channel] = channel_index(session)
        self._sensors: dict[SensorKey, list[ChannelKey]] = {}
        _add_sensors(self._sensors, self._channels)
        newest = self._newest_samples()
        self._ledger = Ledger(archive, newest)
        self._gaps: list[NewGap] = []  # found in the current batch
        self._failed: dict[tuple[ChannelKey, str], str] = {}  # (channel, part) -> why
        self.monitor = HealthMonitor(config, self._channels) if health else None
        stations = _stations(self._channels)  # the measurer's too: refresh_channels adds
        self._stations = stations
        self._station_ids = _station_ids(self._channels)  # for the predicted arrivals
        table = None
        if locate and locates(config.location, len(stations)):
            from ingest.quakes.model import travel_time_table  # TauP: only when it is needed

            table = travel_time_table(config)
        self._table = table
        self._detecting = Detecting(config, stations, table, preliminary=True)
        self._measurer: EventMeasurer | None = None
        if table is not None and archive is not None and self._detecting.locates:
            self._measurer = EventMeasurer(archive, config, table, stations, self._channels)
        self._detecting.seen_until(newest)
        self._early = PreliminaryPicks()
        with session_factory() as session:
            known, self._next_key = self._early.load(session, self._channels, self._next_key)
        self._detecting.known_preliminary(known)
        self.warning = (
            EarlyWarning(
                config, self._channels, lambda: table if table is not None else _table(config)
            )
            if config.alerts.enabled
            else None
        )
        # alert messages of the current batch: (message, detect s, warn s, when made)
        self._outgoing: list[tuple[Outgoing, float, float, float]] = []
        self._batch_start = 0.0
        self._alert_ids: dict[str, int] = {}  # an alert's handle -> its id
        if self.warning is not None:
            self._alert_ids = adopt_alerts(session_factory, self.warning)
        self._timing: int | None = None  # the timing quality of the record being processed

    def _newest_samples(self) -> dict[ChannelKey, float]:
        """The last sample time of every channel the database has data of."""
        with self._factory() as session:
            statuses = channel_statuses(
                session, channel_ids=(c.id for c in self._channels.values())
            )
        return {
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
        _add_sensors(self._sensors, added)
        if added:
            new = _stations(added)
            self._stations.update(new)
            self._station_ids.update(_station_ids(added))
            self._detecting.add_stations(new)
            if self._measurer is not None:
                self._measurer.forget_inventory()
        return len(added)

    def resync(self) -> None:
        """Re-read what other workers may have changed: the stations held have changed
        (a lease taken over or lost), so newest records and archive sizes are read again."""
        newest = self._newest_samples()
        self._detecting.seen_until(newest)
        if self._archive is not None:
            self._archive.forget()
        self._ledger.restart(newest)

    def close(self) -> None:
        """Release open files (the worker's shutdown)."""
        if self._archive is not None:
            self._archive.close()

    def handle(self, packet: Packet) -> None:
        """Process one packet and store all it produced with the stream position, atomically."""
        self.handle_many([packet])

    def handle_many(self, packets: Sequence[Packet]) -> None:
        """Process packets in order and store all they produced, with the stream positions,
        in one transaction: after a crash, either all of them count or none does.

        If the transaction fails, the pipeline's state (detectors, associator, what each
        channel has received) has moved past what was stored: it refuses further batches
        (:attr:`broken`), and the worker builds a new one, as after a restart.
        """
        if self.broken:
            raise RuntimeError("the pipeline's last batch was not stored: build a new one")
        arrival = self._clock()
        arrival_s = arrival.timestamp()
        self._batch_start = time.perf_counter()
        # newest data times as POSIX seconds, made datetimes once per channel and station
        positions: dict[str, dict[tuple[str, str], tuple[int, float]]] = {}
        arrivals: dict[int, tuple[float, int]] = {}
        try:
            with self._factory() as session, session.begin():
                decoded = [(p, self._decode(p)) for p in packets]
                if self._archive is not None:
                    archive = self._archive
                    archive.prefetch(
                        session, (archive.path_of(r.key, r.starttime) for _, r in decoded if r)
                    )
                for packet, record in decoded:
                    net, _, sta = packet.station_id.partition("_")
                    if record is None or not self._take(
                        session, packet, record, arrival_s, arrivals
                    ):
                        continue  # corrupt, or a repeat: the position stays where it was
                    if packet.seqnum is not None:
                        server = positions.setdefault(packet.server or self._server, {})
                        server[(net, sta)] = (packet.seqnum, record.starttime)
                self._store_pending(session, arrival)
                self._store_alerts(session, arrival)
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
                add_gaps(session, gaps=self._gaps, now=arrival)
                if self._archive is not None:
                    self._archive.store_index(session, now=arrival)
                log_changes(session, changes=self._log, now=arrival)  # last: see its docs
        except BaseException:
            self.broken = True
            self._changed.clear()
            self._log.clear()
            self._pending.clear()
            self._early.rolled_back()
            self._outgoing.clear()
            self._gaps.clear()
            if self._archive is not None:
                self._archive.rolled_back()
            raise
        self._changed.clear()
        self._log.clear()
        self._gaps.clear()
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
    ) -> bool:
        """Archive and process one decoded record; False if it was a repeat (skipped)."""
        channel = self._channels.get(record.key)
        refused = None if channel is None else self._refusal(record, channel, arrival_s)
        seen = self._ledger.see(session, record, packet.payload, advance=refused is None)
        if seen.kind is Kind.REPEAT:
            self.counts["repeated"] += 1
            log.debug("%s seq %s: a repeat of a record already taken", record.key, packet.seqnum)
            return False
        if self._archive is not None:
            # Every decodable record, known to the inventory or not: nothing is lost.
            relative = self._archive.append(
                session, key=record.key, starttime=record.starttime, record=packet.payload
            )
            self._ledger.archived(relative, record, packet.payload)
        if seen.gap is not None:
            self._gap(record, seen)
        if seen.kind is Kind.LATE:
            self._late(session, packet, record)
            return True
        if channel is None:
            self.counts["unknown_stream"] += 1
            if record.key not in self._unknown:
                self._unknown.add(record.key)
                log.warning(
                    "%s seq %s: stream not in the inventory: archived, not processed",
                    record.key,
                    packet.seqnum,
                )
            return True
        if refused:
            self.counts[refused[0]] += 1
            log.warning(
                "%s seq %s: %s: archived, not processed", record.key, packet.seqnum, refused[1]
            )
            return True
        previous = arrivals.get(channel.id)
        end = record.endtime
        arrivals[channel.id] = (
            end if previous is None else max(previous[0], end),
            1 if previous is None else previous[1] + 1,
        )
        self._process(session, record, channel, arrival_s, seen)
        return True

    def _gap(self, record: Record, seen: Seen) -> None:
        """A span missing before this record: stored with the batch, logged, counted."""
        assert seen.gap is not None
        before, after = seen.gap
        key = record.key
        self._gaps.append(
            NewGap(
                network=key.network,
                station=key.station,
                location=key.location,
                channel=key.channel,
                start=_utc(before),
                end=_utc(after),
                sampling_rate=record.sampling_rate,
                cause=seen.cause,
            )
        )
        self.counts["gaps"] += 1
        missing = after - before - 1.0 / record.sampling_rate
        self.counts["gap_seconds"] += round(missing)
        log.warning(
            "%s: %.3f s missing, %s to %s (%s)",
            ".".join(key),
            missing,
            _utc(before).isoformat(),
            _utc(after).isoformat(),
            "while not reading: restarted, or the server no longer held them"
            if seen.cause == "resume"
            else "the data arrived without them",
        )

    def _late(self, session: Session, packet: Packet, record: Record) -> None:
        """A record before the channel's newest data, not one already taken: archived (and
        filling a gap if it falls in one), not processed (the detector runs forward)."""
        self.counts["late"] += 1
        key = record.key
        filled = fill_gaps(
            session,
            codes=(key.network, key.station, key.location, key.channel),
            start=_utc(record.starttime),
            end=_utc(record.endtime),
            sampling_rate=record.sampling_rate,
        )
        log.warning(
            "%s seq %s: a late record starting %s, before the newest data: archived%s",
            ".".join(key),
            packet.seqnum,
            _utc(record.starttime).isoformat(),
            f", filling {filled} gap(s)" if filled else "",
        )

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

    def _decode(self, packet: Packet) -> Record | None:
        """The packet's record; None (counted and logged) if corrupt."""
        try:
            return decode_record(packet.payload)
        except RecordError as e:
            self.counts["corrupt"] += 1
            station = packet.station_id.replace("_", ".", 1)
            log.warning("%s seq %s: skipped: %s", station, packet.seqnum, e)
            return None

    def _process(
        self, session: Session, record: Record, channel: Channel, arrival_s: float, seen: Seen
    ) -> None:
        """Health and detection of one record, each contained: a failure stops that part
        for that channel only (logged once, flagged in its health), never the batch."""
        self.counts["records"] += 1
        key = record.key
        if self.monitor is not None and (key, "health") not in self._failed:
            try:
                previous = seen.gap[0] if seen.gap is not None and seen.cause == "resume" else None
                self.monitor.add(record, channel, arrival_s, resumed_after=previous)
            except Exception as e:  # contained: one channel's data must not stop the worker
                self._fail(key, "health", e)
        if channel.kind.value == "soh" or (key, "detection") in self._failed:
            return

        def keep(found: Found) -> int:
            # a pick may be on another channel of the sensor than this record's (an S found
            # on the horizontals when the vertical's record completes its search)
            return self._store_detection(found, self._channels.get(found.key, channel))

        try:
            if not self._detecting.knows(key) and self._archive is not None:
                self._warm(session, record)
            self._timing = record.timing_quality
            events = self._detecting.feed(record, keep)
            if self.warning is not None:
                started = time.perf_counter()
                self._queue(self.warning.record(record, channel), started)
        except Exception as e:  # contained, as above
            self._fail(key, "detection", e)
            return
        for event in events:
            self._changed[event.event_key] = event

    def _warm(self, session: Session, record: Record) -> None:
        """A channel's first record since this pipeline started: its sensor's pickers first
        get their lead-in from the archive (what they were fed before the restart), so the
        picks go on as without a restart. The sensor's channels (``HHZ``, ``HHN``, ``HHE``)
        not yet running are warmed together, their records in time order, as they came; each
        up to the data it had processed, this one up to this record. Not when a gap separates
        the lead-in from this record (a picker starts afresh after a gap anyway)."""
        archive = self._archive
        assert archive is not None
        lead_in = self._detecting.lead_in_s(record.key)
        start = record.starttime - lead_in
        past: list[Record] = []
        for key in self._sensors.get(sensor_of(record.key), [record.key]):
            if key != record.key and self._detecting.knows(key):
                continue
            end = record.starttime if key == record.key else self._detecting.newest(key)
            if end <= start:
                continue
            mine = [
                r
                for r in map(
                    decode_record,
                    archive.read_back(
                        session, key=key, start=start, end=end, max_bytes=LEAD_IN_BYTES
                    ),
                )
                if r.endtime <= end + 0.5 / r.sampling_rate
            ]
            if key == record.key:
                mine = [r for r in mine if r.endtime < record.starttime]
                if not mine or record.starttime - mine[-1].endtime > 1.5 / record.sampling_rate:
                    return
            past += mine
        past.sort(key=lambda r: r.starttime)
        self._detecting.warm(past)
        self.counts["warmed"] += 1

    def _fail(self, key: ChannelKey, part: str, error: Exception) -> None:
        why = f"{part} stopped: {type(error).__name__}: {error}"
        self._failed[(key, part)] = why
        self.counts[f"{part}_failed"] += 1
        log.exception("%s: %s; the channel is still archived", ".".join(key), why)
        if self.monitor is not None:
            self.monitor.flag(key, why)

    def _store_detection(self, found: Found, channel: Channel) -> int:
        """Queue a detection for the batch's insert (or a preliminary pick's completion or
        withdrawal); its local key for the associator."""
        trigger = found.trigger
        if found.replaces is not None:
            detection = None if found.withdrawn else _new_detection(found, channel)
            in_batch, done = self._early.replace(found.replaces, detection, self._pending)
            if found.withdrawn:
                if self.warning is not None:
                    started = time.perf_counter()
                    self._queue(self.warning.withdrawn(found.replaces, trigger.on_time), started)
                self.counts["withdrawn"] += 1
                log.info("preliminary pick %s at %s withdrawn", found.key, _utc(trigger.on_time))
                return found.replaces
            if in_batch:
                return found.replaces  # completed within its batch
            if done is not None:
                key = self._next_key
                self._next_key += 1
                self._detection_ids[key] = done
                self.counts["detections"] += 1
                return key
        key = self._next_key
        self._next_key += 1
        detection = _new_detection(found, channel)
        if trigger.preliminary:
            detection = self._early.added(key, detection)
            self.counts["preliminary"] += 1
            if self.warning is not None:
                started = time.perf_counter()
                self._queue(self.warning.pick(found.key, trigger, key, self._timing), started)
            log.info(
                "preliminary %s %s at %s",
                found.key,
                trigger.phase or "-",
                _utc(trigger.on_time).isoformat(),
            )
            self._pending.append((key, detection))
            return key
        self._pending.append((key, detection))
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
        inserted = {key: i for (key, _), i in zip(self._pending, ids, strict=True)}
        self._early.store(session, inserted, self._log)
        self._pending.clear()

    def _queue(self, messages: list[Outgoing], started: float) -> None:
        """Alert messages of the warning's call that began at ``started`` (perf_counter)."""
        if messages:
            done = time.perf_counter()
            detect, warn = started - self._batch_start, done - started
            self._outgoing += [(m, detect, warn, done) for m in messages]

    def _store_alerts(self, session: Session, now: datetime) -> None:
        """Store the batch's alert messages, each a version of its alert, and log them; each
        carries the time its steps took (``content["latency_s"]``, see stations.alerts)."""
        for out, detect, warn, made in self._outgoing:
            timed = {"detect": detect, "warn": warn, "store": time.perf_counter() - made}
            content = {**out.message.content, "latency_s": timed}
            out = Outgoing(out.handle, dataclasses.replace(out.message, content=content))
            alert_id = self._alert_ids.get(out.handle)
            if alert_id is not None and out.message.action == "created":
                # the quake of an alert continued after a restart: an update of it
                out = Outgoing(out.handle, dataclasses.replace(out.message, action="updated"))
            if (alert_id is None) != (out.message.action == "created"):
                log.warning("alert %s: %s out of turn, not sent", out.handle, out.message.action)
                continue
            try:
                version = add_alert_version(
                    session, alert_id=alert_id, message=out.message, now=now
                )
            except AlertClosedError as e:
                log.warning("alert %s: %s", out.handle, e)
                self._alert_ids.pop(out.handle, None)
                continue
            self._log.append((ChangeKind.ALERT, version.id))
            self.counts[f"alerts_{out.message.action}"] += 1
            log.warning(
                "ALERT %d v%d %s (%s)",
                version.alert_id,
                version.version,
                out.message.action,
                out.handle,
            )
            if out.message.action == "created":
                self._alert_ids[out.handle] = version.alert_id
            elif out.message.action in ("cancelled", "ended"):
                del self._alert_ids[out.handle]
        self._outgoing.clear()

    def _store_event(self, session: Session, event: EventChange, now: datetime) -> None:
        if event.status == "deleted":
            # withdrawn: a better event took its picks (never stored if within one batch)
            event_id = self._event_ids.pop(event.event_key, None)
            if event_id is not None:
                delete_event(session, event_id=event_id)
                self._log.append((ChangeKind.EVENT, event_id))
                log.info("event %d withdrawn: its picks belong to another event", event_id)
            return
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
        if event.origin is not None:
            store_origin(session, event=stored, origin=self._origin(event), now=now)
        if self._measurer is not None and event.status == "final":
            measured = self._measurer.measure(session, stored, event)
            if measured is not None and measured.network is not None:
                self.counts["magnitudes"] += 1
        self._log.append((ChangeKind.EVENT, stored.id))
        if event.event_key not in self._event_ids:
            self.counts["events"] += 1
            log.info(
                "event %d at %s: %s", stored.id, stored.time.isoformat(), ", ".join(event.stations)
            )
        self._event_ids[event.event_key] = stored.id

    def _origin(self, event: EventChange) -> NewOrigin:
        origin = event.origin
        assert origin is not None
        by_key = {a.key: a for a in origin.arrivals}
        arrivals = []
        for pick in event.picks:
            located = by_key.get(pick.key)
            arrivals.append(
                NewArrival(
                    detection_id=self._detection_ids[pick.key],
                    phase=pick.phase,
                    residual=_finite(pick.residual),
                    weight=float(pick.weight),
                    distance_km=_finite(pick.distance_km),
                    azimuth=None if located is None else _finite(located.azimuth),
                )
            )
        located_ = origin.located
        return NewOrigin(
            status=LocationStatus(origin.status),
            reason=origin.reason,
            time=_utc(origin.time) if located_ else None,
            latitude=_finite(origin.latitude),
            longitude=_finite(origin.longitude),
            depth_km=_finite(origin.depth_km),
            rms=_finite(origin.rms),
            n_phases=origin.n_phases,
            n_stations=origin.n_stations,
            azimuthal_gap=_finite(origin.azimuthal_gap) if located_ else None,
            min_distance_km=_finite(origin.min_distance_km),
            max_distance_km=_finite(origin.max_distance_km),
            time_error_s=origin.time_error_s,
            latitude_error_km=origin.latitude_error_km,
            longitude_error_km=origin.longitude_error_km,
            depth_error_km=origin.depth_error_km,
            semi_major_km=origin.semi_major_km,
            semi_minor_km=origin.semi_minor_km,
            ellipse_azimuth=origin.ellipse_azimuth,
            quality=origin.quality,
            arrivals=tuple(arrivals),
            predicted=self._predictions(event),
        )

    def _predictions(self, event: EventChange) -> tuple[NewPrediction, ...]:
        """P and S times the located origin predicts at each station of the event (the
        event page draws them where a station picked only one phase, or none)."""
        origin = event.origin
        if origin is None or not origin.located or self._table is None:
            return ()
        ids = self._station_ids
        known = {s: self._stations[s] for s in event.stations if s in self._stations and s in ids}
        out = []
        for station, (p, s, d) in predicted_arrivals(origin, known, self._table).items():
            for phase, at in (("P", p), ("S", s)):
                out.append(NewPrediction(ids[station], phase, _utc(at), d))
        return tuple(out)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _add_sensors(
    sensors: dict[SensorKey, list[ChannelKey]], channels: Mapping[ChannelKey, Channel]
) -> None:
    """Index channels by the sensor they belong to (for warming a sensor's channels
    together)."""
    for key in channels:
        members = sensors.setdefault(sensor_of(key), [])
        if key not in members:
            members.append(key)


def _new_detection(found: Found, channel: Channel) -> NewDetection:
    trigger = found.trigger
    return NewDetection(
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
    )


def _table(config: LarzaConfig) -> TravelTimeTable:
    from ingest.quakes.model import travel_time_table  # ObsPy's TauP: only when needed

    return travel_time_table(config)
