"""What the feed simulates: stations, their coordinates and their channels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stations.errors import ConfigurationError

_CODE = re.compile(r"[A-Z0-9]*")


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One simulated channel.

    ``channel`` is the SEED code; its band letter and instrument letter decide the signal:
    ``?H?`` (seismometer) carries velocity counts, ``?N?`` (accelerometer) acceleration counts.
    The last letter is the component (``Z``, ``N``/``1``, ``E``/``2``).
    """

    location: str
    channel: str
    sampling_rate: float

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
