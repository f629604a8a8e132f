"""The worker's pipeline over the drill feed's quakes in a six-station network: events found,
located and measured, and what measuring magnitude and ground motion costs (prints).

Run: ``.venv/bin/python bench/quake_worker.py [--seconds 900] [--interval 60]``.

The network is the tests' (``tests/quakenet.py``: the shipped SAREZ channels and responses at
six Pamir sites, a ``larza.toml`` whose velocity model is the feed's 6.0 / 3.5 km/s); the feed
makes a quake every ``--interval`` seconds inside the network, 8-15 km deep. Records go to a
real pipeline (SQLite, an SDS archive) a second of data at a time, as the worker's batches.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path; Larza's packages must win.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime

from detection import distance_km
from ingest.config import load_config
from ingest.feed import SyntheticSource
from ingest.feed._mseed import record_info
from ingest.feed.inventory import station_specs
from ingest.seedlink.source import Packet
from ingest.worker.archive import SdsArchive
from ingest.worker.pipeline import Pipeline
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import import_stationxml
from stations.queries import list_events
from tests.quakenet import REGION, write_network

T0 = 1_748_779_200.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=900.0)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="larza-bench-"))
    xml, toml = write_network(folder, folder / "traveltimes")
    engine = make_engine(f"sqlite:///{folder}/larza.sqlite")
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, xml)
    source = SyntheticSource(
        station_specs(xml),
        seed=args.seed,
        event_interval=args.interval,
        first_event_after=70.0,
        start=T0,
        region=REGION,
        depth_km=(8.0, 15.0),
    )
    began = time.perf_counter()
    pipeline = Pipeline(
        factory,
        server="bench",
        config=load_config(toml),
        archive=SdsArchive(folder / "sds"),
        clock=lambda: datetime.fromtimestamp(T0 + args.seconds + 60, UTC),
        locate=True,
    )
    print(f"pipeline built (travel-time table included): {time.perf_counter() - began:.1f} s")
    seq: dict[str, int] = {}
    busy = 0.0
    t = T0
    while t < T0 + args.seconds:
        t += 1.0
        packets = []
        for raw in source.records_until(t):
            station = f"TJ_{record_info(raw).station}"
            seq[station] = seq.get(station, 0) + 1
            packets.append(Packet(station, seq[station], raw))
        start = time.perf_counter()
        pipeline.handle_many(packets)
        busy += time.perf_counter() - start
    measurer = pipeline._measurer
    assert measurer is not None
    with factory() as s:
        events = [e for e in list_events(s, limit=10_000) if e.status.value == "final"]
    truth = [q for q in source.events if q.origin_time < T0 + args.seconds - 90]
    errors = []
    for quake in truth:
        near = [e for e in events if abs(e.time.timestamp() - quake.origin_time) < 2.0]
        if near and near[0].latitude is not None and near[0].longitude is not None:
            lat, lon = near[0].latitude, near[0].longitude
            errors.append(float(distance_km(lat, lon, quake.latitude, quake.longitude)))
    measured = pipeline.counts["magnitudes"]
    print(f"{args.seconds:.0f} s of 6 stations x 6 channels at 100 sps: pipeline {busy:.1f} s")
    print(f"quakes {len(truth)} (origin > 90 s before the end), final events {len(events)}")
    if errors:
        print(f"epicentre error median {statistics.median(errors):.2f} km, max {max(errors):.2f}")
    print(
        f"magnitude and ground motion: {measured} events, {measurer.seconds:.2f} s in all, "
        f"{1000 * measurer.seconds / max(measured, 1):.0f} ms an event "
        f"({1000 * measurer.seconds / max(measured, 1) / 6:.0f} ms a station)"
    )


if __name__ == "__main__":
    main()
