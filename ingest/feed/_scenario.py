"""Scenario quakes for drills (``larza feed --scenario FILE``): one earthquake with known
truth, played over the feed's stations, and the truth written for ``larza drill report``.

A scenario file is a small TOML document::

    name = "M 6.5 at 150 km under the Pamir"
    origin = 60.0            # seconds after the feed starts, or an absolute time:
                             # origin = 2026-12-03T04:00:00Z
    latitude = 38.0
    longitude = 72.9
    depth_km = 150.0
    magnitude = 6.5
    stations = ["TJ.SAREZ", "TJ.MURGH", "TJ.MANEM"]   # optional: the feed serves only these
    noise = 1.0              # optional: scale of the feed's noise (0: none)

The quake's P and S reach each station at the travel times of the velocity model given
(the worker's ``[velocity_model]``), its P with the tau_c and Pd of its magnitude; no random
quake is played beside it. The accelerometers' noise is a real strong-motion sensor's
(``ACCELEROMETER_NOISE`` counts), not the drill feed's usual 80 counts.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.feed._arrivals import Arrivals, epicentral_distance_km
from ingest.feed._stations import StationSpec
from ingest.feed._synthetic import SyntheticEvent
from stations.errors import ConfigurationError

__all__ = [
    "ACCELEROMETER_NOISE",
    "Scenario",
    "ScenarioSite",
    "load_scenario",
    "scenario_truth",
    "write_truth",
]

ACCELEROMETER_NOISE = 2.0
"""RMS counts of a scenario's accelerometer noise: about 2.5e-5 m/s² at the shipped gain."""


class Scenario(BaseModel):
    """One scenario quake (see the module's docstring for the file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("scenario", min_length=1, max_length=200)
    origin: float | datetime = Field(
        60.0, description="seconds after the feed starts, or an absolute time (UTC if naive)"
    )
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    depth_km: float = Field(ge=0, le=700)
    magnitude: float = Field(ge=0, le=9.5)
    stations: tuple[str, ...] | None = Field(None, min_length=1)
    noise: float = Field(1.0, ge=0, le=100)

    def origin_time(self, start: float) -> float:
        """The origin as POSIX seconds, for a feed that started at ``start``."""
        if isinstance(self.origin, datetime):
            when = self.origin if self.origin.tzinfo else self.origin.replace(tzinfo=UTC)
            return when.timestamp()
        return start + float(self.origin)

    def event(self, start: float) -> SyntheticEvent:
        return SyntheticEvent(
            origin_time=self.origin_time(start),
            latitude=self.latitude,
            longitude=self.longitude,
            depth_km=self.depth_km,
            amplitude=0.0,
            magnitude=self.magnitude,
        )

    def select(self, stations: Sequence[StationSpec], source: str) -> list[StationSpec]:
        """The stations the scenario names (all if it names none); an unknown one is an
        error naming it."""
        if self.stations is None:
            return list(stations)
        known = {f"{s.network}.{s.station}": s for s in stations}
        missing = [s for s in self.stations if s not in known]
        if missing:
            raise ConfigurationError(source, f"stations not in the inventory: {', '.join(missing)}")
        return [known[s] for s in self.stations]


@dataclass(frozen=True)
class ScenarioSite:
    """A target site whose S arrival the truth gives (``[alerts.sites]``)."""

    name: str
    latitude: float
    longitude: float


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file; anything wrong stops with a message naming the file and key."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(str(path), f"cannot read the file: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigurationError(str(path), f"not valid TOML: {e}") from e
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'document'}: {err['msg']}" for err in e.errors()
        )
        raise ConfigurationError(str(path), problems) from None
    if isinstance(scenario.origin, float) and not math.isfinite(scenario.origin):
        raise ConfigurationError(str(path), f"origin must be finite, got {scenario.origin}")
    return scenario


def scenario_truth(
    scenario: Scenario,
    *,
    start: float,
    stations: Sequence[StationSpec],
    arrivals: Arrivals,
    sites: Sequence[ScenarioSite] = (),
    min_stations: int = 3,
    min_window_s: float = 1.0,
    source: str = "",
) -> dict[str, Any]:
    """What really happened, for ``larza drill report``: the origin, the magnitude, each
    station's P and S, each site's S, and when enough P data physically existed for a
    network alert: P onsets at ``min_stations`` stations (a location) and ``min_window_s``
    of P at one of them (a magnitude), whichever is later."""
    origin = scenario.origin_time(start)
    lat, lon, depth = scenario.latitude, scenario.longitude, scenario.depth_km
    rows: list[dict[str, Any]] = []
    for st in stations:
        p, s = arrivals.travel_times(lat, lon, depth, st)
        rows.append(
            {
                "id": f"{st.network}.{st.station}",
                "latitude": st.latitude,
                "longitude": st.longitude,
                "elevation_m": st.elevation,
                "distance_km": round(
                    epicentral_distance_km(lat, lon, st.latitude, st.longitude), 3
                ),
                "p": _iso(origin + p),
                "s": _iso(origin + s),
            }
        )
    rows.sort(key=lambda r: str(r["p"]))
    enough = None
    if len(rows) >= min_stations:
        p_times = [datetime.fromisoformat(str(r["p"])).timestamp() for r in rows]
        enough = _iso(max(p_times[min_stations - 1], p_times[0] + min_window_s))
    site_rows = []
    for site in sites:
        probe = StationSpec("XX", "SITE", site.latitude, site.longitude, 0.0, ())
        _, s = arrivals.travel_times(lat, lon, depth, probe)
        site_rows.append(
            {
                "name": site.name,
                "latitude": site.latitude,
                "longitude": site.longitude,
                "distance_km": round(
                    epicentral_distance_km(lat, lon, site.latitude, site.longitude), 3
                ),
                "s": _iso(origin + s),
            }
        )
    return {
        "scenario": scenario.name,
        "file": source,
        "feed_start": _iso(start),
        "origin_time": _iso(origin),
        "latitude": lat,
        "longitude": lon,
        "depth_km": depth,
        "magnitude": scenario.magnitude,
        "velocity_model": arrivals.name,
        "min_stations": min_stations,
        "min_window_s": min_window_s,
        "enough_p_data": enough,
        "stations": rows,
        "sites": site_rows,
    }


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    """Write the truth as JSON, whole or not at all (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
