"""``larza detect``: the worker's code over files gives the same detections and events as
the live pipeline did over the same records; its outputs, tried as a researcher would."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from obspy import read, read_events
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ingest.cli.main import app
from ingest.config import LarzaConfig, parse_config
from ingest.detect.files import run_detect, station_positions
from ingest.worker.archive import SdsArchive
from ingest.worker.pipeline import Pipeline
from stations.inventory import default_inventory_path
from stations.queries import list_detections, list_events

from .test_pipeline import ONSETS, _interleaved, factory, quake_trace  # noqa: F401  (a fixture)


@pytest.fixture
def archived(factory: sessionmaker[Session], tmp_path: Path) -> Path:  # noqa: F811
    """A live run of the pipeline over a three-station quake, archiving what it received."""
    pipeline = Pipeline(
        factory,
        server="test:18000",
        archive=SdsArchive(tmp_path / "sds"),
        clock=lambda: datetime(2025, 6, 1, 12, 1, 40, tzinfo=UTC),
    )
    packets = _interleaved(np.random.default_rng(3))
    for i in range(0, len(packets), 7):  # batches, as the worker stores them
        pipeline.handle_many(packets[i : i + 7])
    return tmp_path / "sds"


def test_files_give_what_the_live_pipeline_gave(
    factory: sessionmaker[Session],  # noqa: F811
    archived: Path,
) -> None:
    positions = station_positions([default_inventory_path()])  # as the worker's database
    results = run_detect([archived], LarzaConfig(), positions=positions)
    with factory() as s:
        live = list_detections(s, limit=1000)
        live_events = list_events(s)
        seen_live = sorted(
            (
                f"{d.channel.station.network.code}.{d.channel.station.code}..{d.channel.code}",
                d.onset_time.timestamp(),
                d.on_time.timestamp(),
                d.off_time.timestamp(),
                round(d.peak_ratio, 9),
                d.profile,
            )
            for d in live
        )
        live_stations = [sorted(d.channel.station.code for d in e.detections) for e in live_events]
    seen_files = sorted(
        (
            str(d.key),
            pytest.approx(d.onset_time, abs=1e-6),
            pytest.approx(d.on_time, abs=1e-6),
            pytest.approx(d.off_time, abs=1e-6),
            round(d.peak_ratio, 9),
            d.profile,
        )
        for d in results.detections
    )
    assert len(seen_live) == len(ONSETS)
    assert [x[0] for x in seen_files] == [x[0] for x in seen_live]
    assert seen_files == seen_live
    events = list(results.events.values())
    assert len(events) == len(live_events) == 1
    assert [sorted(s.split(".")[1] for s in events[0].stations)] == live_stations
    assert events[0].status == "final"


def test_cli_formats(archived: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["detect", str(archived), "--no-progress"])
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    detections = [x for x in lines if x["type"] == "detection"]
    events = [x for x in lines if x["type"] == "event"]
    assert len(detections) == 3
    assert {d["stream"] for d in detections} == {f"TJ.{s}..HHZ" for s in ONSETS}
    assert events[0]["n_stations"] == 3
    assert sorted(events[0]["detections"]) == [0, 1, 2]
    assert "3 detections, 1 events" in done.stderr

    done = runner.invoke(app, ["detect", str(archived), "--format", "csv", "--no-progress"])
    header, *rows = done.stdout.splitlines()
    assert header.startswith("type,id,stream,on_time")
    assert [r.split(",")[0] for r in rows] == ["detection"] * 3 + ["event"]

    out = tmp_path / "events.xml"
    done = runner.invoke(
        app, ["detect", str(archived), "--format", "quakeml", "-o", str(out), "--progress"]
    )
    assert done.exit_code == 0, done.output
    assert "records" in done.stderr  # the progress line
    catalog = read_events(str(out))
    assert len(catalog) == 1
    assert len(catalog[0].picks) == 3
    assert {p.waveform_id.station_code for p in catalog[0].picks} == set(ONSETS)


def test_any_obspy_readable_file(tmp_path: Path) -> None:
    sac = tmp_path / "rjob.sac"
    read()[0].write(str(sac), format="SAC")  # ObsPy's example local event, not miniSEED
    # The event is 4 s into the 30 s recording: short windows, so the warm-up ends before it.
    config = parse_config({"detector": {"sta": 0.2, "lta": 2.0}})
    results = run_detect([sac], config)
    assert len(results.detections) >= 1
    assert str(results.detections[0].key) == "BW.RJOB..EHZ"


def test_bad_input_is_named(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "larza.toml"
    bad.write_text("[detector]\ntriger_on = 4\n")
    done = runner.invoke(app, ["detect", str(tmp_path), "--config", str(bad)])
    assert done.exit_code == 1
    assert "unknown key 'triger_on'" in done.stderr
    done = runner.invoke(app, ["detect", str(tmp_path / "nowhere")])
    assert done.exit_code == 1
    assert "no such file or directory" in done.stderr
    done = runner.invoke(app, ["detect", str(tmp_path), "--format", "xml"])
    assert done.exit_code == 1
    assert "--format must be" in done.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a waveform" * 10)
    done = runner.invoke(app, ["detect", str(junk)])
    assert done.exit_code == 1
    assert "junk.bin: not a waveform file ObsPy can read" in done.stderr


def test_overlapping_files_print_each_detection_once(tmp_path: Path) -> None:
    # The same three-station quake written whole, then again as two files that overlap by
    # half a minute and a copy of one of them: records repeated and records cut elsewhere.
    rng = np.random.default_rng(8)
    traces = [quake_trace(s, t, rng) for s, t in ONSETS.items()]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir()
    parts.mkdir()
    for tr in traces:
        name = tr.stats.station
        tr.write(str(whole / f"{name}.mseed"), format="MSEED", reclen=512, encoding="STEIM2")
        first = tr.slice(tr.stats.starttime, tr.stats.starttime + 60)
        second = tr.slice(tr.stats.starttime + 30, tr.stats.endtime)
        first.write(str(parts / f"{name}.a.mseed"), format="MSEED", reclen=512)
        second.write(str(parts / f"{name}.b.mseed"), format="MSEED", reclen=512)
        first.write(str(parts / f"{name}.c.mseed"), format="MSEED", reclen=512)
    runner = CliRunner()
    expected = runner.invoke(app, ["detect", str(whole), "--no-progress"])
    done = runner.invoke(app, ["detect", str(parts), "--no-progress"])
    assert done.exit_code == 0, done.output

    def detections(out: str) -> list[tuple[str, str]]:
        lines = [json.loads(line) for line in out.splitlines()]
        return [(x["stream"], x["onset_time"]) for x in lines if x["type"] == "detection"]

    assert len(detections(expected.stdout)) == len(ONSETS)
    assert detections(done.stdout) == detections(expected.stdout)
    assert "records repeated or overlapping, each fed once" in done.stderr
    assert "records repeated" not in expected.stderr


def test_picks_carry_phase_uncertainty_and_polarity_in_every_format(tmp_path: Path) -> None:
    # ObsPy's example event at BW.RJOB, three components: a P on EHZ and an S on a
    # horizontal, with short windows so the warm-up ends before the event.
    data = tmp_path / "data"
    data.mkdir()
    for tr in read():
        tr.write(str(data / f"{tr.stats.channel}.mseed"), format="MSEED")
    config = tmp_path / "larza.toml"
    config.write_text("[detector]\nsta = 0.2\nlta = 2.0\n")
    runner = CliRunner()
    done = runner.invoke(app, ["detect", str(data), "--config", str(config), "--no-progress"])
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    picks = [x for x in lines if x["type"] == "detection"]
    assert [(x["stream"], x["phase"]) for x in picks] == [
        ("BW.RJOB..EHZ", "P"),
        ("BW.RJOB..EHN", "S"),
    ]
    p, s = picks
    assert p["onset_time"] < s["onset_time"]
    assert 0 < p["onset_uncertainty"] < 0.1
    assert p["polarity"] in ("positive", "negative")
    assert s["polarity"] is None
    assert "2 detections, 0 events (1 P, 1 S)" in done.stderr
    done = runner.invoke(app, ["detect", str(data), "--config", str(config), "--format", "csv"])
    header = done.stdout.splitlines()[0].split(",")
    assert header[6:10] == ["phase", "onset_uncertainty", "polarity", "bridged"]
    out = tmp_path / "events.xml"
    config.write_text("[detector]\nsta = 0.2\nlta = 2.0\n[association]\nmin_stations = 1\n")
    done = runner.invoke(
        app,
        ["detect", str(data), "--config", str(config), "--format", "quakeml", "-o", str(out)],
    )
    assert done.exit_code == 0, done.output
    (event,) = read_events(str(out))
    first, second = sorted(event.picks, key=lambda pick: pick.time)
    assert (first.phase_hint, first.waveform_id.channel_code) == ("P", "EHZ")
    assert (second.phase_hint, second.waveform_id.channel_code) == ("S", "EHN")
    assert first.time_errors.uncertainty == pytest.approx(p["onset_uncertainty"], abs=1e-6)
    assert first.polarity == p["polarity"]
    assert second.polarity is None


def test_picks_agree_with_analysts_on_real_recordings() -> None:
    # Three local earthquakes (northern California and Nevada, PhaseNet's example data) with
    # the analysts' P and S: one P on the vertical and one S on a horizontal for each, near
    # the analysts' onsets. Each file holds three channels, one after another.
    folder = Path(__file__).parents[1] / "data" / "phasenet"
    with (folder / "picks.csv").open() as f:
        analysts = list(csv.DictReader(f))
    files = [folder / row["file"] for row in analysts]
    results = run_detect(files, LarzaConfig())
    for row, path in zip(analysts, files, strict=True):
        start = read(str(path), headonly=True)[0].stats.starttime.timestamp
        network, station = row["file"].split("_")[:2]
        mine = [
            d for d in results.detections if (d.key.network, d.key.station) == (network, station)
        ]
        assert [d.phase for d in mine] == ["P", "S"], row["file"]
        p, s = mine
        assert p.key.channel.endswith("Z")
        assert s.key.channel[-1] in "NE"
        assert abs(p.onset_time - start - float(row["p_s"])) <= 0.05, row["file"]
        assert abs(s.onset_time - start - float(row["s_s"])) <= 0.3, row["file"]
        assert p.onset_uncertainty is not None
        assert 0 < p.onset_uncertainty <= 0.1


def test_a_file_of_several_traces_is_read_in_time_order(tmp_path: Path) -> None:
    # ObsPy's example event, its three components in one non-miniSEED file (trace after
    # trace): the vertical's P and the horizontals' S as from three files.
    read().write(str(tmp_path / "rjob.mseed.txt"), format="TSPAIR")
    config = parse_config({"detector": {"sta": 0.2, "lta": 2.0}})
    results = run_detect([tmp_path / "rjob.mseed.txt"], config)
    assert [(d.key.channel, d.phase) for d in results.detections] == [("EHZ", "P"), ("EHN", "S")]
