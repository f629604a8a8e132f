"""The worker's pipeline over the drill feed's synthetic quakes in a six-station network: picks
become one located earthquake, stored with its origin versions, arrivals, station and network
magnitudes and ground motion."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from obspy import read_events
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from detection import distance_km
from ingest.config import load_config
from ingest.detect.files import run_detect, station_positions, write_results
from ingest.feed import SyntheticSource
from ingest.feed._mseed import record_info
from ingest.feed.inventory import station_specs
from ingest.seedlink.source import Packet
from ingest.worker.archive import SdsArchive
from ingest.worker.pipeline import Pipeline
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import import_stationxml
from stations.models import Origin
from stations.quakes import event_quakes
from stations.queries import list_detections, list_events
from tests.quakenet import REGION, write_network

T0 = 1_748_779_200.0
SPAN_S = 190.0


@pytest.fixture
def network(tmp_path: Path, table_cache: Path) -> tuple[Path, Path]:
    return write_network(tmp_path, table_cache)


@pytest.fixture
def factory(fresh_database_url: str, network: tuple[Path, Path]) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, network[0])
    yield factory
    engine.dispose()


def test_a_synthetic_quake_becomes_one_located_event_with_a_magnitude(
    factory: sessionmaker[Session], network: tuple[Path, Path], tmp_path: Path
) -> None:
    xml, toml = network
    source = SyntheticSource(
        station_specs(xml),
        seed=11,
        event_interval=10_000.0,
        first_event_after=70.0,
        start=T0,
        region=REGION,
        depth_km=(8.0, 15.0),
    )
    pipeline = Pipeline(
        factory,
        server="test:18000",
        config=load_config(toml),
        archive=SdsArchive(tmp_path / "sds"),
        clock=lambda: datetime.fromtimestamp(T0 + SPAN_S + 5, UTC),
        locate=True,
    )
    seq: dict[str, int] = {}
    t = T0
    while t < T0 + SPAN_S:
        t += 1.0
        packets = []
        for raw in source.records_until(t):
            station = f"TJ_{record_info(raw).station}"
            seq[station] = seq.get(station, 0) + 1
            packets.append(Packet(station, seq[station], raw))
        pipeline.handle_many(packets)
    (truth,) = source.events
    with factory() as s:
        events = list_events(s)
        assert len(events) == 1, [(e.id, e.time, e.n_stations) for e in events]
        event = events[0]
        assert event.status.value == "final"
        assert event.n_stations == 6
        assert event.time.timestamp() == pytest.approx(truth.origin_time, abs=0.5)
        assert event.latitude is not None
        assert event.longitude is not None
        assert event.depth_km is not None
        off = float(distance_km(event.latitude, event.longitude, truth.latitude, truth.longitude))
        assert off < 5.0
        assert event.depth_km == pytest.approx(truth.depth_km, abs=8.0)
        # every update stored a new origin version; the latest holds every phase
        versions = s.scalar(select(func.count()).where(Origin.event_id == event.id))
        assert versions is not None
        assert versions >= 2
        quake = event_quakes(s, event_ids=[event.id])[event.id]
        assert quake.origin is not None
        assert quake.origins == versions
        assert quake.origin.status.value == "free"
        assert quake.origin.quality in "ABCD"
        phases = sorted(a.phase for a in quake.origin.arrivals)
        assert phases.count("P") == 6
        assert phases.count("S") >= 4
        assert all(a.residual is not None and abs(a.residual) < 1.0 for a in quake.origin.arrivals)
        linked = {d.id for d in event.detections}
        assert {a.detection_id for a in quake.origin.arrivals} == linked
        # magnitude and ground motion from the archive, with the inventory's responses
        assert event.magnitude is not None
        assert math.isfinite(event.magnitude)
        assert event.magnitude_stations is not None
        assert event.magnitude_stations >= 4
        assert event.energy_class == pytest.approx(1.8 * event.magnitude + 4.6)
        assert len(quake.magnitudes) == 6
        spread = [m.magnitude for m in quake.magnitudes]
        assert max(spread) - min(spread) < 1.5
        assert len(quake.motions) == 6
        assert all(m.pga_cms2 > 0 and m.pgv_cms > 0 for m in quake.motions)
        assert all(m.channels.startswith("HN") for m in quake.motions)
        # picks no event explains stay stored, in no event
        everything = list_detections(s, limit=1000)
        assert len(everything) >= len(linked)
    assert pipeline.counts["magnitudes"] == 1
    # ``larza detect`` over what the worker archived finds the same located quake
    results = run_detect([tmp_path / "sds"], load_config(toml), positions=station_positions([xml]))
    (found,) = results.events.values()
    assert found.status == "final"
    assert found.origin is not None
    assert found.origin.located
    off = float(
        distance_km(found.origin.latitude, found.origin.longitude, truth.latitude, truth.longitude)
    )
    assert off < 5.0
    out = io.StringIO()
    write_results(results, "quakeml", out)
    (written,) = read_events(io.BytesIO(out.getvalue().encode()))
    assert written.preferred_origin().depth == pytest.approx(found.origin.depth_km * 1000.0)
    assert len(written.preferred_origin().arrivals) == len(found.picks)
