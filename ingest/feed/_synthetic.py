"""Synthetic data: coloured noise plus local earthquakes, packed as miniSEED in real time.

Every sample is a function of the seed, the channel and its absolute sample index only, so
the data do not depend on how often ``records_until`` is called: calling it once for ten
minutes or six hundred times for a second each gives the same samples (the records differ only
where a partly filled record had to be flushed early).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter, lfilter_zi

from ingest.feed._arrivals import (
    P_VELOCITY_KM_S,
    S_VELOCITY_KM_S,
    Arrivals,
    StraightRays,
    epicentral_distance_km,
)
from ingest.feed._faults import Fault, FaultInjector, gps_state
from ingest.feed._mseed import pack
from ingest.feed._stations import ChannelSpec, SohSpec, StationSpec
from stations.errors import ConfigurationError

REFERENCE_DISTANCE_KM = 100.0
"""``SyntheticEvent.amplitude`` is the P amplitude on the vertical at this distance."""

_NOISE_RMS_VELOCITY = 30.0
_NOISE_RMS_ACCELERATION = 80.0
_NOISE_AR = 0.6
"""AR(1) coefficient of the noise: lightly red."""
_MICROSEISM_AMPLITUDE = 120.0
_ACCELERATION_GAIN = 0.01
"""Acceleration counts per (velocity count / s): the accelerometer is the less sensitive."""
_P_DECAY_S = 1.0
_S_DECAY_S = 2.0
_RISE_S = 0.03
_WAVELET_LENGTH = 10.0
"""Wavelets are cut off after this many decay times."""
_MAX_KEPT_EVENTS = 1000
_DEFAULT_SEISMOMETER_GAIN = 3.0e8
"""Counts per m/s of a seismometer without a known sensitivity (the shipped inventory's)."""
_DEFAULT_ACCELEROMETER_GAIN = 8.0e4
"""Counts per m/s² of an accelerometer without a known sensitivity (the shipped inventory's)."""
_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SyntheticEvent:
    """One synthetic earthquake.

    ``amplitude`` is the peak P amplitude on the vertical seismometer at 100 km hypocentral
    distance, in counts; it falls off as 1/R (R at least 10 km).

    An event with a ``magnitude`` (a scenario quake) is a ground motion instead, in metres,
    recorded through each channel's gain: its P has the characteristic period tau_c and the
    peak displacement Pd of that magnitude by the relations the on-site estimate inverts
    (``log10 tau_c = 0.296 M - 1.716``, Wu & Kanamori 2005; ``log10 Pd[cm] = -3.463 + 0.729 M
    - 1.374 log10 R``, Wu & Zhao 2006); ``amplitude`` is then unused.
    """

    origin_time: float
    latitude: float
    longitude: float
    depth_km: float
    amplitude: float
    magnitude: float | None = None

    def distance_km(self, station: StationSpec) -> float:
        """Hypocentral distance to ``station`` (great circle, plus depth and elevation)."""
        epi = epicentral_distance_km(
            self.latitude, self.longitude, station.latitude, station.longitude
        )
        vertical = self.depth_km + station.elevation / 1000.0
        return math.hypot(epi, vertical)

    def p_time(self, station: StationSpec) -> float:
        """POSIX time of the P arrival at ``station``."""
        return self.origin_time + self.distance_km(station) / P_VELOCITY_KM_S

    def s_time(self, station: StationSpec) -> float:
        """POSIX time of the S arrival at ``station``."""
        return self.origin_time + self.distance_km(station) / S_VELOCITY_KM_S


@dataclass(frozen=True, slots=True)
class _Wavelet:
    arrival_rel: float
    """Arrival, seconds after the source's start."""
    amplitude: float
    decay: float
    freqs: npt.NDArray[np.float64]
    phases: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]

    @property
    def end_rel(self) -> float:
        return self.arrival_rel + _WAVELET_LENGTH * self.decay

    def counts(self, t: npt.NDArray[np.float64], dt: float, spec: ChannelSpec) -> _Floats:
        """The wavelet as the channel records it: velocity counts, or for an accelerometer
        their derivative scaled by ``_ACCELERATION_GAIN``."""
        if spec.is_accelerometer:
            return _ACCELERATION_GAIN * ((self.velocity(t) - self.velocity(t - dt)) / dt)
        return self.velocity(t)

    def velocity(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        tau = t - self.arrival_rel
        out = np.zeros_like(t)
        m = (tau >= 0.0) & (tau < _WAVELET_LENGTH * self.decay)
        if not m.any():
            return out
        tm = tau[m]
        env = (1.0 - np.exp(-tm / _RISE_S)) * np.exp(-tm / self.decay)
        osc = np.sin(2 * np.pi * self.freqs[:, None] * tm[None, :] + self.phases[:, None])
        out[m] = self.amplitude * env * (self.weights @ osc)
        return out


@dataclass(frozen=True, slots=True)
class _Motion:
    """A phase of a scenario quake as ground displacement, metres: a sinusoid of period
    ``period`` under a 0.3-s rise, held ``hold`` seconds, then decaying (``decay`` s)."""

    arrival_rel: float
    amplitude: float
    period: float
    hold: float = 4.0
    decay: float = 3.0

    @property
    def end_rel(self) -> float:
        return self.arrival_rel + self.hold + _WAVELET_LENGTH * self.decay

    def displacement(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rel = t - self.arrival_rel
        out = np.zeros_like(t)
        m = (rel >= 0.0) & (t < self.end_rel)
        if not m.any():
            return out
        r = rel[m]
        ramp = np.sin(np.pi / 2 * np.clip(r / 0.3, 0.0, 1.0)) ** 2
        env = np.exp(-np.clip(r - self.hold, 0.0, None) / self.decay)
        out[m] = self.amplitude * ramp * env * np.sin(2 * np.pi * r / self.period)
        return out

    def counts(self, t: npt.NDArray[np.float64], dt: float, spec: ChannelSpec) -> _Floats:
        """Velocity (seismometer) or acceleration (accelerometer) by differences of the
        displacement, times the channel's gain."""
        u0, u1 = self.displacement(t), self.displacement(t - dt)
        if spec.is_accelerometer:
            gain = spec.gain or _DEFAULT_ACCELEROMETER_GAIN
            return gain * (u0 - 2 * u1 + self.displacement(t - 2 * dt)) / dt**2
        return (spec.gain or _DEFAULT_SEISMOMETER_GAIN) * (u0 - u1) / dt


_Wave = _Wavelet | _Motion


def tau_c_s(magnitude: float) -> float:
    """The characteristic period of a quake's P by Wu & Kanamori (2005), seconds."""
    return float(10 ** (0.296 * magnitude - 1.716))


def pd_m(magnitude: float, hypocentral_km: float) -> float:
    """The peak P displacement by Wu & Zhao (2006), metres (R at least 5 km)."""
    r = max(hypocentral_km, 5.0)
    return float(10 ** (-3.463 + 0.729 * magnitude - 1.374 * math.log10(r)) / 100.0)


@dataclass(slots=True)
class _Channel:
    station: StationSpec
    spec: ChannelSpec
    rng: np.random.Generator
    zi: npt.NDArray[np.float64]
    micro_phase: float
    micro_freq: float
    start_ns: int = 0
    generated: int = 0
    """Samples generated so far (absolute index of the next one)."""
    pending: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    pending_index: int = 0
    """Absolute index of ``pending[0]``."""
    station_index: int = 0
    due_ns: int = 0
    """When to look at the channel next: its record may be full, or due to be flushed."""
    samples_per_record: int = 0
    """Samples of its last full record: when the next one will probably be full."""
    soh: SohSpec | None = None
    stream: int = 0
    """A number of its own, for the counter-based noise of state-of-health values."""
    offset: float = 0.0

    @property
    def noise_rms(self) -> float:
        return _NOISE_RMS_ACCELERATION if self.spec.is_accelerometer else _NOISE_RMS_VELOCITY


class SyntheticSource:
    """Noise and synthetic local earthquakes for ``stations``, as real-time miniSEED records.

    Parameters
    ----------
    stations
        What to simulate. ``?N?`` channels get acceleration, all others velocity.
    seed
        Seed of every random choice (``None``: a fresh one); equal seeds give equal data.
    event_interval
        Mean seconds between earthquakes (each interval jittered by up to ±25 %).
    first_event_after
        Seconds from the start to the first origin time.
    start
        POSIX time of the first sample; by default the whole second at or before the first
        ``records_until`` call.
    flush_after
        A partly filled record is released once its first sample is this many seconds old.
    region
        ``(lat_min, lat_max, lon_min, lon_max)`` of the epicentres; by default the stations'
        bounding box widened by 0.6° in latitude and 0.8° in longitude.
    depth_km
        Range of the hypocentral depths.
    faults
        Faults to inject (see :mod:`ingest.feed._faults`), their windows in seconds after
        ``start``. GPS-lock faults also change the state-of-health channels.
    reach_km
        Stations farther than this from an epicentre do not record its earthquake (None:
        every station does): a quake seen by a few stations of a large network.
    arrivals
        When P and S reach a station: by default straight rays at 6.0 and 3.5 km/s;
        :class:`~ingest.feed._arrivals.ModelArrivals` for a velocity model's table (the
        worker's ``[velocity_model]``).
    quakes
        Earthquakes at given origin times (POSIX) besides the random ones, e.g. a scenario's.
    random_quakes
        False: only ``quakes``, no random earthquakes.
    noise
        Scale of the noise and microseism (1: the usual; 0: none).
    accelerometer_noise
        RMS counts of the accelerometers' noise before ``noise`` scales it (None: 80, the
        usual). Scenario quakes want a real strong-motion sensor's few counts: the usual
        80 counts, integrated twice, would swamp the Pd of their accelerometers.

    Notes
    -----
    By default P travels at 6.0 km/s and S at 3.5 km/s along the straight hypocentral path. Each
    arrival is a sum of three decaying sinusoids between 2 and 8 Hz: P strongest on the
    vertical, S about twice as strong and strongest on the horizontals. The amplitude falls
    off as 1/R and is at least ~30 times the noise RMS 250 km away, so an STA/LTA on every
    station triggers. Accelerometers record the time derivative of the same motion.

    State-of-health channels (``StationSpec.soh``) carry slowly varying integers (see
    :class:`SohSpec`), also functions of the seed, the channel and the sample index only.
    Every record carries blockette 1001 (timing quality 100) and the "clock locked" flag,
    except where a fault says otherwise.
    """

    def __init__(
        self,
        stations: Sequence[StationSpec],
        seed: int | None = None,
        event_interval: float = 60.0,
        first_event_after: float = 20.0,
        *,
        start: float | None = None,
        flush_after: float = 4.0,
        region: tuple[float, float, float, float] | None = None,
        depth_km: tuple[float, float] = (5.0, 20.0),
        faults: Sequence[Fault] = (),
        reach_km: float | None = None,
        arrivals: Arrivals | None = None,
        quakes: Sequence[SyntheticEvent] = (),
        random_quakes: bool = True,
        noise: float = 1.0,
        accelerometer_noise: float | None = None,
    ) -> None:
        if not stations:
            raise ConfigurationError("SyntheticSource", "no stations to simulate")
        if event_interval <= 0.0:
            raise ConfigurationError(
                "SyntheticSource", f"event_interval must be > 0, got {event_interval}"
            )
        if first_event_after < 0.0 or flush_after <= 0.0:
            raise ConfigurationError(
                "SyntheticSource",
                f"need first_event_after >= 0 and flush_after > 0, "
                f"got {first_event_after}, {flush_after}",
            )
        if not (noise >= 0.0 and math.isfinite(noise)):
            raise ConfigurationError("SyntheticSource", f"noise must be >= 0, got {noise}")
        self.stations = list(stations)
        self.arrivals: Arrivals = arrivals if arrivals is not None else StraightRays()
        self.noise = noise
        self.accelerometer_noise = accelerometer_noise
        self.random_quakes = random_quakes
        self._fixed = sorted(quakes, key=lambda q: q.origin_time)
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else seed  # type: ignore[arg-type]
        self.event_interval = event_interval
        self.first_event_after = first_event_after
        self.flush_after = flush_after
        if region is None:
            lats = [s.latitude for s in self.stations]
            lons = [s.longitude for s in self.stations]
            region = (min(lats) - 0.6, max(lats) + 0.6, min(lons) - 0.8, max(lons) + 0.8)
        self.region = region
        self.depth_km = depth_km
        self.reach_km = reach_km
        self.faults = list(faults)
        self._injector = FaultInjector(self.faults)
        self._event_rng = np.random.default_rng([self.seed, 0xE7E27])
        self._events: deque[SyntheticEvent] = deque(maxlen=_MAX_KEPT_EVENTS)
        self._active: list[tuple[SyntheticEvent, dict[tuple[int, str], list[_Wave]]]] = []
        self._channels: list[_Channel] = []
        for si, st in enumerate(self.stations):
            for ci, ch in enumerate(st.channels):
                rng = np.random.default_rng([self.seed, si, ci])
                self._channels.append(
                    _Channel(
                        station=st,
                        spec=ch,
                        rng=rng,
                        zi=np.zeros(1),
                        micro_phase=float(rng.uniform(0, 2 * np.pi)),
                        micro_freq=float(rng.uniform(0.15, 0.25)),
                        station_index=si,
                    )
                )
            for k, soh in enumerate(st.soh):
                rng = np.random.default_rng([self.seed, si, 1000 + k])
                self._channels.append(
                    _Channel(
                        station=st,
                        spec=soh.as_channel(),
                        rng=rng,
                        zi=np.zeros(1),
                        micro_phase=float(rng.uniform(0, 2 * np.pi)),
                        micro_freq=float(rng.uniform(0.5, 1.5)),
                        soh=soh,
                        station_index=si,
                        stream=si * 1000 + k,
                        offset=float(rng.uniform(-200_000, 200_000)),
                    )
                )
        self._start: float | None = None
        self._next_origin = 0.0
        self._due: list[tuple[int, int]] = []  # (due_ns, channel index), a heap
        if start is not None:
            self._begin(start)

    # -- public --------------------------------------------------------------------------

    @property
    def start(self) -> float | None:
        """POSIX time of the first sample, once known."""
        return self._start

    @property
    def events(self) -> list[SyntheticEvent]:
        """The earthquakes made so far (origin up to the last ``now``), oldest first."""
        return list(self._events)

    def records_until(self, now: float) -> list[bytes]:
        """The records whose samples are all recorded by ``now``, sorted by start time.

        A record is released when it is full, or when its first sample is ``flush_after``
        seconds old. Samples at times ``<= now`` are recorded.
        """
        if self._start is None:
            self._begin(float(math.floor(now)))
        assert self._start is not None
        self._schedule_events(now)
        now_ns = round(now * 1e9)
        flush_ns = round(self.flush_after * 1e9)
        out: list[tuple[int, int, bytes]] = []
        # Only the channels whose record may be full, or due to be flushed, are looked at:
        # a network of thousands of stations costs per record, not per channel and call.
        due = self._due
        while due and due[0][0] <= now_ns:
            _, k = heapq.heappop(due)
            ch = self._channels[k]
            period = ch.spec.period_ns
            available = (now_ns - ch.start_ns) // period + 1 if now_ns >= ch.start_ns else 0
            if available > ch.generated:
                fresh = self._samples(ch, ch.generated, available)
                ch.pending = np.concatenate([ch.pending, fresh])
                ch.generated = available
            if ch.pending.size:
                packed = pack(
                    ch.station.network,
                    ch.station.station,
                    ch.spec.location,
                    ch.spec.channel,
                    ch.start_ns + ch.pending_index * period,
                    ch.spec.sampling_rate,
                    ch.pending,
                    encoding=ch.soh.encoding if ch.soh is not None else "STEIM2",
                )
                used = 0
                for i, (rec, n) in enumerate(packed):
                    first_ns = ch.start_ns + (ch.pending_index + used) * period
                    last = i == len(packed) - 1
                    if last and now_ns - first_ns < flush_ns:
                        break
                    if not last:
                        ch.samples_per_record = n
                    out.append((first_ns, k, rec))
                    used += n
                ch.pending = ch.pending[used:]
                ch.pending_index += used
            heapq.heappush(due, (self._next_look(ch, now_ns, flush_ns), k))
        self._prune(now)
        out.sort(key=lambda item: (item[0], item[1]))
        return self._injector.apply(rec for _, _, rec in out)

    def _next_look(self, ch: _Channel, now_ns: int, flush_ns: int) -> int:
        """When the channel's pending record may be full (by the size of its last full
        one), or its first sample becomes ``flush_after`` old, whichever comes first; at
        least one tick of the caller later if the guess was early. While a quake's waves
        cross the channel its samples compress worse than the noise its last full record
        held, so it is looked at every tick: a digitizer sends a record once it is full."""
        period = ch.spec.period_ns
        first_ns = ch.start_ns + ch.pending_index * period
        flush_at = first_ns + flush_ns
        if self._shaking(ch, now_ns):
            return now_ns + 1
        if ch.samples_per_record:
            full_at = first_ns + (ch.samples_per_record - 1) * period
            flush_at = min(flush_at, full_at)
        return max(flush_at, now_ns + 1)

    def _shaking(self, ch: _Channel, now_ns: int) -> bool:
        """Whether a quake's waves reach the channel's samples up to ``now_ns``, or will
        before its next record could be flushed."""
        if ch.soh is not None or not self._active:
            return False
        rel = (now_ns - ch.start_ns) / 1e9
        key = (ch.station_index, ch.spec.component)
        return any(
            w.arrival_rel <= rel + self.flush_after and w.end_rel >= rel - self.flush_after
            for _, waves in self._active
            for w in waves.get(key, ())
        )

    # -- internals -----------------------------------------------------------------------

    def _begin(self, start: float) -> None:
        self._start = start
        self._injector.origin = start
        self._next_origin = start + self.first_event_after if self.random_quakes else math.inf
        start_ns = round(start * 1e9)
        for ch in self._channels:
            ch.start_ns = start_ns
        self._due = [(start_ns, k) for k in range(len(self._channels))]

    def _schedule_events(self, now: float) -> None:
        rng = self._event_rng
        lat0, lat1, lon0, lon1 = self.region
        while self._fixed and self._fixed[0].origin_time <= now:
            fixed = self._fixed.pop(0)
            self._events.append(fixed)
            self._active.append((fixed, self._wavelets(fixed, rng)))
        while self._next_origin <= now:
            event = SyntheticEvent(
                origin_time=self._next_origin,
                latitude=round(float(rng.uniform(lat0, lat1)), 4),
                longitude=round(float(rng.uniform(lon0, lon1)), 4),
                depth_km=round(float(rng.uniform(*self.depth_km)), 2),
                amplitude=round(float(np.exp(rng.uniform(np.log(4e4), np.log(1.5e5))))),
            )
            self._events.append(event)
            self._active.append((event, self._wavelets(event, rng)))
            self._next_origin += self.event_interval * float(rng.uniform(0.75, 1.25))

    def _wavelets(
        self, event: SyntheticEvent, rng: np.random.Generator
    ) -> dict[tuple[int, str], list[_Wave]]:
        assert self._start is not None
        out: dict[tuple[int, str], list[_Wave]] = {}
        for si, st in enumerate(self.stations):
            r = event.distance_km(st)
            if self.reach_km is not None and r > self.reach_km:
                continue
            a_p = event.amplitude * REFERENCE_DISTANCE_KM / max(r, 10.0)
            p, s = self.arrivals.travel_times(event.latitude, event.longitude, event.depth_km, st)
            tp = event.origin_time + p - self._start
            ts = event.origin_time + s - self._start
            if event.magnitude is not None:
                out.update(self._motions(event.magnitude, r, si, tp, ts, rng))
                continue
            for comp in "ZNE":
                horizontal = comp != "Z"
                p_gain = float(rng.uniform(0.2, 0.4)) if horizontal else 1.0
                s_gain = float(rng.uniform(1.6, 2.4)) if horizontal else 0.7
                waves: list[_Wave] = []
                for arrival, gain, decay in ((tp, p_gain, _P_DECAY_S), (ts, s_gain, _S_DECAY_S)):
                    weights = rng.uniform(0.5, 1.0, 3)
                    waves.append(
                        _Wavelet(
                            arrival_rel=arrival,
                            amplitude=a_p * gain,
                            decay=decay,
                            freqs=rng.uniform(2.0, 8.0, 3),
                            phases=rng.uniform(0.0, 2 * np.pi, 3),
                            weights=weights / weights.sum(),
                        )
                    )
                out[(si, comp)] = waves
        return out

    @staticmethod
    def _motions(
        magnitude: float, r: float, si: int, tp: float, ts: float, rng: np.random.Generator
    ) -> dict[tuple[int, str], list[_Wave]]:
        """A scenario quake's P and S at one station: P strongest on the vertical, with the
        tau_c and Pd of the magnitude there; S about twice as strong, on the horizontals."""
        pd, period = pd_m(magnitude, r), tau_c_s(magnitude)
        out: dict[tuple[int, str], list[_Wave]] = {}
        for comp in "ZNE":
            horizontal = comp != "Z"
            p_gain = float(rng.uniform(0.2, 0.4)) if horizontal else 1.0
            s_gain = float(rng.uniform(1.6, 2.4)) if horizontal else 0.7
            out[(si, comp)] = [
                _Motion(tp, pd * p_gain, period),
                _Motion(ts, pd * s_gain, period, hold=2 * period + 4.0),
            ]
        return out

    def _prune(self, now: float) -> None:
        assert self._start is not None
        # A channel's samples are made when its record is due: up to flush_after (and a
        # tick) after the time they belong to, so an event is kept that much longer.
        rel = now - self._start - self.flush_after - 1.0
        self._active = [
            (ev, waves)
            for ev, waves in self._active
            if any(w.end_rel + 1.0 > rel for ws in waves.values() for w in ws)
        ]

    def _samples(self, ch: _Channel, first: int, stop: int) -> npt.NDArray[np.int32]:
        if ch.soh is not None:
            return self._soh_samples(ch, ch.soh, first, stop)
        n = stop - first
        dt = ch.spec.period_ns / 1e9
        t = np.arange(first, stop, dtype=np.float64) * dt
        # lightly red noise: AR(1) with the filter state carried from chunk to chunk
        scale = self.noise
        if ch.spec.is_accelerometer and self.accelerometer_noise is not None:
            scale *= self.accelerometer_noise / _NOISE_RMS_ACCELERATION
        white = ch.rng.standard_normal(n) * ch.noise_rms * math.sqrt(1.0 - _NOISE_AR**2)
        white *= scale
        if first == 0:
            ch.zi = lfilter_zi([1.0], [1.0, -_NOISE_AR]) * white[0] if n else ch.zi
        noise, ch.zi = lfilter([1.0], [1.0, -_NOISE_AR], white, zi=ch.zi)
        x = np.asarray(noise, dtype=np.float64)
        micro = _MICROSEISM_AMPLITUDE * (0.3 if ch.spec.is_accelerometer else 1.0) * scale
        x += micro * np.sin(2 * np.pi * ch.micro_freq * t + ch.micro_phase)
        si = ch.station_index
        for _, waves in self._active:
            for w in waves.get((si, ch.spec.component), ()):
                if w.end_rel < t[0] or w.arrival_rel > t[-1] + dt:
                    continue
                x += w.counts(t, dt, ch.spec)
        return np.clip(np.rint(x), -(2**31) + 1, 2**31 - 1).astype(np.int32)

    def _soh_samples(
        self, ch: _Channel, soh: SohSpec, first: int, stop: int
    ) -> npt.NDArray[np.int32]:
        assert self._start is not None
        index = np.arange(first, stop, dtype=np.int64)
        times_ns = ch.start_ns + index * ch.spec.period_ns
        t = times_ns / 1e9
        jitter = _uniform(self.seed, ch.stream, index) - 0.5
        day = 2 * np.pi * t / 86_400.0 + ch.micro_phase
        unlocked, since, quality = gps_state(
            self.faults, ch.station.network, ch.station.station, self._start, times_ns
        )
        kind = soh.kind
        if kind == "supply_voltage":
            x = 12_600.0 + 300.0 * np.sin(day) + 10.0 * jitter
        elif kind == "temperature":
            x = 18_000.0 + 5_000.0 * np.sin(day - 1.0) + 40.0 * jitter
        elif kind == "mass_position":
            x = ch.offset + 5_000.0 * np.sin(day * ch.micro_freq) + 200.0 * jitter
        elif kind == "gps_satellites":
            visible = 9.0 + 2.0 * np.sin(2 * np.pi * t / 3_600.0 + ch.micro_phase)
            x = np.where(unlocked, 0.0, visible)
        elif kind == "gps_status":
            x = np.where(unlocked, 1.0, 2.0)
        elif kind == "clock_quality":
            x = quality.astype(np.float64)
        else:  # clock_phase_error
            x = np.where(unlocked, _PHASE_DRIFT_US_S * since, 0.0) + 2.0 * jitter
        return np.rint(x).astype(np.int32)


_PHASE_DRIFT_US_S = 0.5
"""How fast the clock drifts from GPS time once the lock is lost (µs per second)."""
_MASK64 = (1 << 64) - 1


def _uniform(seed: int, stream: int, index: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Uniform [0, 1) numbers that depend only on ``(seed, stream, index)`` (SplitMix64)."""
    key = np.uint64((seed * 0x100000001B3 + stream * 0x9E3779B1 + 1) & _MASK64)
    x = index.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + key
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)
