"""End to end over the drill SeedLink feed: a synthetic earthquake in a six-station network
becomes one located event with a magnitude, as the API, the FDSN event service and the
event stream show it. Feed, worker and API run as real processes on loopback."""

from __future__ import annotations

import io
import time
import urllib.request
from pathlib import Path

import pytest
from obspy import read_events

from detection import distance_km
from ingest.config import load_config
from ingest.feed import SyntheticSource
from ingest.feed.inventory import station_specs
from ingest.quakes.model import travel_time_table

from .quakenet import write_network
from .stack import get_json, running_stack, tail

pytestmark = pytest.mark.e2e

SEED = 26
"""Its first quake is inside the network (38.37 N, 72.47 E, 18.7 km deep)."""


def test_a_feed_quake_becomes_one_located_event_with_a_magnitude(
    fresh_database_url: str, tmp_path: Path, table_cache: Path
) -> None:
    xml, toml = write_network(tmp_path, table_cache)
    travel_time_table(load_config(toml))  # built here once: the worker reads the cache
    feed = ["--inventory", str(xml), "--seed", str(SEED)]
    feed += ["--event-interval", "100000", "--first-event-after", "30"]
    truth = SyntheticSource(station_specs(xml), seed=SEED, event_interval=1e5,
                            first_event_after=30, start=0.0)  # fmt: skip
    truth.records_until(31.0)
    (quake,) = truth.events
    config = toml.read_text()
    with running_stack(
        fresh_database_url, tmp_path, feed, archive=True, config=config, inventory=xml
    ) as stack:
        events: list[dict[str, object]] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            got = get_json(stack.base, "/api/v1/events")
            if isinstance(got, dict):
                events = got["items"]
                if events and events[-1]["status"] == "final":
                    break
            time.sleep(2)
        assert len(events) == 1, tail(stack.logs)
        (event,) = events
        assert event["status"] == "final", tail(stack.logs)
        assert event["n_stations"] == 6
        lat, lon = event["latitude"], event["longitude"]
        assert isinstance(lat, float)
        assert isinstance(lon, float)
        assert float(distance_km(lat, lon, quake.latitude, quake.longitude)) < 5.0
        assert event["depth_km"] == pytest.approx(quake.depth_km, abs=8.0)
        assert isinstance(event["magnitude"], float), tail(stack.logs)
        assert event["magnitude_stations"] == 6
        assert isinstance(event["place"], str)
        origin = event["origin"]
        assert isinstance(origin, dict)
        assert origin["status"] == "free"
        phases = [a["phase"] for a in origin["arrivals"]]
        assert phases.count("P") == 6
        assert len(event["ground_motion"]) == 6  # type: ignore[arg-type]
        url = f"{stack.base}/fdsnws/event/1/query?minmagnitude=-5&includearrivals=true"
        with urllib.request.urlopen(url, timeout=10) as response:
            (served,) = read_events(io.BytesIO(response.read()))
        assert served.preferred_magnitude().mag == pytest.approx(event["magnitude"])
        assert len(served.preferred_origin().arrivals) == len(phases)
