"""Scenario quakes and the feed's travel times: a quake's P reaches each station when the
configured velocity model says (TauP the oracle), for a scenario served by ``larza feed
--scenario`` over SeedLink and for the ordinary synthetic quakes; the truth the feed writes
says the same; a bad scenario file is refused naming what is wrong."""

from __future__ import annotations

import io
import json
import math
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import obspy
import pytest
from obspy.taup import TauPyModel
from seedlink_client import SeedLink

from detection import TravelTimeTable, distance_km
from ingest.feed import (
    ModelArrivals,
    Scenario,
    StationSpec,
    SyntheticEvent,
    SyntheticSource,
    default_stations,
    load_scenario,
    scenario_truth,
)
from ingest.feed._synthetic import pd_m, tau_c_s
from stations.errors import ConfigurationError

from ..ingest.test_feed_cli import _feed
from ..pamir import taup_time


def _first_motion(records: list[bytes], station: str) -> float:
    """POSIX time of the first non-zero sample of the station's HHZ (the data are noiseless)."""
    stream = obspy.read(io.BytesIO(b"".join(records))).select(station=station, channel="HHZ")
    stream.merge()
    trace = stream[0]
    (nonzero,) = np.nonzero(trace.data)
    return float(trace.stats.starttime.timestamp + nonzero[0] / trace.stats.sampling_rate)


def _p(truth: dict[str, object], station: str) -> float:
    rows = truth["stations"]
    assert isinstance(rows, list)
    (row,) = [r for r in rows if r["id"] == f"TJ.{station}"]
    return datetime.fromisoformat(row["p"]).timestamp()


def _oracle(taup: TauPyModel, station: str, lat: float, lon: float, depth: float) -> float:
    return taup_time(taup, "P", f"TJ.{station}", lat, lon, depth)


def test_synthetic_quakes_travel_by_the_model_given_or_by_straight_rays(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    stations = default_stations()
    for arrivals in (ModelArrivals(pamir_table), None):
        source = SyntheticSource(
            stations, seed=3, event_interval=1e5, first_event_after=2.0, start=0.0,
            arrivals=arrivals, noise=0.0, depth_km=(60.0, 60.0),
        )  # fmt: skip
        records = source.records_until(60.0)
        (quake,) = source.events
        for st in stations:
            first = _first_motion(records, st.station)
            if arrivals is None:  # the fallback: 6 km/s along the straight ray
                expected = quake.p_time(st)
            else:
                expected = quake.origin_time + _oracle(
                    pamir_taup, st.station, quake.latitude, quake.longitude, quake.depth_km
                )
            assert first == pytest.approx(expected, abs=0.06), (st.station, arrivals)


@pytest.mark.e2e
def test_a_scenario_played_over_seedlink_arrives_at_the_model_travel_times(
    tmp_path: Path, table_cache: Path, pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    lat, lon, depth = 38.0, 72.6, 30.0
    scenario = tmp_path / "quake.toml"
    scenario.write_text(
        f'name = "test quake"\norigin = 2.0\nlatitude = {lat}\nlongitude = {lon}\n'
        f"depth_km = {depth}\nmagnitude = 6.0\nnoise = 0.0\n"
    )
    config = tmp_path / "larza.toml"
    config.write_text(f'[velocity_model]\ncache_dir = "{table_cache}"\n')
    truth_path = tmp_path / "truth.json"
    args = ["--scenario", str(scenario), "--config", str(config), "--truth", str(truth_path)]
    with _feed(*args, "--record-seconds", "1", log=tmp_path / "feed.log") as port:
        truth = json.loads(truth_path.read_text())
        last_p = max(_p(truth, s) for s in ("SAREZ", "MURGH", "MANEM"))
        client = SeedLink("127.0.0.1", port, timeout=5)
        for station in ("SAREZ", "MURGH", "MANEM"):
            client.add_stream(f"TJ_{station}", "HHZ")
        client.connect()
        records: list[bytes] = []
        deadline = time.monotonic() + 90
        try:
            for packet in client.collect(reconnect=False):
                records.append(bytes(packet.payload))
                if time.time() > last_p + 4.0 or time.monotonic() > deadline:
                    break
        finally:
            client.close()
    assert truth["velocity_model"] == "pamir"
    assert truth["magnitude"] == 6.0
    origin = datetime.fromisoformat(truth["origin_time"]).timestamp()
    assert origin == datetime.fromisoformat(truth["feed_start"]).timestamp() + 2.0
    for station in ("SAREZ", "MURGH", "MANEM"):
        oracle = origin + _oracle(pamir_taup, station, lat, lon, depth)
        assert _p(truth, station) == pytest.approx(oracle, abs=0.1), station
        assert _first_motion(records, station) == pytest.approx(_p(truth, station), abs=0.06)
    ps = sorted(_p(truth, s) for s in ("SAREZ", "MURGH", "MANEM"))
    enough = datetime.fromisoformat(truth["enough_p_data"]).timestamp()
    assert enough == pytest.approx(max(ps[2], ps[0] + 1.0), abs=0.002)  # 3 P, 1 s of one


def test_a_scenario_p_has_the_tau_c_and_pd_of_its_magnitude(
    pamir_table: TravelTimeTable,
) -> None:
    """The vertical P, as displacement recovered from the velocity counts, peaks at the Pd of
    the magnitude at that distance and oscillates at its tau_c (a zero-crossing count)."""
    (sarez,) = [s for s in default_stations() if s.station == "SAREZ"]
    quake = SyntheticEvent(10.0, 38.0, 72.9, 150.0, 0.0, magnitude=6.5)
    source = SyntheticSource(
        [sarez], random_quakes=False, quakes=[quake], start=0.0, noise=0.0,
        arrivals=ModelArrivals(pamir_table),
    )  # fmt: skip
    trace = obspy.read(io.BytesIO(b"".join(source.records_until(50.0)))).select(channel="HHZ")
    trace.merge()
    velocity = trace[0].data.astype(float) / 3.0e8  # the shipped inventory's gain
    displacement = np.cumsum(velocity) / 100.0
    p = source.arrivals.travel_times(38.0, 72.9, 150.0, sarez)[0] + 10.0
    window = displacement[round(p * 100) : round((p + 3.0) * 100)]
    hypo = math.hypot(float(distance_km(38.0, 72.9, sarez.latitude, sarez.longitude)), 150.0)
    assert np.max(np.abs(window)) == pytest.approx(pd_m(6.5, hypo), rel=0.05)
    crossings = np.count_nonzero(np.diff(np.signbit(window[5:])))
    assert crossings == math.floor(2 * 3.0 / tau_c_s(6.5))  # two a period: 0.8, 1.6, 2.4 s


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("latitude = 38.0\nlongitude = 72.9\ndepth_km = 10\n", "magnitude: Field required"),
        ("latitude = 98\nlongitude = 72.9\ndepth_km = 10\nmagnitude = 5\n", "latitude"),
        ("latitude = 38\nlongitude = 72.9\ndepth_km = 10\nmagnitude = 5\nmagnitde = 5\n",
         "magnitde: Extra inputs"),
        ("latitude = 38.0\nlongitude = [\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_scenario_file_is_refused_naming_what_is_wrong(
    tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value)
    assert said in str(caught.value)


def test_a_scenario_names_stations_the_inventory_lacks() -> None:
    scenario = Scenario(latitude=38, longitude=72, depth_km=10, magnitude=5, stations=("TJ.NOPE",))
    with pytest.raises(ConfigurationError, match=r"TJ\.NOPE"):
        scenario.select(default_stations(), "s.toml")


def test_the_truth_of_an_absolute_origin(pamir_table: TravelTimeTable) -> None:
    scenario = Scenario.model_validate(
        {"origin": "2026-12-03T04:00:00Z", "latitude": 38.24, "longitude": 72.58,
         "depth_km": 10.0, "magnitude": 5.0}
    )  # fmt: skip
    stations: list[StationSpec] = default_stations()
    truth = scenario_truth(
        scenario, start=0.0, stations=stations, arrivals=ModelArrivals(pamir_table)
    )
    assert truth["origin_time"] == "2026-12-03T04:00:00.000+00:00"
    assert [s["id"] for s in truth["stations"]] == ["TJ.SAREZ", "TJ.MURGH", "TJ.MANEM"]


def test_the_feed_command_stops_on_a_bad_scenario_with_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ingest.cli.main import app

    from ..conftest import free_port

    bad = tmp_path / "bad.toml"
    bad.write_text("latitude = 38\nlongitude = 72\ndepth_km = 10\nmagnitude = 5\norigin = -5\n")
    port = str(free_port())
    answer = CliRunner().invoke(app, ["feed", "--port", port, "--scenario", str(bad)])
    assert answer.exit_code == 1
    assert answer.stderr.startswith("error: ")
    assert "before the feed starts" in answer.stderr
    both = ["feed", "--port", port, "--scenario", str(bad), "--replay", str(bad)]
    answer = CliRunner().invoke(app, both)
    assert answer.exit_code == 1
    assert "not both" in answer.stderr
