"""End to end, tried as a new user would: feed, worker and API as real processes on loopback.

The feed serves synthetic earthquakes every 15 s; the worker reads it over TCP; the API
must list the three stations with fresh data, and detections at several stations.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .stack import Stack, get_json, running_stack, tail

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(fresh_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    feed = ["--seed", "7", "--event-interval", "15", "--first-event-after", "14"]
    with running_stack(fresh_database_url, tmp_path, feed, archive=True) as running:
        yield running


def test_feed_to_api(stack: Stack) -> None:
    base, logs = stack.base, stack.logs
    fresh: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(fresh) < 3:
        stations = get_json(base, "/api/v1/stations")
        if isinstance(stations, list):
            fresh = {
                s["id"]: s["data_latency_s"]
                for s in stations
                if s["data_latency_s"] is not None and s["data_latency_s"] < 10
            }
        time.sleep(1)
    assert sorted(fresh) == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"], tail(logs)

    detected: set[str] = set()
    events: list[dict[str, object]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (len(detected) < 3 or not events):
        page = get_json(base, "/api/v1/detections?limit=1000")
        if isinstance(page, dict):
            detected = {f"{d['network']}.{d['station']}" for d in page["items"]}
        got = get_json(base, "/api/v1/events")
        if isinstance(got, dict):
            events = got["items"]
        time.sleep(2)
    assert detected == {"TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"}, tail(logs)
    assert events, tail(logs)
    assert events[0]["n_stations"] == 3
