"""The worker's early warning: on-site meters on every seismometer and accelerometer channel,
the network warning fed with P picks at trigger-on, PLUM-style station alerts, and the
alert messages they make.

The pipeline calls :meth:`EarlyWarning.pick` with each preliminary P (or phase-less
vertical) pick as it is stored, :meth:`EarlyWarning.withdrawn` when one is taken back, and
:meth:`EarlyWarning.record` with each record; each returns :class:`Outgoing` messages, which
the pipeline stores (``stations.alerts``) and logs as changes in the same transaction as the
record, so they reach the SSE stream and webhooks with it. Suppressed candidates are logged
once each, with the reason, and counted in :attr:`EarlyWarning.suppressed`.

With ``[alerts] exercise = true`` (a drill, e.g. over ``larza feed --scenario``) every
message carries ``content["exercise"] = True``: the API writes it as CAP status Exercise.

Only the vertical channels' on-site readings go to the network warning: Pd and tau_c are
measured on the vertical P (Wu & Kanamori 2005); every channel's shaking counts for the
station alerts. Of a station's seismometer and accelerometer, the seismometer's reading
measures (its noise is far lower at the periods of Pd and tau_c); the accelerometer's
counts where the seismometer clipped or sends nothing. The two must agree that there is
a P at all (:func:`detection.compare_colocated`) before the station enters the point
source.

The travel-time table is built (or read from its cache) when the first network candidate
needs a location, not at start-up.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from detection import (
    NetworkWarning,
    OnsiteMeter,
    PointSource,
    SensorAgreement,
    SensorKind,
    ShakingCandidate,
    ShakingVote,
    StationCoordinates,
    Suppressed,
    TravelTimeTable,
    Trigger,
    WarningMessage,
    compare_colocated,
    role_of,
)
from ingest.alerts.config import NOISE_GAP_S, agreement_config, warning_config
from ingest.config import LarzaConfig
from ingest.seedlink.decode import Record
from stations.alerts import AlertMessage, active_alerts
from stations.models import AlertVersion, Channel, ChannelKind
from stations.queries import ChannelKey

__all__ = ["EarlyWarning", "Outgoing", "adopt_alerts", "message_of"]

log = logging.getLogger(__name__)

WINDOW_S = 60.0
"""Seconds after a P onset that a station's meters keep measuring."""
ONSITE_END_S = 60.0
"""An on-site alert ends this long after it was raised."""
RECORDING_S = 10.0
"""A second sensor counts as recording when its data reach this close to a P onset."""


@dataclass(frozen=True)
class Outgoing:
    """A message for the alert called ``handle`` (``network``, or ``onsite:NET.STA``)."""

    handle: str
    message: AlertMessage


def message_of(warning: WarningMessage) -> AlertMessage:
    """A network warning message as the alert tables keep it."""
    source = warning.source
    if source is None:
        return AlertMessage(action=warning.action, kind="network", reason=warning.reason or None)
    return _from_source(warning.action, source, warning.reason)


def _from_source(action: str, source: PointSource, reason: str) -> AlertMessage:
    origin = source.origin
    magnitude = source.magnitude if math.isfinite(source.magnitude) else None
    sigma = source.magnitude_sigma if math.isfinite(source.magnitude_sigma) else None
    return AlertMessage(
        action=action,  # type: ignore[arg-type]
        kind="network",
        origin_time=_utc(origin.time),
        latitude=origin.latitude,
        longitude=origin.longitude,
        depth_km=origin.depth_km,
        magnitude=magnitude,
        magnitude_sigma=sigma,
        reason=reason or None,
        content={
            "stations": list(source.stations),
            "location_status": origin.status,
            "rms_s": origin.rms,
            "sites": [
                {
                    "name": s.name,
                    "latitude": s.latitude,
                    "longitude": s.longitude,
                    "mmi": round(s.mmi, 2),
                    "s_arrival": _utc(s.s_arrival).isoformat(),
                    "warning_s": round(s.warning_s, 2),
                    "alert": s.alert,
                }
                for s in source.sites
            ],
        },
    )


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class _Meter:
    meter: OnsiteMeter
    station: str
    sensor: str  # location.band, e.g. ".HH"
    clip: float | None
    vertical: bool = True
    peak: float = 0.0  # largest |counts| since the onset
    until: float = 0.0  # measuring up to this data time


class EarlyWarning:
    """On-site meters, the network warning and station alerts over the worker's records."""

    def __init__(
        self,
        config: LarzaConfig,
        channels: Mapping[ChannelKey, Channel],
        table: Callable[[], TravelTimeTable],
    ) -> None:
        self._config = config
        self._table_of = table
        self._channels = channels
        self._warning: NetworkWarning | None = None
        self._meters: dict[ChannelKey, _Meter] = {}
        self._vote = ShakingVote(
            mmi_level=config.alerts.onsite_mmi, agree_s=config.alerts.onsite_agree_s
        )
        self._onsite: dict[str, float] = {}  # station -> data time its on-site alert began
        self._checks: dict[str, float] = {}  # station -> P onset its sensors are compared at
        self._agreement = agreement_config(config.alerts)
        self._said: set[tuple[str, tuple[str, ...]]] = set()
        self._adopted: float | None = None  # data time to end a network alert stored before
        self._heard: dict[str, float] = {}  # station -> its newest data, until the warning is up
        self.suppressed: Counter[str] = Counter()
        """Candidates turned down, by reason."""

    def coordinates(self) -> dict[str, StationCoordinates]:
        return {
            f"{k.network}.{k.station}": StationCoordinates(
                c.station.latitude, c.station.longitude, c.station.elevation / 1000.0
            )
            for k, c in self._channels.items()
        }

    def _network(self) -> NetworkWarning:
        if self._warning is None:
            self._warning = NetworkWarning(
                self.coordinates(), self._table_of(), warning_config(self._config.alerts)
            )
            for station, until in self._heard.items():
                self._warning.heard(station, until)
            self._heard.clear()
        return self._warning

    # -- what the pipeline calls --------------------------------------------------------------

    def adopt(self, handle: str, latest: AlertVersion) -> None:
        """An alert left active by the worker before a restart: it is continued (a new
        estimate of the same quake updates it) and ended when it would have been,
        ``end_after_s`` after the S passed every site (an on-site one ``ONSITE_END_S`` after
        it began)."""
        content = latest.content or {}
        if handle.startswith("onsite:"):
            self._onsite[handle.removeprefix("onsite:")] = float(content.get("time", 0.0))
            return
        arrivals = [
            datetime.fromisoformat(site["s_arrival"]).timestamp()
            for site in content.get("sites", [])
        ]
        origin = latest.origin_time.timestamp() if latest.origin_time is not None else 0.0
        self._adopted = max(arrivals, default=origin + 60.0) + self._config.alerts.end_after_s

    def record(self, record: Record, channel: Channel) -> list[Outgoing]:
        """Feed a record to its channel's meter; readings of stations after their P go to
        the network warning and the station vote."""
        key = record.key
        station = f"{key.network}.{key.station}"
        if channel.kind not in (ChannelKind.SEISMOMETER, ChannelKind.ACCELEROMETER):
            pass  # a state-of-health channel's data say nothing of the ground's
        elif self._warning is not None:  # its data flow: while it has no P, none arrived yet
            self._warning.heard(station, record.endtime)
        elif record.endtime > self._heard.get(station, -math.inf):
            self._heard[station] = record.endtime
        found = self._meters.get(key)
        if found is None:
            made = self._set_up(key, channel, record.sampling_rate)
            if made is None:
                return []
            found = made
        meter = found.meter
        try:
            meter.feed(record.data, record.starttime)
        except ValueError:  # non-finite samples: the chain starts afresh on the next record
            meter.reset()
            return []
        out: list[Outgoing] = []
        if meter.active:
            if record.endtime > found.until:
                meter.stop()
            else:
                found.peak = max(found.peak, float(np.max(np.abs(record.data))))
                out += self._reading(found)
        out += self._tick(record.endtime)
        return self._marked(out)

    def pick(
        self, key: ChannelKey, trigger: Trigger, pick_key: int, timing_quality: int | None
    ) -> list[Outgoing]:
        """A preliminary pick: a P (or a vertical's phase-less pick) starts the station's
        meters and goes to the network warning."""
        if role_of(key.channel) != "vertical" or trigger.phase not in ("P", None):
            return []
        station = f"{key.network}.{key.station}"
        onset = trigger.onset_time
        network = self._network()
        # a P after a glitch its sensors disagreed on, or after a candidate that no P can
        # join any more: measured from this onset instead
        again = network.rejected(station) or station in network.expire(onset)
        for other, found in self._meters.items():
            same = (other.network, other.station) == (key.network, key.station)
            if same and found.meter.fed and (again or not found.meter.active):
                found.meter.start(onset)
                found.until = onset + WINDOW_S
                found.peak = 0.0
        messages, suppressed = network.add_pick(
            station,
            onset,
            pick_key,
            timing_quality=timing_quality,
            colocated=len(self._pair(station, onset)) == 2,
        )
        if network.awaiting(station):
            self._checks[station] = onset
        self._suppress(suppressed)
        return self._marked([Outgoing("network", message_of(m)) for m in messages])

    def withdrawn(self, pick_key: int, now: float) -> list[Outgoing]:
        if self._warning is None:
            return []
        messages, suppressed = self._warning.withdraw(pick_key, now)
        self._suppress(suppressed)
        return self._marked([Outgoing("network", message_of(m)) for m in messages])

    # -- internals ----------------------------------------------------------------------------

    def _marked(self, out: list[Outgoing]) -> list[Outgoing]:
        """The messages, each marked as an exercise in a drill."""
        if not self._config.alerts.exercise or not out:
            return out
        return [
            Outgoing(
                o.handle,
                dataclasses.replace(o.message, content={**o.message.content, "exercise": True}),
            )
            for o in out
        ]

    def _set_up(self, key: ChannelKey, channel: Channel, rate: float) -> _Meter | None:
        if channel.kind not in (ChannelKind.SEISMOMETER, ChannelKind.ACCELEROMETER):
            return None
        if not channel.sensitivity or rate <= 0.3:
            return None
        kind: SensorKind = (
            "acceleration" if channel.kind == ChannelKind.ACCELEROMETER else "velocity"
        )
        try:
            meter = OnsiteMeter(rate, kind=kind, gain=float(channel.sensitivity))
        except ValueError:
            return None
        clip = self._config.health_for(key).clip_level
        made = _Meter(
            meter,
            f"{key.network}.{key.station}",
            f"{key.location}.{key.channel[:2]}",
            clip,
            vertical=role_of(key.channel) == "vertical",
        )
        self._meters[key] = made
        return made

    def _pair(self, station: str, onset: float) -> list[_Meter]:
        """The station's vertical meters of two sensors recording at ``onset`` (its
        seismometer and accelerometer), or fewer."""
        found: dict[str, _Meter] = {}
        for m in sorted(self._meters.values(), key=lambda m: m.sensor):
            recording = m.meter.fed and m.meter.end_time >= onset - RECORDING_S
            if m.station == station and m.vertical and recording and m.sensor not in found:
                found[m.sensor] = m
        return list(found.values())[:2]

    def _seismometer_measures(self, found: _Meter) -> bool:
        """Whether an accelerometer's reading is left out of the network's magnitude because
        the station's seismometer measures Pd and tau_c: integrated twice, an accelerometer's
        noise grows at the long periods they are made of (80 counts of it add about 0.2 to
        0.5 to the magnitude of the bench's quakes), a broadband seismometer's does not; the
        accelerometer's reading counts where the seismometer clipped or sends nothing."""
        if found.meter.kind != "acceleration":
            return False
        return any(
            m.station == found.station
            and m.vertical
            and m.meter.kind == "velocity"
            and m.meter.active
            and not _clipped(m)
            and m.meter.end_time >= found.meter.end_time - RECORDING_S
            for m in self._meters.values()
        )

    def _compare(self, station: str) -> list[Outgoing]:
        """The station's co-located sensors compared on its P so far; the verdict, once
        there is one, goes to the network warning."""
        warning = self._warning
        onset = self._checks.get(station)
        if warning is None or onset is None or not warning.awaiting(station):
            self._checks.pop(station, None)
            return []
        pair = self._pair(station, onset)
        if len(pair) < 2:
            return []
        a, b = pair
        end = min(a.meter.end_time, b.meter.end_time)
        # complete once either has its whole P window: a sensor whose data lag is not
        # waited for longer
        complete = max(a.meter.end_time, b.meter.end_time) - onset >= a.meter.config.window_s
        if not (end > onset or complete):
            return []
        window = _on_grid(a.meter, b.meter, onset, end)
        noise_s = self._config.alerts.sensors.noise_s
        noise = _on_grid(a.meter, b.meter, onset - noise_s, onset - NOISE_GAP_S)
        agreement = compare_colocated(
            *window,
            *noise,
            a.meter.sampling_rate,
            complete=complete,
            names=(a.sensor.lstrip("."), b.sensor.lstrip(".")),
            clipped=(_clipped(a), _clipped(b)),
            config=self._agreement,
        )
        if agreement.verdict == "pending":
            return []
        del self._checks[station]
        _say_sensors(station, agreement)
        messages, suppressed = warning.sensors(station, agreement, now=end)
        self._suppress(suppressed)
        return [Outgoing("network", message_of(m)) for m in messages]

    def _reading(self, found: _Meter) -> list[Outgoing]:
        reading = found.meter.reading()
        if reading is None:
            return []
        clipped = _clipped(found)
        out: list[Outgoing] = []
        if self._warning is not None and found.vertical:
            if found.station in self._checks:
                out += self._compare(found.station)
            if not self._seismometer_measures(found):
                messages, suppressed = self._warning.add_reading(
                    found.station, found.sensor, reading, clipped=clipped
                )
                self._suppress(suppressed)
                out += [Outgoing("network", message_of(m)) for m in messages]
        if clipped or reading.mmi < self._vote.mmi_level:
            return out
        alerts = self._vote.add(
            ShakingCandidate(
                found.station, found.sensor, reading.onset_time + reading.seconds, reading.mmi
            )
        )
        for alert in alerts:
            station = alert.candidate.station
            if station in self._onsite:
                continue
            self._onsite[station] = alert.candidate.time
            out.append(
                Outgoing(
                    f"onsite:{station}",
                    AlertMessage(
                        action="created",
                        kind="onsite",
                        station=station,
                        reason=f"observed intensity {alert.candidate.mmi:.1f}, "
                        f"confirmed by {alert.agreed}",
                        content={
                            "time": alert.candidate.time,
                            "mmi": round(alert.candidate.mmi, 2),
                            "sensor": alert.candidate.sensor,
                            "agreed": alert.agreed,
                            "radius_km": 30.0,
                        },
                    ),
                )
            )
        return out

    def _tick(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for candidate in self._vote.expire(now):
            self._suppress(
                [
                    Suppressed(
                        "single_sensor",
                        f"{candidate.station}{candidate.sensor}: intensity "
                        f"{candidate.mmi:.1f} not confirmed by a second sensor or station",
                        (candidate.station,),
                    )
                ]
            )
        for station, began in list(self._onsite.items()):
            if now - began > ONSITE_END_S:
                del self._onsite[station]
                out.append(
                    Outgoing(
                        f"onsite:{station}",
                        AlertMessage(action="ended", kind="onsite", station=station),
                    )
                )
        if self._adopted is not None and now > self._adopted:
            self._adopted = None
            if self._warning is None or not self._warning.active:
                ended = AlertMessage(
                    action="ended", kind="network", reason="the S waves have passed every site"
                )
                out.append(Outgoing("network", ended))
        if self._warning is not None:
            out += [Outgoing("network", message_of(m)) for m in self._warning.tick(now)]
            if self._warning.idle and not self._onsite:
                self._said.clear()
        return out

    def _suppress(self, suppressed: list[Suppressed]) -> None:
        for s in suppressed:
            mark = (s.reason, s.stations)
            if mark in self._said:
                continue
            self._said.add(mark)
            self.suppressed[s.reason] += 1
            log.info("alert candidate suppressed (%s): %s", s.reason, s.detail)


def _clipped(found: _Meter) -> bool:
    return found.clip is not None and found.peak >= 0.95 * found.clip


def _say_sensors(station: str, agreement: SensorAgreement) -> None:
    words = {
        "agree": "its sensors agree on its P",
        "disagree": "its sensors disagree: its P is left out",
        "unseen": "its P cannot be confirmed by its second sensor: used unconfirmed",
    }
    log.info("%s: %s (%s)", station, words.get(agreement.verdict, "?"), agreement.detail)


def _on_grid(
    a: OnsiteMeter, b: OnsiteMeter, start: float, end: float
) -> tuple[np.ndarray, np.ndarray]:
    """Both meters' acceleration in ``[start, end)`` on ``a``'s samples: ``b``'s as it is
    when the two sample together (one digitizer), else interpolated; cut to the time both
    cover."""
    t_a, x_a = a.acceleration(start, end)
    t_b, x_b = b.acceleration(start, end)
    rate = a.sampling_rate
    if not (x_a.size and x_b.size):
        return np.zeros(0), np.zeros(0)
    if b.sampling_rate == rate and abs(t_b - t_a) * rate < 0.01:
        n = min(x_a.size, x_b.size)
        return x_a[:n], x_b[:n]
    times = t_a + np.arange(x_a.size) / rate
    times_b = t_b + np.arange(x_b.size) / b.sampling_rate
    inside = (times >= times_b[0]) & (times <= times_b[-1])
    return x_a[inside], np.interp(times[inside], times_b, x_b)


def adopt_alerts(factory: sessionmaker[Session], warning: EarlyWarning) -> dict[str, int]:
    """The alerts a worker left active before its restart, handed to ``warning`` to continue:
    handle -> alert id (the newest of each handle; an older duplicate is left as it is)."""
    with factory() as session:
        found = active_alerts(session)
    ids: dict[str, int] = {}
    for alert in found:
        latest = alert.versions[-1]
        handle = "network" if alert.kind == "network" else f"onsite:{latest.station}"
        ids[handle] = alert.id
        warning.adopt(handle, latest)
    return ids
