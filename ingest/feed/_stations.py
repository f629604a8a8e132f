"""What the feed simulates: stations, their coordinates and their channels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from stations.errors import ConfigurationError

_CODE = re.compile(r"[A-Z0-9]*")


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One simulated channel.

    ``channel`` is the SEED code; its band letter and instrument letter decide the signal:
    ``?H?`` (seismometer) carries velocity counts, ``?N?`` (accelerometer) acceleration counts.
    The last letter is the component (``Z``, ``N``/``1``, ``E``/``2``). ``gain`` is the
    sensitivity (counts per m/s, or per m/s² for an accelerometer) with which a scenario
    quake's ground motion is recorded (None: the shipped inventory's, 3e8 and 8e4).
    """

    location: str
    channel: str
    sampling_rate: float
    gain: float | None = None

    def __post_init__(self) -> None:
        if len(self.location) not in (0, 2) or not _CODE.fullmatch(self.location):
            raise ConfigurationError(
                "ChannelSpec", f"location must be empty or 2 characters, got {self.location!r}"
            )
        if len(self.channel) != 3 or not _CODE.fullmatch(self.channel):
            raise ConfigurationError(
                "ChannelSpec", f"channel must be 3 characters, got {self.channel!r}"
            )
        if not 0.0 < self.sampling_rate <= 1000.0:
            raise ConfigurationError(
                "ChannelSpec",
                f"sampling_rate must be in (0, 1000], got {self.sampling_rate} for {self.channel}",
            )
        if self.gain is not None and not (self.gain > 0 and self.gain < 1e15):
            raise ConfigurationError(
                "ChannelSpec", f"gain must be positive and finite, got {self.gain}"
            )
        period_ns = 1e9 / self.sampling_rate
        if abs(period_ns - round(period_ns)) > 1e-6:
            raise ConfigurationError(
                "ChannelSpec",
                f"sampling_rate {self.sampling_rate} has no whole-nanosecond sample period",
            )

    @property
    def period_ns(self) -> int:
        """The sample interval in integer nanoseconds."""
        return round(1e9 / self.sampling_rate)

    @property
    def is_accelerometer(self) -> bool:
        return self.channel[1] in "NLG"

    @property
    def component(self) -> str:
        """``Z``, ``N`` or ``E`` (``1``/``2`` map to ``N``/``E``)."""
        return {"1": "N", "2": "E"}.get(self.channel[2], self.channel[2])


SohKind = Literal[
    "supply_voltage",
    "temperature",
    "mass_position",
    "gps_satellites",
    "gps_status",
    "clock_quality",
    "clock_phase_error",
]
SOH_KINDS: tuple[SohKind, ...] = (
    "supply_voltage",
    "temperature",
    "mass_position",
    "gps_satellites",
    "gps_status",
    "clock_quality",
    "clock_phase_error",
)


@dataclass(frozen=True, slots=True)
class SohSpec:
    """One simulated state-of-health channel (codes vary by digitizer, so they are given).

    ``kind`` decides the values (integers):

    - ``supply_voltage``: mV, about 12.6 V with a daily solar-charging swing;
    - ``temperature``: m°C, about 18 °C with a daily cycle;
    - ``mass_position``: µV, a fixed offset per channel plus a slow daily drift;
    - ``gps_satellites``: satellites in use, 7-11, 0 while GPS lock is lost;
    - ``gps_status``: 2 locked, 1 unlocked (0 would be off);
    - ``clock_quality``: %, 100 when locked, the fault's timing quality when not;
    - ``clock_phase_error``: µs, ±1 when locked, growing by 0.5 µs/s when not.
    """

    channel: str
    kind: SohKind
    sampling_rate: float = 1.0
    location: str = ""
    encoding: Literal["STEIM1", "STEIM2", "INT32"] = "STEIM2"

    def __post_init__(self) -> None:
        if self.kind not in SOH_KINDS:
            raise ConfigurationError(
                "SohSpec", f"kind must be one of {SOH_KINDS}, got {self.kind!r}"
            )
        if self.encoding not in ("STEIM1", "STEIM2", "INT32"):
            raise ConfigurationError(
                "SohSpec", f"encoding must be STEIM1, STEIM2 or INT32, got {self.encoding!r}"
            )
        self.as_channel()  # the same checks of codes and rate as a data channel

    def as_channel(self) -> ChannelSpec:
        return ChannelSpec(self.location, self.channel, self.sampling_rate)


def centaur_soh(
    sampling_rate: float = 1.0, encoding: Literal["STEIM1", "STEIM2", "INT32"] = "STEIM2"
) -> tuple[SohSpec, ...]:
    """State of health as a Nanometrics Centaur names it: ``VEI`` supply voltage, ``VKI``
    temperature, ``VM1``-``VM3`` mass positions, ``GNS`` satellites, ``GST`` GPS status,
    ``LCQ`` clock quality and ``LCE`` clock phase error."""
    kinds: list[tuple[str, SohKind]] = [
        ("VEI", "supply_voltage"),
        ("VKI", "temperature"),
        ("VM1", "mass_position"),
        ("VM2", "mass_position"),
        ("VM3", "mass_position"),
        ("GNS", "gps_satellites"),
        ("GST", "gps_status"),
        ("LCQ", "clock_quality"),
        ("LCE", "clock_phase_error"),
    ]
    return tuple(SohSpec(cha, kind, sampling_rate, "", encoding) for cha, kind in kinds)


@dataclass(frozen=True, slots=True)
class StationSpec:
    """One simulated station: codes, coordinates (degrees, metres) and channels."""

    network: str
    station: str
    latitude: float
    longitude: float
    elevation: float
    channels: tuple[ChannelSpec, ...]
    description: str = ""
    soh: tuple[SohSpec, ...] = ()
    """State-of-health channels (none by default)."""

    def __post_init__(self) -> None:
        if not 1 <= len(self.network) <= 2 or not _CODE.fullmatch(self.network):
            raise ConfigurationError(
                "StationSpec", f"network must be 1-2 characters, got {self.network!r}"
            )
        if not 1 <= len(self.station) <= 5 or not _CODE.fullmatch(self.station):
            raise ConfigurationError(
                "StationSpec", f"station must be 1-5 characters, got {self.station!r}"
            )
        if not -90.0 <= self.latitude <= 90.0 or not -180.0 <= self.longitude <= 180.0:
            raise ConfigurationError(
                "StationSpec",
                f"{self.network}.{self.station}: bad coordinates "
                f"({self.latitude}, {self.longitude})",
            )
        keys = [(c.location, c.channel) for c in self.channels]
        keys += [(c.location, c.channel) for c in self.soh]
        if len(set(keys)) != len(keys):
            raise ConfigurationError(
                "StationSpec", f"{self.network}.{self.station}: duplicate channels in {keys}"
            )

    @property
    def key(self) -> tuple[str, str]:
        """``(network, station)``."""
        return (self.network, self.station)


def _six(rate_hn: float) -> tuple[ChannelSpec, ...]:
    hh = tuple(ChannelSpec("", f"HH{c}", 100.0) for c in "ZNE")
    hn = tuple(ChannelSpec("", f"HN{c}", rate_hn) for c in "ZNE")
    return hh + hn


def default_stations() -> list[StationSpec]:
    """The default TJ inventory: SAREZ, MURGH and MANEM, each ``HH?`` and ``HN?`` at 100 sps."""
    return [
        StationSpec("TJ", "SAREZ", 38.27, 72.60, 3300.0, _six(100.0), "Sarez, Usoi dam"),
        StationSpec("TJ", "MURGH", 38.17, 73.96, 3620.0, _six(100.0), "Murghob"),
        StationSpec("TJ", "MANEM", 37.49, 71.55, 2100.0, _six(100.0), "Manem, near Khorugh"),
    ]
