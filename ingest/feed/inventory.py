"""The feed's station list from StationXML: which streams to simulate, and where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.feed import ChannelSpec, StationSpec
from stations.errors import InventoryError
from stations.inventory import parse_stationxml


def station_specs(path: Path) -> list[StationSpec]:
    """Every station and its seismometer/accelerometer channels, from a StationXML file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InventoryError(str(path), f"cannot read the file: {e.strerror or e}") from e
    inventory = parse_stationxml(data, str(path))
    specs = []
    for net in inventory.networks:
        for sta in net.stations:
            channels = tuple(
                ChannelSpec(
                    location=c.location_code,
                    channel=c.code,
                    sampling_rate=float(c.sample_rate),
                    gain=_sensitivity(c),
                )
                for c in sta.channels
                if c.code[1] in "HN" and c.sample_rate
            )
            if channels:
                specs.append(
                    StationSpec(
                        network=net.code,
                        station=sta.code,
                        latitude=float(sta.latitude),
                        longitude=float(sta.longitude),
                        elevation=float(sta.elevation or 0.0),
                        channels=channels,
                    )
                )
    if not specs:
        raise InventoryError(str(path), "no seismometer or accelerometer channel to simulate")
    return specs


def _sensitivity(channel: Any) -> float | None:
    """The channel's overall sensitivity (counts per m/s or m/s²), None if not given."""
    response = getattr(channel, "response", None)
    sensitivity = getattr(response, "instrument_sensitivity", None)
    value = getattr(sensitivity, "value", None)
    if value is None:
        return None
    value = float(value)
    return value if 0 < value < 1e15 else None
