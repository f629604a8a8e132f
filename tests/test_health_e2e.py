"""Station health end to end, tried as an operator would: the drill feed silences a station
and loses a GPS lock, a worker with short thresholds in its larza.toml watches, and the API
shows each state with its reason on time, then the recovery, and the history of changes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .stack import Stack, get_json, running_stack, tail

pytestmark = pytest.mark.e2e

FAULTS = """
[[fault]]
kind = "silent_station"
station = "SAREZ"
start = 25
end = 45

[[fault]]
kind = "gps_unlock"
station = "MURGH"
start = 25
end = 40
timing_quality = 20
"""

CONFIG = """
[health]
window_s = 15.0
state_interval_s = 1.0
interval_s = 5.0
latency_degraded_s = 8.0
latency_down_s = 12.0
"""


@pytest.fixture
def drill(fresh_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    (tmp_path / "faults.toml").write_text(FAULTS)
    feed = ["--seed", "3", "--first-event-after", "3600", "--faults", str(tmp_path / "faults.toml")]
    with running_stack(fresh_database_url, tmp_path, feed, config=CONFIG) as running:
        yield running


def _states(base: str) -> dict[str, dict[str, object]]:
    stations = get_json(base, "/api/v1/stations")
    return {s["id"]: s for s in stations} if isinstance(stations, list) else {}


def test_faults_turn_states_with_reasons_and_recover(drill: Stack) -> None:
    base, logs = drill.base, drill.logs
    t0 = time.monotonic()
    seen: dict[str, list[tuple[float, str, str]]] = {}
    while time.monotonic() - t0 < 110:
        for sid, s in _states(base).items():
            entry = (time.monotonic() - t0, str(s["state"]), str(s["reason"]))
            if not seen.get(sid) or seen[sid][-1][1:] != entry[1:]:
                seen.setdefault(sid, []).append(entry)
        sarez = seen.get("TJ.SAREZ", [])
        if any(st == "DOWN" for _, st, _ in sarez) and sarez[-1][1] == "OK":
            break
        time.sleep(0.5)
    sarez = seen.get("TJ.SAREZ", [])
    states = [st for _, st, _ in sarez]
    assert "DOWN" in states, (sarez, tail(logs))
    down = next(e for e in sarez if e[1] == "DOWN")
    assert "no data for" in down[2]
    assert "HHZ" in down[2]
    assert states[-1] == "OK", (sarez, tail(logs))
    # Never DOWN before it went silent, and back after the silence.
    assert states.index("DOWN") > states.index("OK")
    murgh = seen.get("TJ.MURGH", [])
    reasons = " ".join(r for _, _, r in murgh)
    assert "clock not locked (GPS)" in reasons, (murgh, tail(logs))
    assert "timing quality 20 %" in reasons
    assert murgh[-1][1] == "OK", murgh
    # MANEM had no fault: it was OK once data came, and stayed so.
    manem = [st for _, st, _ in seen.get("TJ.MANEM", [])]
    assert "OK" in manem
    assert "DOWN" not in manem
    # The history an alerting script polls: SAREZ went down and came back.
    page = get_json(base, "/api/v1/stations/TJ.SAREZ/history")
    assert isinstance(page, dict)
    path = [c["to_state"] for c in page["items"]]
    assert "DOWN" in path
    assert path[-1] == "OK"
