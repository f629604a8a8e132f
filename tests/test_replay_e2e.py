"""A replay of real recordings through the whole early-warning path, as the README runs one:
``larza feed --replay`` serves four stations' archived miniSEED (three small local quakes
of 2010 at Unterhaching, Bavaria: ``tests/data/unterhaching``), ``larza worker`` (early
warning on) raises network alerts from them, and ``larza drill report --since`` prints
their timeline with no truth, in the recordings' data time. The feed and the worker are
real processes on loopback (the database is migrated and the stations imported in this
process, as ``larza db migrate`` and ``larza stations import`` do: their own tests run the
commands); the replay is ``fast`` (everything at once), so the test takes seconds, not the
recordings' four minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detection import TravelTimeTable, distance_km
from stations.alerts import list_alerts
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import import_stationxml

from .stack import free_port, larza, tail

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent / "data" / "unterhaching"
CONFIG = """
[velocity_model]
cache_dir = "{cache}"

[alerts]
enabled = true
min_magnitude = 0.0
[[alerts.sites]]
name = "Munich"
latitude = 48.14
longitude = 11.58
"""
CLUSTER = (48.047, 11.645)  # the Erdbebendienst Bayern's epicentre of a quake of that day


def test_a_replay_of_real_recordings_alerts_and_the_report_times_it_in_data_time(
    fresh_database_url: str, tmp_path: Path, table_cache: Path, pamir_table: TravelTimeTable
) -> None:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        import_stationxml(session, DATA / "BW.UH.xml")
    (tmp_path / "larza.toml").write_text(CONFIG.format(cache=table_cache))
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": fresh_database_url,
        "LARZA_ARCHIVE_DIR": "",
        "LARZA_CONFIG": str(tmp_path / "larza.toml"),
        "LARZA_SELECTORS": "SH? EH?",
    }
    since = datetime.now(UTC).replace(microsecond=0)
    port = free_port()
    mseed = str(DATA / "BW.UH.2010-05-27.mseed")
    replay = ["--replay", mseed, "--replay-mode", "fast"]
    procs = [larza("feed", "--port", str(port), *replay, env=env, log=tmp_path / "feed.log")]
    worker = ["worker", "--seedlink", f"127.0.0.1:{port}"]
    procs.append(larza(*worker, env=env, log=tmp_path / "worker.log"))
    try:
        deadline = time.monotonic() + 90
        done = False
        while time.monotonic() < deadline and not done:
            time.sleep(0.5)
            with factory() as session:
                found = [a for a in list_alerts(session) if a.kind == "network"]
                # the second quake's estimate once its fourth station is in
                done = len(found) == 2 and any(
                    len((v.content or {}).get("stations", [])) == 4 for v in found[1].versions
                )
        assert done, tail(tmp_path)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=15)
        engine.dispose()
    command = [sys.executable, "-m", "ingest", "drill", "report", "--since", since.isoformat()]
    log = ["--worker-log", str(tmp_path / "worker.log")]
    as_json = subprocess.Popen([*command, *log, "--json"], env=env, stdout=subprocess.PIPE)
    text = subprocess.run(command, env=env, capture_output=True, check=True, text=True).stdout
    out, _ = as_json.communicate(timeout=60)
    report = json.loads(out)
    assert report["alerted"] is True
    first, second = report["network_alerts"]
    # the quake at 16:27:30 at all four stations: inside the network, shallow, small
    latest = next(v for v in reversed(second["versions"]) if v["stations"] == 4)
    assert float(distance_km(latest["latitude"], latest["longitude"], *CLUSTER)) < 5.0
    assert latest["depth_km"] < 10.0
    assert 0.0 < latest["magnitude"] < 3.0  # nominal sensitivities: only its order
    for alert in (first, second):
        for version in alert["versions"]:  # timed in the recordings' time, not the replay's
            assert version["data_time"].startswith("2010-05-27T16:2"), version
    assert report["suppressed_by_reason"]["too_few_stations"] >= 2
    assert f"Network alert {second['id']}" in text
    assert "Munich" in text
