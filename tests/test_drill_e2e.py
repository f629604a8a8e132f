"""A drill end to end, as an operator runs one: ``larza feed --scenario`` plays a quake under
the three Pamir stations, ``larza worker`` (early warning on, as an exercise) raises a network
alert, and ``larza drill report`` prints its timeline against the scenario's truth. Real
processes on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from detection import TravelTimeTable

from .stack import get_json, running_stack, tail

pytestmark = pytest.mark.e2e

SCENARIO = """
name = "M 5.5 at 60 km under the Pamir"
origin = 40.0
latitude = 38.0
longitude = 72.9
depth_km = 60.0
magnitude = 5.5
"""
CONFIG = """
[velocity_model]
cache_dir = "{cache}"

[alerts]
enabled = true
exercise = true
[[alerts.sites]]
name = "Khorugh"
latitude = 37.49
longitude = 71.55
threshold = 3.0
"""


def test_a_scenario_drill_raises_an_exercise_alert_and_the_report_times_it(
    fresh_database_url: str, tmp_path: Path, table_cache: Path, pamir_table: TravelTimeTable
) -> None:
    scenario = tmp_path / "quake.toml"
    scenario.write_text(SCENARIO)
    truth = tmp_path / "truth.json"
    feed = ["--scenario", str(scenario), "--config", str(tmp_path / "larza.toml")]
    feed += ["--truth", str(truth), "--record-seconds", "1"]
    config = CONFIG.format(cache=table_cache)
    with running_stack(fresh_database_url, tmp_path, feed, config=config) as stack:
        alerts: list[dict[str, object]] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not alerts:
            got = get_json(stack.base, "/api/v1/alerts")
            if isinstance(got, dict):
                alerts = [a for a in got["items"] if a["kind"] == "network"]
            time.sleep(2)
        assert alerts, tail(stack.logs)
    env = {**os.environ, "LARZA_DATABASE_URL": fresh_database_url}
    command = [sys.executable, "-m", "ingest", "drill", "report", "--truth", str(truth)]
    log = ["--worker-log", str(tmp_path / "worker.log")]
    answer = subprocess.run([*command, *log, "--json"], env=env, capture_output=True, check=True)
    report = json.loads(answer.stdout)
    assert report["alerted"] is True
    first = report["first_alert"]
    enough = report["enough_p_data_after_origin_s"]
    # sent after the data existed (less the second of P the pick itself needs), in seconds
    assert enough - 1.5 < first["after_origin_s"] < enough + 60.0, report
    assert abs(first["magnitude_error"]) < 0.7, report
    # three stations locate poorly (tens of km; the README's figures): only that it is one
    assert 0.0 <= first["epicentre_error_km"] < 150.0, report
    assert report["network_alerts"][0]["exercise"] is True
    (site,) = report["sites"]
    assert site["name"] == "Khorugh"
    assert site["warning_s"] == pytest.approx(
        site["s_after_origin_s"] - first["after_origin_s"], abs=0.01
    )
    assert report["suppressed_by_reason"]["too_few_stations"] >= 1  # before the third P
    text = subprocess.run(command, env=env, capture_output=True, check=True, text=True).stdout
    assert f"First alert at T0+{first['after_origin_s']:.1f} s" in text
    assert "Khorugh" in text
