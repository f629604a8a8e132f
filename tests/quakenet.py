"""A six-station network for the earthquake tests: the shipped TJ inventory's SAREZ (its
channels and responses) copied to five more sites around the Pamir plateau, all at sea level,
and a ``larza.toml`` whose velocity model is the drill feed's (P 6.0, S 3.5 km/s straight
rays), so that the feed's quakes are what the locator's travel times say."""

from __future__ import annotations

import copy
from pathlib import Path

from obspy import read_inventory

from stations.inventory import default_inventory_path

SITES = {  # code: (latitude, longitude)
    "SAREZ": (38.27, 72.60),
    "MURGH": (38.17, 73.30),
    "MANEM": (37.70, 71.90),
    "RUSHN": (37.95, 71.55),
    "BULUN": (37.60, 72.90),
    "KARAK": (38.75, 72.90),
}
REGION = (37.95, 38.15, 72.35, 72.75)
"""Where the feed's quakes are: inside the network."""

CONFIG = """
[velocity_model]
layers = [{ top_km = 0.0, vp = 6.0, vs = 3.5 }]
moho_km = 100.0
max_distance_km = 500.0
max_depth_km = 60.0
cache_dir = "{cache}"

[location]
min_stations = 4
"""


def write_network(folder: Path, cache: Path) -> tuple[Path, Path]:
    """The network's StationXML and ``larza.toml`` in ``folder``."""
    inventory = read_inventory(str(default_inventory_path()))
    network = inventory.networks[0]
    template = next(s for s in network.stations if s.code == "SAREZ")
    stations = []
    for code, (lat, lon) in SITES.items():
        station = copy.deepcopy(template)
        station.code = code
        station.latitude, station.longitude, station.elevation = lat, lon, 0.0
        for channel in station.channels:
            channel.latitude, channel.longitude, channel.elevation = lat, lon, 0.0
            channel.depth = 0.0
        stations.append(station)
    network.stations = stations
    inventory.networks = [network]
    xml = folder / "quakenet.xml"
    inventory.write(str(xml), format="STATIONXML")
    toml = folder / "larza.toml"
    toml.write_text(CONFIG.replace("{cache}", str(cache)), encoding="utf-8")
    return xml, toml
