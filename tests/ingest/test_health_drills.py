"""Station health drills: the drill feed injects a fault, the worker's pipeline and health
monitor run on a simulated clock, and the station's state, with its reason, must turn within
the configured time and turn back after the fault ends."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ingest.config import LarzaConfig, parse_config
from ingest.feed import (
    Clipping,
    DeadChannel,
    Fault,
    Gap,
    GpsUnlock,
    SilentStation,
    SyntheticSource,
    centaur_soh,
    default_stations,
)
from ingest.seedlink.source import Packet
from ingest.worker.pipeline import Pipeline
from ingest.worker.process import _soh_channels
from stations.db import make_engine, make_session_factory, migrate
from stations.health import channel_healths, health_history, list_state_changes, station_states
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import HealthState, Station
from stations.queries import ChannelKey, channel_index, ensure_channels, get_station

T0 = 1_750_000_000.0
CONFIG = parse_config(
    {
        "health": {
            "window_s": 60.0,
            "state_interval_s": 5.0,
            "interval_s": 30.0,
            "latency_degraded_s": 15.0,
            "latency_down_s": 30.0,
            "noise_interval_s": 60.0,
            "noise_segment_s": 30.0,
        }
    }
)


@dataclass(frozen=True)
class Seen:
    t: float  # seconds after T0
    state: HealthState
    reason: str


@pytest.fixture
def factory(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    yield factory
    engine.dispose()


def drill(
    factory: sessionmaker[Session],
    faults: Sequence[Fault],
    duration: float,
    config: LarzaConfig = CONFIG,
    station: str = "SAREZ",
    soh: bool = False,
    rows: list[tuple[float, datetime, HealthState, str]] | None = None,
) -> list[Seen]:
    """Run one station through the pipeline for ``duration`` simulated seconds; its states."""
    spec = next(s for s in default_stations() if s.station == station)
    if soh:
        spec = replace(spec, soh=centaur_soh())
        with factory() as s, s.begin():
            ensure_channels(s, wanted=_soh_channels(config, [("TJ", station)]))
    source = SyntheticSource([spec], seed=7, first_event_after=1e6, start=T0, faults=faults)
    clock = [T0]
    pipeline = Pipeline(
        factory,
        server="drill:18000",
        config=config,
        clock=lambda: datetime.fromtimestamp(clock[0], UTC),
    )
    assert pipeline.monitor is not None
    seen: list[Seen] = []
    seq = 0
    t = T0
    while t < T0 + duration:
        t += 1.0
        clock[0] = t
        packets = []
        for raw in source.records_until(t):
            seq += 1
            packets.append(Packet(f"TJ_{station}", seq, raw))
        if packets:
            pipeline.handle_many(packets)
        if round(t - T0) % round(config.health.state_interval_s) == 0:
            now = datetime.fromtimestamp(t, UTC)
            with factory() as s, s.begin():
                pipeline.monitor.evaluate(s, now=now, stations=[("TJ", station)])
                st = get_station(s, network="TJ", station=station)
                health = station_states(s)[st.id]
                seen.append(Seen(t - T0, health.state, health.reason))
                if rows is not None:  # the stored health of the station's HHZ
                    hhz = channel_index(s)[ChannelKey("TJ", station, "", "HHZ")].id
                    row = channel_healths(s, channel_ids=[hhz])[hhz]
                    rows.append((t - T0, row.evaluated_at, row.state, row.reason))
    return seen


def first(seen: list[Seen], after: float, state: HealthState) -> Seen:
    return next(s for s in seen if s.t >= after and s.state is state)


def test_a_healthy_station_is_ok(factory: sessionmaker[Session]) -> None:
    seen = drill(factory, [], 90.0)
    assert seen[0].state is HealthState.OK
    assert {s.state for s in seen} == {HealthState.OK}, [s for s in seen if s.reason]


def test_silent_station_turns_down_on_time_and_recovers(factory: sessionmaker[Session]) -> None:
    seen = drill(factory, [SilentStation(station="SAREZ", start=60.0, end=150.0)], 220.0)
    assert all(s.state is HealthState.OK for s in seen if s.t < 60)
    down = first(seen, 60.0, HealthState.DOWN)
    # Latency 30 s is DOWN; data last arrived up to ~4 s before the silence; states each 5 s.
    assert down.t <= 60 + 30 + 5
    assert "HHZ" in down.reason
    assert "no data for" in down.reason
    # Between DEGRADED (late) and DOWN, the reason said it was late.
    late = first(seen, 60.0, HealthState.DEGRADED)
    assert "late" in late.reason
    assert late.t < down.t
    # Data again: no longer DOWN at once, but the outage is a gap in the window (60 s) until
    # it has slid past it.
    back = next(s for s in seen if s.t >= 150 and s.state is not HealthState.DOWN)
    assert back.t <= 150 + 10
    assert back.state is HealthState.DEGRADED
    assert "availability" in back.reason
    assert first(seen, 150.0, HealthState.OK).t <= 150 + 60 + 10


def test_gap_lowers_availability(factory: sessionmaker[Session]) -> None:
    seen = drill(factory, [Gap(station="SAREZ", channel="HHZ", start=60.0, end=70.0)], 150.0)
    hit = first(seen, 60.0, HealthState.DEGRADED)
    assert hit.t <= 80
    assert hit.reason.startswith("HHZ: availability")
    assert "largest gap 10 s" in hit.reason
    # The window is 60 s: the gap leaves it by 130 s.
    assert first(seen, 70.0, HealthState.OK).t <= 70 + 60 + 10


def test_dead_channel_is_named(factory: sessionmaker[Session]) -> None:
    seen = drill(
        factory, [DeadChannel(station="SAREZ", channel="HHE", start=30.0, end=200.0)], 150.0
    )
    hit = first(seen, 30.0, HealthState.DEGRADED)
    assert "HHE: flat line (dead channel)" in hit.reason
    assert hit.t <= 30 + 60 + 10  # flat over the whole window
    assert seen[-1].state is HealthState.DEGRADED


def test_clipping_is_reported_with_its_share(factory: sessionmaker[Session]) -> None:
    seen = drill(factory, [Clipping(station="SAREZ", channel="HNZ", start=30.0, end=60.0)], 160.0)
    hit = first(seen, 30.0, HealthState.DEGRADED)
    assert hit.t <= 40
    assert "HNZ: clipping" in hit.reason
    assert first(seen, 60.0, HealthState.OK).t <= 60 + 60 + 10


def test_lost_gps_lock(factory: sessionmaker[Session]) -> None:
    seen = drill(factory, [GpsUnlock(station="SAREZ", start=30.0, end=60.0)], 140.0)
    hit = first(seen, 30.0, HealthState.DEGRADED)
    assert hit.t <= 40
    assert "clock not locked (GPS)" in hit.reason
    assert "timing quality 10 %" in hit.reason
    assert first(seen, 60.0, HealthState.OK).t <= 60 + 60 + 10


def test_state_changes_and_history_are_stored(factory: sessionmaker[Session]) -> None:
    drill(factory, [SilentStation(station="SAREZ", start=40.0, end=100.0)], 200.0)
    with factory() as s:
        station = s.query(Station).filter_by(code="SAREZ").one()
        changes = list_state_changes(s, station_ids=[station.id])
        path = [(c.from_state, c.to_state) for c in changes]
        assert path == [
            (HealthState.UNKNOWN, HealthState.OK),
            (HealthState.OK, HealthState.DEGRADED),
            (HealthState.DEGRADED, HealthState.DOWN),
            (HealthState.DOWN, HealthState.DEGRADED),  # back, with the outage in the window
            (HealthState.DEGRADED, HealthState.OK),
        ]
        assert "no data for" in changes[2].reason
        hhz = next(c for k, c in channel_index(s).items() if str(k) == "TJ.SAREZ..HHZ")
        history = health_history(s, channel_id=hhz.id)
        # A snapshot every 30 s from the first evaluation: 5 s, 35 s, ... 185 s.
        assert len(history) == 7
        assert history[0].metrics["state"] == "OK"
        assert any(h.metrics["state"] == "DOWN" for h in history)
        assert history[-1].metrics["availability_pct"] is not None


def test_noise_is_measured_against_the_models(factory: sessionmaker[Session]) -> None:
    drill(factory, [], 70.0)
    with factory() as s:
        channels = {str(k): c.id for k, c in channel_index(s).items()}
        healths = channel_healths(s, channel_ids=channels.values())
        hhz = healths[channels["TJ.SAREZ..HHZ"]].metrics
        # The synthetic noise is hundreds of counts on a ~1e9 counts/(m/s) seismometer: far
        # above the NLNM, and measured once its 30 s segment was complete.
        assert hhz["noise_db_above_nlnm"] is not None
        assert hhz["noise_db_above_nlnm"] > 20
        assert 0 <= hhz["noise_pct_above_nhnm"] <= 100


SOH_CONFIG = parse_config(
    {
        "health": dict(CONFIG.health.model_dump(), noise_band_hz=[1.0, 5.0]),
        "soh": {
            "TJ.SAREZ": {
                "VEI": {"name": "supply voltage", "unit": "V", "scale": 0.001, "min": 11.0},
                "GST": {"name": "GPS status", "min": 2},
                "VKI": {"name": "temperature", "unit": "°C", "scale": 0.001},
            }
        },
    }
)


def test_soh_values_are_shown_and_checked(factory: sessionmaker[Session]) -> None:
    seen = drill(
        factory, [GpsUnlock(station="SAREZ", start=40.0, end=70.0)], 150.0, SOH_CONFIG, soh=True
    )
    assert all(s.state is HealthState.OK for s in seen if s.t < 40), seen[:8]
    hit = first(seen, 40.0, HealthState.DEGRADED)
    assert "GST: GPS status 1 (below 2)" in hit.reason
    with factory() as s:
        channels = {str(k): c for k, c in channel_index(s).items()}
        assert channels["TJ.SAREZ..VEI"].kind.value == "soh"
        assert "TJ.SAREZ..VM1" not in channels  # not configured: archived, not watched
        healths = channel_healths(s, channel_ids=[c.id for c in channels.values()])
        vei = healths[channels["TJ.SAREZ..VEI"].id].metrics
        assert vei["name"] == "supply voltage"
        assert vei["unit"] == "V"
        assert 11.0 < vei["value"] < 14.0  # about 12.6 V
    assert first(seen, 70.0, HealthState.OK).t <= 70 + 60 + 10


def test_a_late_channel_is_not_rewritten_at_every_evaluation(
    factory: sessionmaker[Session],
) -> None:
    # silent from 60 s: late (DEGRADED) then DOWN, its reason's number growing at every
    # evaluation (each 5 s); the stored row is written when the state or the kind of reason
    # changes, else once per interval (30 s)
    rows: list[tuple[float, datetime, HealthState, str]] = []
    drill(factory, [SilentStation(station="SAREZ", start=60.0, end=400.0)], 200.0, rows=rows)
    silent = [r for r in rows if r[0] >= 70]
    assert {r[2] for r in silent} >= {HealthState.DEGRADED, HealthState.DOWN}
    writes = [b for a, b in itertools.pairwise(silent) if b[1] != a[1]]
    assert len({r[3] for r in silent}) > len(writes)  # the reason changed more often
    for a, b in itertools.pairwise(writes):
        if a[2] is b[2]:
            assert (b[1] - a[1]).total_seconds() >= CONFIG.health.interval_s
