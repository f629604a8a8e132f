"""Ingest throughput: records/s through the worker's stages, and the real-time capacity implied.

Makes a fixed set of synthetic records (noise and earthquakes, Steim-2, 512 bytes) for N
stations with six 100-sps channels each, then measures on one core:

1. decoding alone (pymseed), and ObsPy's ``read()`` on the same records for scale;
2. decoding + the streaming detector per channel;
3. the whole pipeline without the network: decode, detect, associate, archive, store
   (SQLite in a temporary folder, transactions of up to 500 packets);
4. the whole worker path over a real loopback socket: the SeedLink client, the queue and the
   pipeline, reading the feed server (another process, with every record in its ring).

Usage: python bench/ingest.py [--stations 30] [--minutes 10] [--database-url URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# ``ingest`` package: take the folder off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import asyncio
import io
import math
import multiprocessing
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import obspy
from obspy.core.inventory import Channel, Inventory, Network, Site, Station
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from detection import DetectorConfig, StreamingDetector
from ingest.config import LarzaConfig
from ingest.feed import ChannelSpec, SeedLinkServer, StationSpec, SyntheticSource
from ingest.seedlink.decode import decode_record
from ingest.seedlink.source import Packet
from ingest.worker.archive import SdsArchive
from ingest.worker.pipeline import Pipeline
from ingest.worker.process import Readers
from ingest.worker.settings import WorkerSettings
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import import_stationxml
from stations.queries import list_stations, save_stream_states

CODES = ("HHZ", "HHN", "HHE", "HNZ", "HNN", "HNE")
T0 = 1_750_000_000.0


def make_stations(n: int) -> list[StationSpec]:
    specs = []
    for i in range(n):
        lat, lon = 37.0 + 2.0 * (i % 7) / 7, 71.0 + 3.5 * (i // 7 % 7) / 7
        channels = tuple(ChannelSpec(location="", channel=c, sampling_rate=100.0) for c in CODES)
        specs.append(StationSpec("XX", f"S{i:03d}", lat, lon, 2000.0, channels))
    return specs


def write_inventory(specs: list[StationSpec], path: Path) -> None:
    net = Network("XX")
    for s in specs:
        sta = Station(s.station, s.latitude, s.longitude, s.elevation, site=Site(name=s.station))
        for c in s.channels:
            sta.channels.append(
                Channel(
                    c.channel,
                    c.location,
                    s.latitude,
                    s.longitude,
                    s.elevation,
                    0.0,
                    sample_rate=c.sampling_rate,
                )
            )
        net.stations.append(sta)
    Inventory([net], source="Larza bench").write(str(path), format="STATIONXML")


def make_packets(specs: list[StationSpec], minutes: float) -> list[Packet]:
    source = SyntheticSource(specs, seed=3, event_interval=60.0, first_event_after=30.0, start=T0)
    records: list[bytes] = []
    t = T0
    while t < T0 + minutes * 60:
        t += 5.0
        records += source.records_until(t)
    seq: dict[str, int] = {}
    packets = []
    for raw in records:
        sta = raw[8:13].decode().strip()
        seq[sta] = seq.get(sta, 0) + 1
        packets.append(Packet(f"XX_{sta}", seq[sta], raw))
    return packets


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f} records/s  ({seconds / n * 1e6:7.1f} µs/record)"


def bench_decode(packets: list[Packet]) -> float:
    t = time.perf_counter()
    for p in packets:
        decode_record(p.payload)
    return time.perf_counter() - t


def bench_obspy(packets: list[Packet], limit: int = 1000) -> float:
    sample = packets[:limit]
    t = time.perf_counter()
    for p in sample:
        obspy.read(io.BytesIO(p.payload), format="MSEED")
    return (time.perf_counter() - t) * len(packets) / len(sample)


def bench_detect(packets: list[Packet]) -> float:
    detectors: dict[object, StreamingDetector] = {}
    config = DetectorConfig()
    t = time.perf_counter()
    for p in packets:
        r = decode_record(p.payload)
        det = detectors.get(r.key)
        if det is None:
            det = detectors[r.key] = StreamingDetector(config, sampling_rate=r.sampling_rate)
        det.feed(r.data, r.starttime)
    return time.perf_counter() - t


def fresh_factory(
    url: str | None, folder: Path, inventory: Path
) -> tuple[Engine, sessionmaker[Session]]:
    folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url or f"sqlite:///{folder / 'bench.sqlite'}")
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, inventory)
    return engine, factory


def pipeline_for(
    factory: sessionmaker[Session], archive: Path | None, server: str, health: bool = True
) -> Pipeline:
    return Pipeline(
        factory,
        server=server,
        archive=SdsArchive(archive) if archive else None,
        health=health,
    )


def bench_pipeline(
    packets: list[Packet],
    factory: sessionmaker[Session],
    archive: Path,
    batch: int = 500,
    health: bool = True,
) -> tuple[float, Pipeline]:
    pipeline = pipeline_for(factory, archive, "bench:0", health)
    monitor = pipeline.monitor
    if monitor is not None:
        # Time spent in the health monitor, measured inside the same run: robust to the
        # machine's speed drifting between runs, which a with/without difference is not.
        add = monitor.add

        def timed(*args: Any, **kwargs: Any) -> None:
            t = time.perf_counter()
            add(*args, **kwargs)
            HEALTH_SECONDS[0] += time.perf_counter() - t

        monitor.add = timed  # type: ignore[method-assign]
    HEALTH_SECONDS[0] = 0.0
    t = time.perf_counter()
    for i in range(0, len(packets), batch):
        pipeline.handle_many(packets[i : i + batch])
    return time.perf_counter() - t, pipeline


HEALTH_SECONDS = [0.0]


def bench_evaluate(pipeline: Pipeline, factory: sessionmaker[Session], rounds: int = 20) -> float:
    """Seconds per health evaluation of every station (states, snapshots, changes stored)."""
    assert pipeline.monitor is not None
    with factory() as s:
        stations = {(st.network.code, st.code) for st in list_stations(s)}
    now = datetime.fromtimestamp(T0, UTC)
    t = time.perf_counter()
    for i in range(rounds):
        with factory() as s, s.begin():
            pipeline.monitor.evaluate(
                s, now=now + timedelta(seconds=600 + 10 * i), stations=stations
            )
    return (time.perf_counter() - t) / rounds


def _serve(payloads: list[bytes], stations: list[tuple[str, str]], ready: Connection) -> None:
    """The feed server in a process of its own, as in production: the records in its ring."""

    async def run() -> None:
        server = SeedLinkServer(
            host="127.0.0.1",
            port=0,
            ring_size=len(payloads) + 10,
            organization="bench",
            stations=[(net, sta, "") for net, sta in stations],
        )
        await server.start()
        for payload in payloads:
            server.publish(payload)
        ready.send(server.port)
        await asyncio.Event().wait()  # until terminated

    asyncio.run(run())


def bench_network(
    packets: list[Packet], specs: list[StationSpec], factory: sessionmaker[Session], archive: Path
) -> float:
    """The worker's path over a real socket: its readers (one thread per server, the bounded
    packet queue) and its batches, as ``run_worker`` takes them. The server runs in another
    process (another core), so the figure is the worker's alone."""
    ours, theirs = multiprocessing.Pipe()
    stations = [(s.network, s.station) for s in specs]
    feed = multiprocessing.Process(
        target=_serve, args=([p.payload for p in packets], stations, theirs), daemon=True
    )
    feed.start()
    port = ours.recv()
    address = f"127.0.0.1:{port}"
    settings = WorkerSettings(
        seedlink=address,
        selectors="HH? HN?",
        keepalive_s=30,
        idle_timeout_s=60,
        reconnect_delay_s=1,
        queue_size=20_000,
        batch_max_packets=500,
    )
    pipeline = pipeline_for(factory, archive, address)
    # Stored positions at sequence 0, so the whole ring is sent as fast as the worker reads.
    with factory() as s, s.begin():
        before = datetime.fromtimestamp(T0 - 60, UTC)
        start = dict.fromkeys(stations, (0, before))
        save_stream_states(s, server=address, positions=start, now=before)

    t = time.perf_counter()
    readers = Readers(settings, set(stations), factory, LarzaConfig())
    done = 0
    last = time.monotonic()
    while done < len(packets) and time.monotonic() - last < 10:
        batch = readers.queue.take(settings.batch_max_packets, settings.batch_max_wait_s)
        if batch:
            pipeline.handle_many(batch)
            done += len(batch)
            last = time.monotonic()
    elapsed = time.perf_counter() - t
    readers.stop()
    stopping = time.monotonic()
    while readers.is_alive() and time.monotonic() - stopping < 5:
        time.sleep(0.05)  # a silent connection: the reader stops at its next poll
    feed.terminate()
    feed.join()
    pipeline.close()
    if done < len(packets):
        raise SystemExit(f"network run received only {done} of {len(packets)} packets")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    specs = make_stations(args.stations)
    packets = make_packets(specs, args.minutes)
    n = len(packets)
    samples = statistics.mean(len(decode_record(p.payload).data) for p in packets[:2000])
    print(
        f"{n:,} records, {len(specs) * 6} channels at 100 sps, {args.minutes:g} min, "
        f"{samples:.0f} samples per record on average\n"
    )

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inventory = folder / "inventory.xml"
        write_inventory(specs, inventory)

        t_decode = bench_decode(packets)
        t_obspy = bench_obspy(packets)
        t_detect = bench_detect(packets)
        engine, factory = fresh_factory(args.database_url, folder, inventory)
        t_store, pipe = bench_pipeline(packets, factory, folder / "archive-1")
        t_health, t_health_run = HEALTH_SECONDS[0], t_store
        t_eval = bench_evaluate(pipe, factory)
        engine.dispose()
        # With and without health, alternated, best of two each: the difference is small
        # next to the run-to-run noise of one run.
        t_bare = math.inf
        for i in range(2):
            engine, factory = fresh_factory(None, folder / f"bare{i}", inventory)
            t_bare = min(
                t_bare, bench_pipeline(packets, factory, folder / f"a{i}", health=False)[0]
            )
            engine.dispose()
            if i == 0:
                engine, factory = fresh_factory(None, folder / "again", inventory)
                t_store = min(t_store, bench_pipeline(packets, factory, folder / "b")[0])
                engine.dispose()
        engine, factory = (
            fresh_factory(args.database_url, folder / "net", inventory)
            if args.database_url is None
            else fresh_factory(None, folder, inventory)
        )
        t_net = bench_network(packets, specs, factory, folder / "archive-2")
        engine.dispose()

    def capacity(seconds: float) -> str:
        return f"{n * samples / seconds / 100:>9,.0f} channels at 100 sps per core"

    print(f"ObsPy read() alone          {rate(n, t_obspy)}")
    speedup = t_obspy / t_decode
    print(f"decode (pymseed)            {rate(n, t_decode)}   {speedup:5.1f}x faster than ObsPy")
    print(f"decode + detect             {rate(n, t_detect)}")
    print(f"pipeline without health    {rate(n, t_bare)}   {capacity(t_bare)}")
    print(f"whole pipeline, no network  {rate(n, t_store)}   {capacity(t_store)}")
    print(f"whole worker over SeedLink  {rate(n, t_net)}   {capacity(t_net)}")
    print("  (the server in a process of its own, on loopback)")
    print()
    print("share of the pipeline's time (no network):")
    print(f"  decoding   {100 * t_decode / t_store:5.1f} %")
    print(f"  detecting  {100 * (t_detect - t_decode) / t_store:5.1f} %")
    storing = 100 * (t_store - t_detect) / t_store
    print(f"  storing    {storing:5.1f} %  (archive, association, database)")
    print()
    print(
        f"health per record, timed inside the run: {t_health / n * 1e6:.1f} µs/record = "
        f"{100 * t_health / (t_health_run - t_health):.1f} % of the rest of the pipeline's cost"
    )
    print(f"health per record, with/without runs: +{100 * (t_store - t_bare) / t_bare:.1f} %")
    channels = len(specs) * 6
    print(
        f"health evaluation of {channels} channels (states, snapshots stored): "
        f"{t_eval * 1e3:.1f} ms, every 10 s: {100 * t_eval / 10:.2f} % of one core"
    )
    print(f"\npipeline counts: {dict(pipe.counts)}")


if __name__ == "__main__":
    main()
