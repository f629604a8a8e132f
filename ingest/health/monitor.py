"""The worker's health monitor: channel metrics fed record by record, station states on a
clock.

Records update each channel's :class:`ChannelHealth` (cheap, per record). On a clock
(``state_interval_s``, whether data arrive or not) :meth:`HealthMonitor.evaluate` turns the
metrics of the stations this worker holds into channel and station states, stores them and
the state changes; every ``interval_s`` it also stores a snapshot of every channel's metrics,
and folds old snapshots into hourly means. Because latencies are computed from the clock, a
station that goes silent turns DOWN on time although no record arrives.
"""

from __future__ import annotations

import logging
import math
import re
import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ingest.config import LarzaConfig
from ingest.health.metrics import ChannelHealth
from ingest.health.noise import NoiseMeter
from ingest.health.verdict import Verdict, channel_verdict, station_verdict
from ingest.seedlink.decode import Record
from stations.changes import log_changes
from stations.health import (
    ChannelReport,
    add_snapshots,
    downsample_snapshots,
    save_channel_health,
    save_station_states,
)
from stations.models import ChangeKind, Channel, ChannelKind, HealthState, StateChange
from stations.queries import ChannelKey, channel_statuses

_NUMBER = re.compile(r"\d+(?:\.\d+)?")

log = logging.getLogger(__name__)

StationCode = tuple[str, str]
_DOWNSAMPLE_EVERY_S = 600.0


class HealthMonitor:
    """Health of every channel of the inventory this worker sees; states of held stations."""

    def __init__(self, config: LarzaConfig, channels: dict[ChannelKey, Channel]) -> None:
        self._config = config
        self._channels = channels
        self._health: dict[ChannelKey, ChannelHealth] = {}
        self._next_snapshot: dict[StationCode, float] = {}
        self._written: dict[ChannelKey, float] = {}  # when a channel's health is next due
        self._stored: dict[ChannelKey, tuple[HealthState, str]] = {}
        self._next_downsample = 0.0
        self.counts = {"evaluations": 0, "snapshots": 0, "state_changes": 0}
        self._flags: dict[ChannelKey, list[str]] = {}

    def flag(self, key: ChannelKey, why: str) -> None:
        """A problem with a channel that its metrics do not show (e.g. its detection stopped):
        the channel is DEGRADED with ``why`` among its reasons from the next evaluation."""
        reasons = self._flags.setdefault(key, [])
        if why not in reasons:
            reasons.append(why)

    def add(
        self,
        record: Record,
        channel: Channel,
        arrival: float,
        *,
        resumed_after: float | None = None,
    ) -> None:
        """Account for one record of a known channel (the pipeline checked it).

        ``resumed_after``: the last sample time of the channel's data before this worker (re)
        started reading it, when a span is missing since: the window then starts there, so
        the span counts as a gap in availability, gaps and the state's reason.
        """
        health = self._health.get(record.key)
        if health is None:
            health = self._health[record.key] = self._make(record.key, channel, record.starttime)
        if resumed_after is not None:
            health.resume_after(resumed_after)
        health.add(
            record.starttime,
            record.data,
            arrival,
            timing_quality=record.timing_quality,
            clock_locked=record.clock_locked if record.timing_quality is not None else None,
        )

    def _make(self, key: ChannelKey, channel: Channel, started: float) -> ChannelHealth:
        limits = self._config.health_for(key)
        noise = None
        if channel.kind is not ChannelKind.SOH and channel.sensitivity:
            noise = NoiseMeter(
                channel.sampling_rate,
                abs(channel.sensitivity),
                "velocity" if channel.kind is ChannelKind.SEISMOMETER else "acceleration",
                band=limits.noise_band_hz,
                interval_s=limits.noise_interval_s,
                segment_s=limits.noise_segment_s,
                phase=(zlib.crc32(".".join(key).encode()) % 1000) / 1000,
            )
        return ChannelHealth(
            channel.sampling_rate,
            window_s=limits.window_s,
            clip_level=None if channel.kind is ChannelKind.SOH else limits.clip_level,
            started=started,
            noise=noise,
        )

    def evaluate(
        self, session: Session, *, now: datetime, stations: Iterable[StationCode]
    ) -> list[StateChange]:
        """Evaluate and store the states of ``stations``; returns the state changes.

        A channel's stored health (its metrics, state and reason) is written when its state
        or the kind of its reason changed ("data 12 s late" and "data 14 s late" are one
        kind), and otherwise once per ``interval_s`` (the snapshot interval): thousands of
        channels cost a few writes per evaluation, not thousands, also while a worker that
        fell behind sees every channel late by a little more at each evaluation. Latencies are
        read by the API from the channels' status, which every batch keeps current.
        """
        t = now.timestamp()
        held = set(stations)
        keys = [k for k in self._channels if (k.network, k.station) in held]
        self._seed(session, [k for k in keys if k not in self._health], t)
        reports: list[ChannelReport] = []
        written: list[ChannelReport] = []
        by_station: dict[StationCode, dict[str, Verdict]] = {code: {} for code in held}
        station_ids: dict[StationCode, int] = {}
        every = self._config.health.interval_s
        for key in keys:
            channel = self._channels[key]
            metrics = self._health[key].snapshot(t)
            due = t >= self._written.get(key, -math.inf)
            if key in self._flags:
                metrics["problems"] = list(self._flags[key])
            soh = self._config.soh_for(key) if channel.kind is ChannelKind.SOH else None
            if soh is not None and metrics.get("last_value") is not None:
                metrics.update(
                    name=soh.name, unit=soh.unit, value=metrics["last_value"] * soh.scale
                )
            verdict = channel_verdict(metrics, channel.kind, self._config.health_for(key), soh)
            code = (key.network, key.station)
            by_station[code][f"{key.location}.{key.channel}".lstrip(".")] = verdict
            station_ids[code] = channel.station_id
            report = ChannelReport(channel.id, verdict.state, verdict.reason, metrics)
            reports.append(report)
            kind = (verdict.state, _kind(verdict.reason))
            if due or self._stored.get(key) != kind:
                written.append(report)
                self._stored[key] = kind
                self._written[key] = t + every
        save_channel_health(session, reports=written, now=now)
        verdicts = {
            code: station_verdict(channels)
            for code, channels in by_station.items()
            if code in station_ids  # a station without channels in the inventory has none
        }
        changes = save_station_states(
            session,
            states={station_ids[c]: (v.state, v.reason) for c, v in verdicts.items()},
            now=now,
        )
        codes = {station_ids[c]: c for c in verdicts}
        for change in changes:
            log.log(
                logging.WARNING if change.to_state.value != "OK" else logging.INFO,
                "%s.%s: %s -> %s: %s",
                *codes[change.station_id],
                change.from_state.value,
                change.to_state.value,
                change.reason or "all channels OK",
            )
        self._store_history(session, reports, now, by_station=station_ids)
        log_changes(session, changes=[(ChangeKind.STATE, c.id) for c in changes], now=now)
        self.counts["evaluations"] += 1
        self.counts["state_changes"] += len(changes)
        return changes

    def _store_history(
        self,
        session: Session,
        reports: list[ChannelReport],
        now: datetime,
        *,
        by_station: dict[StationCode, int],
    ) -> None:
        """A snapshot of each station's channels once per ``interval_s`` (stations are
        evaluated in turns, each keeps its own time), and the downsampling now and then."""
        t = now.timestamp()
        limits = self._config.health
        due = {
            station_id
            for code, station_id in by_station.items()
            if t >= self._next_snapshot.get(code, -math.inf)
        }
        if due:
            station_of = {c.id: c.station_id for c in self._channels.values()}
            self.counts["snapshots"] += add_snapshots(
                session,
                reports=[r for r in reports if station_of.get(r.channel_id) in due],
                now=now,
                interval_s=round(limits.interval_s),
            )
            for code, station_id in by_station.items():
                if station_id in due:
                    self._next_snapshot[code] = t + limits.interval_s
        if t >= self._next_downsample:
            folded, dropped = downsample_snapshots(
                session,
                now=now,
                raw_retention=timedelta(days=limits.raw_retention_days),
                retention=timedelta(days=limits.retention_days),
            )
            if folded or dropped:
                log.info("health history: %d snapshots folded hourly, %d expired", folded, dropped)
            self._next_downsample = t + _DOWNSAMPLE_EVERY_S

    def _seed(self, session: Session, keys: list[ChannelKey], now: float) -> None:
        """Channels not seen since this worker started: latencies from the database."""
        if not keys:
            return
        statuses = channel_statuses(session, channel_ids=(self._channels[k].id for k in keys))
        for key in keys:
            channel = self._channels[key]
            health = self._make(key, channel, now)
            status = statuses.get(channel.id)
            if status is not None:
                health.seed(
                    status.last_sample_time.timestamp(), status.last_arrival_time.timestamp()
                )
            self._health[key] = health


def _kind(reason: str) -> str:
    """A reason without its numbers: what it says, not how much."""
    return _NUMBER.sub("#", reason)
