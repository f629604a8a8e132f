"""The worker's pipeline fed a list of packets (the SeedLink client is tested over sockets)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from obspy import Stream, Trace, UTCDateTime
from sqlalchemy.orm import Session, sessionmaker

from ingest.seedlink.source import Packet
from ingest.worker.archive import SdsArchive, sds_path
from ingest.worker.pipeline import Pipeline
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.queries import ChannelKey, list_detections, list_events, stream_positions

T0 = UTCDateTime(2025, 6, 1, 12, 0, 0)
ONSETS = {"SAREZ": 40.0, "MURGH": 45.0, "MANEM": 48.0}


def records(trace: Trace) -> list[bytes]:
    buf = io.BytesIO()
    Stream([trace]).write(buf, format="MSEED", reclen=512, encoding="STEIM2")
    raw = buf.getvalue()
    return [raw[i : i + 512] for i in range(0, len(raw), 512)]


def quake_trace(station: str, onset: float, rng: np.random.Generator) -> Trace:
    n = 90 * 100
    data = rng.normal(0, 200, n)
    i = int(onset * 100)
    t = np.arange(600) / 100
    data[i : i + 600] += 20_000 * np.exp(-t / 1.5) * np.sin(2 * np.pi * 5 * t)
    header = {
        "network": "TJ",
        "station": station,
        "location": "",
        "channel": "HHZ",
        "sampling_rate": 100.0,
        "starttime": T0,
    }
    return Trace(data.astype(np.int32), header=header)


@pytest.fixture
def factory(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    yield factory
    engine.dispose()


def _pipeline(factory: sessionmaker[Session], archive: Path | None = None) -> Pipeline:
    return Pipeline(
        factory,
        server="test:18000",
        archive=SdsArchive(archive) if archive else None,
        clock=lambda: datetime(2025, 6, 1, 12, 1, 40, tzinfo=UTC),
    )


def _interleaved(rng: np.random.Generator) -> list[Packet]:
    per_station = {s: records(quake_trace(s, t, rng)) for s, t in ONSETS.items()}
    packets = []
    for i in range(max(len(r) for r in per_station.values())):
        for station, recs in per_station.items():
            if i < len(recs):
                packets.append(Packet(f"TJ_{station}", i + 1, recs[i]))
    return packets


def test_a_three_station_quake_becomes_detections_and_one_event(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    pipeline = _pipeline(factory, tmp_path)
    packets = _interleaved(np.random.default_rng(3))
    for packet in packets:
        pipeline.handle(packet)
    with factory() as s:
        detections = list_detections(s, limit=1000)
        by_station = {d.channel.station.code: d for d in detections}
        assert sorted(by_station) == ["MANEM", "MURGH", "SAREZ"]
        for station, onset in ONSETS.items():
            picked = by_station[station].onset_time.timestamp() - T0.timestamp
            assert picked == pytest.approx(onset, abs=0.1)
        events = list_events(s)
        assert len(events) == 1
        assert events[0].n_stations == 3
        assert {d.id for d in events[0].detections} == {d.id for d in detections}
        positions = stream_positions(s, server="test:18000")
    for station in ONSETS:
        day_file = tmp_path / sds_path(ChannelKey("TJ", station, "", "HHZ"), T0.timestamp)
        sent = [p.payload for p in packets if p.station_id == f"TJ_{station}"]
        assert day_file.read_bytes() == b"".join(sent)
    last = {p.station_id: p.seqnum for p in packets}
    assert {f"TJ_{sta}": pos.last_seq for (_net, sta), pos in positions.items()} == last


def test_corrupt_and_unknown_records_are_counted_and_skipped(
    factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = _pipeline(factory)
    good = records(quake_trace("SAREZ", 40.0, np.random.default_rng(1)))
    stranger = quake_trace("SAREZ", 40.0, np.random.default_rng(2))
    stranger.stats.network, stranger.stats.station = "XX", "FOO"
    pipeline.handle(Packet("TJ_SAREZ", 1, good[0]))
    pipeline.handle(Packet("TJ_SAREZ", 2, b"\x00garbage" * 64))
    pipeline.handle(Packet("XX_FOO", 9, records(stranger)[0]))
    pipeline.handle(Packet("TJ_SAREZ", 3, good[1]))
    assert pipeline.counts["corrupt"] == 1
    assert pipeline.counts["unknown_stream"] == 1
    assert pipeline.counts["records"] == 2
    assert "TJ.SAREZ seq 2: skipped" in caplog.text
    assert "XX.FOO..HHZ seq 9: stream not in the inventory" in caplog.text
    # A record sent again (a server's resend after a reconnect) is not processed twice.
    pipeline.handle(Packet("TJ_SAREZ", 3, good[1]))
    assert pipeline.counts["repeated"] == 1
    assert pipeline.counts["records"] == 2
    with factory() as s:
        positions = stream_positions(s, server="test:18000")
    assert positions[("TJ", "SAREZ")].last_seq == 3
    assert positions[("XX", "FOO")].last_seq == 9


def test_a_restarted_pipeline_does_not_redo_what_was_stored(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    recs = records(quake_trace("SAREZ", 40.0, np.random.default_rng(4)))
    first = _pipeline(factory, tmp_path)
    for i, rec in enumerate(recs[:5]):
        first.handle(Packet("TJ_SAREZ", i + 1, rec))
    second = _pipeline(factory, tmp_path)  # a new process: state from the database only
    for i, rec in enumerate(recs[3:8], start=3):
        second.handle(Packet("TJ_SAREZ", i + 1, rec))
    assert second.counts["repeated"] == 2
    assert second.counts["records"] == 3
    day_file = tmp_path / sds_path(ChannelKey("TJ", "SAREZ", "", "HHZ"), T0.timestamp)
    assert day_file.read_bytes() == b"".join(recs[:8])


def test_a_station_handed_over_and_back_between_workers_loses_no_record(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Worker A holds SAREZ, its lease passes to worker B, then back to A: the archive holds
    every record once, in order, and A does not take B's records for a repeat or a leftover."""
    recs = records(quake_trace("SAREZ", 40.0, np.random.default_rng(5)))
    a, b = _pipeline(factory, tmp_path), _pipeline(factory, tmp_path)
    for start, end, pipeline in ((0, 4, a), (4, 9, b), (9, 12, a)):
        pipeline.resync()  # what the worker does when the stations it holds change
        pipeline.handle_many([Packet("TJ_SAREZ", i + 1, recs[i]) for i in range(start, end)])
    a.close()
    b.close()
    assert a.counts["records"] == 7
    assert b.counts["records"] == 5
    assert a.counts["repeated"] == b.counts["repeated"] == 0
    day_file = tmp_path / sds_path(ChannelKey("TJ", "SAREZ", "", "HHZ"), T0.timestamp)
    assert day_file.read_bytes() == b"".join(recs[:12])


def test_wrong_rate_and_future_records_are_archived_not_processed(
    factory: sessionmaker[Session], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = _pipeline(factory, tmp_path)  # its clock: 12:01:40, data from 12:00:00
    good = records(quake_trace("SAREZ", 40.0, np.random.default_rng(5)))
    slow = quake_trace("SAREZ", 40.0, np.random.default_rng(6))
    slow.stats.sampling_rate = 50.0
    ahead = quake_trace("SAREZ", 40.0, np.random.default_rng(7))
    ahead.stats.starttime += 3600  # stamped an hour ahead of the clock
    pipeline.handle(Packet("TJ_SAREZ", 1, good[0]))
    pipeline.handle(Packet("TJ_SAREZ", 2, records(slow)[5]))
    pipeline.handle(Packet("TJ_SAREZ", 3, records(ahead)[0]))
    pipeline.handle(Packet("TJ_SAREZ", 4, good[1]))
    assert pipeline.counts["wrong_rate"] == 1
    assert pipeline.counts["future"] == 1
    # The record from the future did not make the next real one look like a repeat.
    assert pipeline.counts["repeated"] == 0
    assert pipeline.counts["records"] == 2
    assert "seq 2: sampling rate 50 Hz, the inventory says 100 Hz" in caplog.text
    assert "seq 3: record ends 3" in caplog.text
    with factory() as s:
        assert stream_positions(s, server="test:18000")[("TJ", "SAREZ")].last_seq == 4
    # Nothing is lost: the refused records are in the archive too.
    archived = sum(p.stat().st_size for p in tmp_path.rglob("*.D.*") if p.is_file())
    assert archived == 4 * 512
