"""Early warning in the worker: a synthetic M 5.5 at 100 km depth under the three Pamir
stations, fed record by record, raises a network alert from the picks at trigger-on, with a
magnitude from on-site Pd and tau_c, the forecast at a target site, stored and logged for the
SSE stream and webhooks; one station's glitch raises nothing and is said why."""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from obspy import Stream, Trace, UTCDateTime, read
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from detection import TravelTimeTable, distance_km
from ingest.alerts.config import AlertsTable, SiteEntry
from ingest.config import LarzaConfig
from ingest.seedlink.source import Packet
from ingest.worker.pipeline import Pipeline
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import AlertVersion, Change, ChangeKind

STATIONS = {"SAREZ": (38.27, 72.60), "MURGH": (38.17, 73.96), "MANEM": (37.49, 71.55)}
GAIN = 299999999.27771586  # the default inventory's seismometers, counts per m/s
FS = 100.0
T0 = UTCDateTime(2026, 12, 2, 22, 0, 0)
QUAKE = (38.0, 72.7, 100.0, 5.5)  # latitude, longitude, depth km (the fixed depth), M
ORIGIN_S = 60.0  # seconds into the records


@pytest.fixture
def factory(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    yield factory
    engine.dispose()


def config(table_cache: Path) -> LarzaConfig:
    base = LarzaConfig()
    alerts = AlertsTable(
        enabled=True,
        min_stations=3,
        sites=(SiteEntry(name="Usoi dam", latitude=38.27, longitude=72.61, threshold=3.0),),
    )
    velocity = base.velocity_model.model_copy(update={"cache_dir": str(table_cache)})
    return dataclasses.replace(base, alerts=alerts, velocity_model=velocity)


def vertical(
    station: str, table: TravelTimeTable, rng: np.random.Generator, seconds: float = 150.0
) -> Trace:
    """Noise, and a P wave whose tau_c and Pd are those of QUAKE by Wu & Kanamori (2005) and
    Wu & Zhao (2006), in velocity counts."""
    lat, lon, depth, m = QUAKE
    epi = float(distance_km(lat, lon, *STATIONS[station]))
    p = ORIGIN_S + float(table.time(False, epi, depth))
    hypo = math.hypot(epi, depth)
    tau_c = 10 ** (0.296 * m - 1.716)
    pd = 10 ** (-3.463 + 0.729 * m - 1.374 * math.log10(hypo)) / 100
    t = np.arange(round(seconds * FS)) / FS
    rel = np.clip(t - p, 0, None)
    ramp = np.sin(np.pi / 2 * np.clip(rel / 0.3, 0, 1)) ** 2
    u = pd * ramp * np.exp(-np.clip(rel - 4.0, 0, None) / 3.0) * np.sin(2 * np.pi * rel / tau_c)
    counts = np.gradient(u, 1 / FS) * GAIN + rng.normal(0, 200, t.size)
    header = {"network": "TJ", "station": station, "channel": "HHZ", "sampling_rate": FS}
    return Trace(np.round(counts).astype(np.int32), header={**header, "starttime": T0})


def packets(traces: list[Trace]) -> list[Packet]:
    out = []
    for trace in traces:
        buf = io.BytesIO()
        Stream([trace]).write(buf, format="MSEED", reclen=512, encoding="STEIM2")
        raw = buf.getvalue()
        recs = [raw[i : i + 512] for i in range(0, len(raw), 512)]
        st = Stream([tr for r in recs for tr in read(io.BytesIO(r))])
        for n, (r, tr) in enumerate(zip(recs, st, strict=True)):
            out.append((tr.stats.endtime.timestamp, Packet(f"TJ_{trace.stats.station}", n + 1, r)))
    return [p for _, p in sorted(out, key=lambda x: x[0])]


def run(factory: sessionmaker[Session], cfg: LarzaConfig, traces: list[Trace]) -> Pipeline:
    pipeline = Pipeline(
        factory,
        server="test:18000",
        config=cfg,
        clock=lambda: datetime(2026, 12, 2, 22, 3, 0, tzinfo=UTC),
    )
    for packet in packets(traces):
        pipeline.handle(packet)
    return pipeline


def test_a_quake_under_the_network_raises_one_alert_and_ends_it(
    factory: sessionmaker[Session], pamir_table: TravelTimeTable, table_cache: Path
) -> None:
    rng = np.random.default_rng(5)
    traces = [vertical(s, pamir_table, rng) for s in STATIONS]
    pipeline = run(factory, config(table_cache), traces)
    with factory() as s:
        versions = s.scalars(select(AlertVersion).order_by(AlertVersion.id)).all()
        logged = [c.ref_id for c in s.scalars(select(Change)) if c.kind == ChangeKind.ALERT]
    assert versions, dict(pipeline.counts)
    assert {v.alert_id for v in versions} == {versions[0].alert_id}  # one quake, one alert
    assert versions[0].action == "created"
    assert versions[-1].action == "ended"
    assert logged == [v.id for v in versions]
    first = versions[0]
    assert first.latitude is not None
    assert first.longitude is not None
    assert float(distance_km(first.latitude, first.longitude, QUAKE[0], QUAKE[1])) < 15.0
    assert first.magnitude == pytest.approx(QUAKE[3], abs=0.5)
    site = first.content["sites"][0]
    assert site["name"] == "Usoi dam"
    assert site["warning_s"] > 0  # sent before the S reached the dam
    assert pipeline.warning is not None
    assert pipeline.warning.suppressed["too_few_stations"] >= 1  # before the third P
    assert set(first.content["latency_s"]) == {"detect", "warn", "store"}  # for /metrics


def test_one_station_alone_raises_nothing_and_says_why(
    factory: sessionmaker[Session], pamir_table: TravelTimeTable, table_cache: Path
) -> None:
    rng = np.random.default_rng(6)
    quiet = [vertical(s, pamir_table, rng) for s in ("MURGH", "MANEM")]
    for trace in quiet:
        trace.data = np.round(rng.normal(0, 200, trace.data.size)).astype(np.int32)
    glitch = vertical("SAREZ", pamir_table, rng)  # a P-like burst at one station only
    pipeline = run(factory, config(table_cache), [glitch, *quiet])
    with factory() as s:
        assert s.scalars(select(AlertVersion)).all() == []
    assert pipeline.warning is not None
    assert pipeline.warning.suppressed["too_few_stations"] >= 1


def test_a_restart_mid_alert_neither_loses_nor_repeats_a_message(
    factory: sessionmaker[Session], pamir_table: TravelTimeTable, table_cache: Path
) -> None:
    rng = np.random.default_rng(5)
    feed = packets([vertical(s, pamir_table, rng) for s in STATIONS])
    cfg = config(table_cache)

    def pipeline() -> Pipeline:
        return Pipeline(
            factory,
            server="test:18000",
            config=cfg,
            clock=lambda: datetime(2026, 12, 2, 22, 3, 0, tzinfo=UTC),
        )

    worker = pipeline()
    restarted = False
    for packet in feed:
        if not restarted and worker.counts["alerts_created"]:
            worker.close()
            worker = pipeline()  # a restart while the alert is out
            restarted = True
        worker.handle(packet)
    assert restarted
    with factory() as s:
        versions = s.scalars(select(AlertVersion).order_by(AlertVersion.id)).all()
        logged = [c.ref_id for c in s.scalars(select(Change)) if c.kind == ChangeKind.ALERT]
    assert [(v.alert_id, v.version, v.action) for v in versions] == [
        (versions[0].alert_id, 1, "created"),
        (versions[0].alert_id, 2, "ended"),
    ]
    assert logged == [v.id for v in versions]
