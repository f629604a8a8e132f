"""Faults injected into a feed for drills, each with a time window so recovery is testable.

A fault applies to the channels its ``network``/``station``/``location``/``channel`` patterns
match (``?``/``*`` wildcards, ``*`` by default) during ``[start, end)``, in seconds after the
feed's origin: its first sample by default (the source's ``start``), or any POSIX time given
as ``origin`` (``origin=0.0`` makes ``start``/``end`` absolute POSIX times). Records that no
fault touches pass through byte for byte; touched ones are decoded, changed and packed again
(same codes, rate and encoding; 512-byte records).

=====================  ======================================================================
kind                   effect on the records
=====================  ======================================================================
``gap``                samples in the window are dropped; later data resume at their own time
``silent_station``     the same for every channel of the matching stations
``dead_channel``       samples in the window are the constant ``value``
``clipping``           samples in the window are multiplied by ``gain`` and saturated at
                       ``-full_scale`` .. ``full_scale - 1`` (a 24-bit digitizer: 2**23)
``gps_unlock``         records overlapping the window carry ``timing_quality`` in blockette
                       1001 and the "clock locked" I/O flag cleared; a synthetic source's
                       GPS state-of-health channels follow (GST 2 -> 1, no satellites, ...)
``corrupt_record``     records overlapping the window keep their 64-byte header (so a server
                       can still route them) and get garbage in place of their data
``future_timestamp``   records overlapping the window are stamped ``offset`` seconds later
=====================  ======================================================================

Configured as dataclasses, or from plain mappings (a TOML file of ``[[fault]]`` tables, see
:func:`load_faults`)::

    [[fault]]
    kind = "gps_unlock"
    station = "SAREZ"
    start = 60
    end = 180
    timing_quality = 10
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ingest.feed._mseed import CLOCK_LOCKED, Decoded, decode, encode, record_info
from ingest.feed._source import RecordSource
from stations.errors import ConfigurationError

_HEADER_BYTES = 64
"""Fixed header (48) and blockettes 1000 and 1001 (8 each): what a corrupt record keeps."""


def _match(pattern: str, code: str) -> bool:
    if pattern in ("--", ""):
        return code == ""
    return fnmatch.fnmatchcase(code.upper(), pattern.upper())


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """A time window ``[start, end)`` (seconds after the origin) and the channels it hits."""

    kind: ClassVar[str] = ""
    start: float
    end: float
    network: str = "*"
    station: str = "*"
    location: str = "*"
    channel: str = "*"

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ConfigurationError(
                type(self).__name__, f"need end > start, got start={self.start}, end={self.end}"
            )

    def matches_station(self, network: str, station: str) -> bool:
        return _match(self.network, network) and _match(self.station, station)

    def matches(self, network: str, station: str, location: str, channel: str) -> bool:
        return (
            self.matches_station(network, station)
            and _match(self.location, location)
            and _match(self.channel, channel)
        )

    def window_ns(self, origin: float) -> tuple[int, int]:
        return round((origin + self.start) * 1e9), round((origin + self.end) * 1e9)


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap(Fault):
    """No data from the matching channels during the window (the samples are lost)."""

    kind: ClassVar[str] = "gap"


@dataclass(frozen=True, slots=True, kw_only=True)
class SilentStation(Fault):
    """Every channel of the matching stations stops during the window (location and channel
    patterns are ignored)."""

    kind: ClassVar[str] = "silent_station"

    def matches(self, network: str, station: str, location: str, channel: str) -> bool:
        return self.matches_station(network, station)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadChannel(Fault):
    """The channel reads the constant ``value`` during the window."""

    kind: ClassVar[str] = "dead_channel"
    value: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Clipping(Fault):
    """Samples times ``gain``, saturated at ``-full_scale .. full_scale - 1``."""

    kind: ClassVar[str] = "clipping"
    full_scale: int = 2**23
    gain: float = 1e6

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        if not 0 < self.full_scale <= 2**31 - 1 or self.gain <= 0.0:
            raise ConfigurationError(
                "Clipping",
                f"need 0 < full_scale <= 2**31-1 and gain > 0, "
                f"got full_scale={self.full_scale}, gain={self.gain}",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class GpsUnlock(Fault):
    """The digitizer loses GPS lock: timing quality ``timing_quality``, clock not locked."""

    kind: ClassVar[str] = "gps_unlock"
    timing_quality: int = 10

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        if not 0 <= self.timing_quality <= 100:
            raise ConfigurationError(
                "GpsUnlock", f"timing_quality must be 0..100, got {self.timing_quality}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class CorruptRecord(Fault):
    """Records overlapping the window carry garbage after their header."""

    kind: ClassVar[str] = "corrupt_record"


@dataclass(frozen=True, slots=True, kw_only=True)
class FutureTimestamp(Fault):
    """Records overlapping the window are stamped ``offset`` seconds late (in the future)."""

    kind: ClassVar[str] = "future_timestamp"
    offset: float = 3600.0


FAULT_KINDS: dict[str, type[Fault]] = {
    cls.kind: cls
    for cls in (
        Gap,
        SilentStation,
        DeadChannel,
        Clipping,
        GpsUnlock,
        CorruptRecord,
        FutureTimestamp,
    )
}


def faults_from_dicts(items: Iterable[Mapping[str, Any]]) -> list[Fault]:
    """Faults from plain mappings, each with a ``kind`` (see :data:`FAULT_KINDS`)."""
    out: list[Fault] = []
    for i, item in enumerate(items):
        fields = dict(item)
        kind = fields.pop("kind", None)
        cls = FAULT_KINDS.get(str(kind))
        if cls is None:
            raise ConfigurationError(
                f"fault {i + 1}", f"kind must be one of {sorted(FAULT_KINDS)}, got {kind!r}"
            )
        try:
            out.append(cls(**fields))
        except TypeError as e:
            raise ConfigurationError(f"fault {i + 1} ({kind})", str(e)) from e
    return out


def load_faults(path: Path) -> list[Fault]:
    """Faults from a TOML file of ``[[fault]]`` tables."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigurationError(str(path), str(e)) from e
    items = data.get("fault", [])
    if not isinstance(items, list):
        raise ConfigurationError(str(path), "'fault' must be an array of tables ([[fault]])")
    return faults_from_dicts(items)


def gps_state(
    faults: Sequence[Fault],
    network: str,
    station: str,
    origin: float,
    times_ns: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """For each time: GPS unlocked?, seconds since the lock was lost, and timing quality."""
    unlocked = np.zeros(times_ns.shape, dtype=bool)
    since = np.zeros(times_ns.shape, dtype=np.float64)
    quality = np.full(times_ns.shape, 100, dtype=np.int64)
    for f in faults:
        if not isinstance(f, GpsUnlock) or not f.matches_station(network, station):
            continue
        a, b = f.window_ns(origin)
        m = (times_ns >= a) & (times_ns < b)
        since[m] = np.where(unlocked[m], since[m], (times_ns[m] - a) / 1e9)
        quality[m] = np.minimum(quality[m], f.timing_quality)
        unlocked |= m
    return unlocked, since, quality


def _garbage(record: bytes) -> bytes:
    seed = int.from_bytes(hashlib.blake2b(record, digest_size=8).digest(), "big")
    rng = np.random.default_rng(seed)
    junk = rng.integers(0, 256, len(record) - _HEADER_BYTES, dtype=np.uint8).tobytes()
    return record[:_HEADER_BYTES] + junk


def _runs(keep: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``[a, b)`` index ranges where ``keep`` is true."""
    edges = np.diff(np.concatenate([[0], keep.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


class FaultInjector:
    """Applies ``faults`` to records; ``origin`` is the POSIX time fault windows count from."""

    def __init__(self, faults: Sequence[Fault], origin: float | None = None) -> None:
        self.faults = list(faults)
        self.origin = origin

    def apply(self, records: Iterable[bytes]) -> list[bytes]:
        """The records as the faults leave them, in the same order (some dropped or split)."""
        if not self.faults:
            return list(records)
        if self.origin is None:
            raise ConfigurationError(
                "FaultInjector", "no origin for the fault windows (0.0 for absolute times)"
            )
        out: list[bytes] = []
        for rec in records:
            out += self._one(rec, self.origin)
        return out

    def _one(self, rec: bytes, origin: float) -> list[bytes]:
        info = record_info(rec)
        hit = [
            (f, *f.window_ns(origin))
            for f in self.faults
            if f.matches(info.network, info.station, info.location, info.channel)
        ]
        hit = [(f, a, b) for f, a, b in hit if a <= info.end_ns and b > info.start_ns]
        if not hit:
            return [rec]
        corrupt = any(isinstance(f, CorruptRecord) for f, _, _ in hit)
        d = decode(rec)
        out = [rec] if d.sample_type == "t" or d.period_ns <= 0 else self._change(rec, d, hit)
        return [_garbage(r) for r in out] if corrupt else out

    def _change(
        self,
        rec: bytes,
        d: Decoded,
        hit: list[tuple[Fault, int, int]],
    ) -> list[bytes]:
        times = d.sample_times_ns()
        samples = d.samples.copy()
        keep = np.ones(len(samples), dtype=bool)
        changed = False
        quality: int | None = None
        flags = d.flags
        shift_ns = 0
        for f, a, b in hit:
            m = (times >= a) & (times < b)
            if isinstance(f, DeadChannel) and m.any():
                samples[m] = f.value
                changed = True
            elif isinstance(f, Clipping) and m.any():
                scaled = np.rint(samples[m].astype(np.float64) * f.gain)
                samples[m] = np.clip(scaled, -f.full_scale, f.full_scale - 1)
                changed = True
            elif isinstance(f, Gap | SilentStation) and m.any():
                keep &= ~m
                changed = True
            elif isinstance(f, GpsUnlock):
                quality = min(quality if quality is not None else 100, f.timing_quality)
                flags &= ~CLOCK_LOCKED
                changed = True
            elif isinstance(f, FutureTimestamp):
                shift_ns = max(shift_ns, round(f.offset * 1e9))
                changed = True
        if not changed:
            return [rec]
        out: list[bytes] = []
        for i, j in _runs(keep):
            piece = dataclasses.replace(
                d, start_ns=int(times[i]) + shift_ns, samples=samples[i:j], flags=flags
            )
            out += encode(piece, timing_quality=quality)
        return out


class FaultySource:
    """Any :class:`RecordSource` with ``faults`` injected into its records.

    ``origin`` (POSIX seconds) is where fault windows count from; by default the wrapped
    source's ``start`` (its first sample), read once it has one.
    """

    def __init__(
        self, source: RecordSource, faults: Sequence[Fault], *, origin: float | None = None
    ) -> None:
        self.source = source
        self.injector = FaultInjector(faults, origin)

    @property
    def start(self) -> float | None:
        """The origin of the fault windows, once known."""
        if self.injector.origin is None:
            start = getattr(self.source, "start", None)
            return float(start) if start is not None else None
        return self.injector.origin

    def records_until(self, now: float) -> list[bytes]:
        records = self.source.records_until(now)
        if self.injector.origin is None:
            self.injector.origin = self.start
        if not records:
            return []
        return self.injector.apply(records)
