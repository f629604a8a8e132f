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

``--live``: instead, a live run over SeedLink in real time, as an operator runs Larza: a
``larza feed`` process (synthetic data for N stations x 6 channels at 100 sps, a quake a
minute) and a ``larza worker`` process with all its periodic work (health every 10 s,
snapshots, leases, inventory refresh), each pinned to a core of its own. Every 5 s it reads
the data latency of every channel from the database and the worker's CPU time and RSS, and
prints the lag over time, the data latency p50/p99, the worker's CPU share and RSS.
``--mode realistic`` (a quake a minute seen by the ~20 stations within ``--reach-km``) or
``heavy`` (every quake at every station).

Usage: python bench/ingest.py --live --stations 1700 [--minutes 10] [--mode realistic]
       [--record-seconds 4] [--database-url URL] [--sse]

``--steady``: the live run's stations and quakes (realistic mode) fed to the worker's pipeline
in one process as fast as it takes them, health evaluated every 10 s of data: the CPU per
second of data and the RSS, free of sockets, the clock and the machine's other work (the
synthetic source's own state is in the RSS too). For comparing two commits.

Usage: python bench/ingest.py --steady --stations 1700 [--minutes 5]

``--sse``: also runs ``larza api`` and reads the detections on its SSE stream: each pick's
first message (preliminary, at trigger-on) minus its onset time, p50/p99. With
``--stations 6 --record-seconds 1`` that is the demo feed as early-warning telemetry sends it.
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
import json
import logging
import math
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import obspy
from obspy.core.inventory import Channel, Inventory, Network, Site, Station
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from detection import DetectorConfig, StreamingDetector
from ingest.config import LarzaConfig
from ingest.feed import ChannelSpec, SeedLinkServer, StationSpec, SyntheticSource
from ingest.longlived import LongLived
from ingest.seedlink.decode import decode_record
from ingest.seedlink.source import Packet
from ingest.worker.archive import SdsArchive
from ingest.worker.pipeline import Pipeline
from ingest.worker.process import Readers
from ingest.worker.settings import WorkerSettings
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import import_stationxml
from stations.models import ChannelStatus
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


def live_stations(n: int) -> list[StationSpec]:
    """N stations on a square grid about 40 km apart (the size of a national network's
    spacing), so a quake within ~120 km reaches about 20 of them."""
    side = math.ceil(math.sqrt(n))
    channels = tuple(ChannelSpec(location="", channel=c, sampling_rate=100.0) for c in CODES)
    return [
        StationSpec(
            "XX", f"S{i:04d}", 30.0 + 0.36 * (i // side), 60.0 + 0.45 * (i % side), 2000.0, channels
        )
        for i in range(n)
    ]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() else []


def live(args: argparse.Namespace) -> None:
    specs = live_stations(args.stations)
    channels = len(specs) * len(CODES)
    reach = args.reach_km if args.mode == "realistic" else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inventory = folder / "inventory.xml"
        write_inventory(specs, inventory)
        url = args.database_url or f"sqlite:///{folder / 'live.sqlite'}"
        engine, factory = fresh_factory(url, folder, inventory)
        port = _free_port()
        env = {
            **os.environ,
            "LARZA_DATABASE_URL": url,
            "LARZA_ARCHIVE_DIR": str(folder / "archive"),
            "LARZA_SEEDLINK": f"127.0.0.1:{port}",
            "LARZA_NEW_STATION_START": "now",
        }
        feed_cmd = [
            *_pinned(0), sys.executable, "-m", "ingest", "feed", "--inventory", str(inventory),
            "--port", str(port), "--seed", "3", "--event-interval", "60",
            "--first-event-after", "20", "--record-seconds", str(args.record_seconds),
            "--ring-size", str(max(100_000, channels * 40)),
        ]  # fmt: skip
        if reach is not None:
            feed_cmd += ["--reach-km", str(reach)]
        # the quakes travel by the worker's velocity model (its defaults: an empty larza.toml)
        (folder / "larza.toml").write_text("")
        feed_cmd += ["--config", str(folder / "larza.toml")]
        logs = folder / "feed.log", folder / "worker.log"
        with logs[0].open("wb") as out:
            feed = subprocess.Popen(feed_cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        time.sleep(3.0)
        with logs[1].open("wb") as out:
            worker = subprocess.Popen(
                [*_pinned(1), sys.executable, "-m", "ingest", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        api: subprocess.Popen[bytes] | None = None
        onsets: dict[int, tuple[float, str]] = {}  # pick id -> (received - onset, phase)
        stop_sse = threading.Event()
        if args.sse:
            api_port = _free_port()
            with (folder / "api.log").open("wb") as out:
                api = subprocess.Popen(
                    [sys.executable, "-m", "ingest", "api", "--port", str(api_port)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            _wait_up(api_port)
            threading.Thread(
                target=_sse_onsets, args=(api_port, onsets, stop_sse), daemon=True
            ).start()
        quakes = f"a quake a minute within {reach:g} km" if reach else "a quake a minute everywhere"
        database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(
            f"live: {len(specs)} stations, {channels} channels at 100 sps, {args.mode} mode "
            f"({quakes}), records of at most {args.record_seconds:g} s, {args.minutes:g} min, "
            f"{database}"
        )
        print("     t   latency p50   p99   worker CPU   RSS MB   feed CPU")
        rows: list[tuple[float, float, float, float, float]] = []
        progress: list[tuple[float, float]] = []  # worker CPU seconds, median data time
        latencies: list[float] = []
        started = time.monotonic()
        last_cpu, last_feed, last_t = _cpu_seconds(worker.pid), _cpu_seconds(feed.pid), started
        # the worker started (libraries, inventory, pipeline) before its first record: the
        # last sample with no channel seen, else the first
        base_rss = math.nan
        try:
            while time.monotonic() - started < args.minutes * 60:
                time.sleep(5.0)
                if worker.poll() is not None or feed.poll() is not None:
                    raise SystemExit(f"a process ended: see {logs}")
                now = time.time()
                with factory() as s:
                    times = [
                        t.timestamp() for t in s.scalars(select(ChannelStatus.last_sample_time))
                    ]
                t = time.monotonic()
                cpu, feed_cpu = _cpu_seconds(worker.pid), _cpu_seconds(feed.pid)
                share = (cpu - last_cpu) / (t - last_t)
                feed_share = (feed_cpu - last_feed) / (t - last_t)
                last_cpu, last_feed, last_t = cpu, feed_cpu, t
                lat = sorted(now - x for x in times) or [math.nan]
                p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                rss = _rss_mb(worker.pid)
                if math.isnan(base_rss) or not times:
                    base_rss = rss
                elapsed = t - started
                rows.append((elapsed, p50, p99, share, rss))
                if times and elapsed > 60:
                    progress.append((cpu, sorted(times)[len(times) // 2]))
                if elapsed > 60:
                    latencies += lat
                if len(rows) % 6 == 0 or elapsed < 30:
                    print(
                        f"{elapsed:6.0f} s  {p50:9.1f} s {p99:6.1f} s  {100 * share:8.0f} %  "
                        f"{rss:7.0f}  {100 * feed_share:7.0f} %  ({len(times)} channels seen)"
                    )
        finally:
            stop_sse.set()
            for process in (worker, feed, api):
                if process is not None:
                    process.send_signal(signal.SIGTERM)
            for process in (worker, feed, api):
                if process is not None:
                    process.wait(timeout=60)
            engine.dispose()
        _live_summary(rows, latencies, channels, base_rss)
        if args.sse:
            _onset_summary(onsets)
        if len(progress) > 2:
            half = progress[len(progress) // 2 :]
            cpu_used = half[-1][0] - half[0][0]
            data = half[-1][1] - half[0][1]
            print(
                f"worker CPU per second of data (second half): {cpu_used / data:.2f} s "
                f"(below 1: keeps up on a core of its own; about "
                f"{channels * data / cpu_used:,.0f} channels a core), load average "
                f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )


def steady(args: argparse.Namespace) -> None:
    """The live run's worker path without sockets, clock or other processes: the same
    stations and quakes, made an interval at a time and taken by the worker's pipeline as
    fast as it goes, health evaluated every 10 s of data. Deterministic: the CPU per second
    of data compares two commits even on a busy machine."""
    from ingest.feed import ModelArrivals
    from ingest.quakes.model import travel_time_table

    logging.disable(logging.WARNING)  # the worker's log (its inventory has no responses)
    specs = live_stations(args.stations)
    channels = len(specs) * len(CODES)
    config = LarzaConfig()
    start = time.time() - args.minutes * 60 - 60
    source = SyntheticSource(
        specs, seed=3, event_interval=60.0, first_event_after=20.0, start=start,
        reach_km=args.reach_km, arrivals=ModelArrivals(travel_time_table(config)),
    )  # fmt: skip
    stations = {("XX", s.station) for s in specs}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inventory = folder / "inventory.xml"
        write_inventory(specs, inventory)
        engine, factory = fresh_factory(args.database_url, folder, inventory)
        pipeline = Pipeline(
            factory,
            server="steady:0",
            config=config,
            archive=SdsArchive(folder / "archive", max_open=4 * channels),
            locate=True,
        )
        print(
            f"steady: {len(specs)} stations, {channels} channels at 100 sps, a quake a minute "
            f"within {args.reach_km:g} km, {args.minutes:g} min of data as fast as it goes"
        )
        print("  data s   worker CPU s   CPU-s per data-s   RSS MB")
        base = _rss_mb(os.getpid())
        longlived = LongLived("steady")  # as the worker does
        if not args.no_freeze:
            longlived.start()
        sequence: dict[str, int] = {}
        cpu, t, evaluated = 0.0, start, start
        held: list[float] = []  # wall seconds of each batch of 500 records
        evaluations: list[float] = []  # and of each evaluation of every station
        while t < start + args.minutes * 60:
            t += 2.0
            packets = []
            for raw in source.records_until(t):
                station = raw[8:13].decode().strip()
                sequence[station] = sequence.get(station, 0) + 1
                packets.append(Packet(f"XX_{station}", sequence[station], raw))
            began = time.process_time()
            for i in range(0, len(packets), 500):
                wall = time.perf_counter()
                pipeline.handle_many(packets[i : i + 500])
                longlived.settle()
                held.append(time.perf_counter() - wall)
            if t - evaluated >= 10.0 and pipeline.monitor is not None:
                evaluated = t
                wall = time.perf_counter()
                with factory() as session, session.begin():
                    now = datetime.fromtimestamp(t, UTC)
                    pipeline.monitor.evaluate(session, now=now, stations=stations)
                evaluations.append(time.perf_counter() - wall)
            cpu += time.process_time() - began
            if round(t - start) % 60 == 0:
                print(
                    f"  {t - start:6.0f}   {cpu:12.1f}   {cpu / (t - start):16.2f}   "
                    f"{_rss_mb(os.getpid()):6.0f}"
                )
        rss = _rss_mb(os.getpid())
        longlived.stop()
        engine.dispose()
    print(
        f"\nworker CPU per second of data: {cpu / (args.minutes * 60):.2f} s; RSS {rss:.0f} MB, "
        f"{(rss - base) * 1024 / channels:.1f} KB per channel over the {base:.0f} MB before "
        "the first record"
    )
    held.sort()
    print(
        f"a batch of 500 records: p50 {held[len(held) // 2]:.3f} s, p99 "
        f"{held[int(len(held) * 0.99)]:.3f} s, max {held[-1]:.3f} s; an evaluation of every "
        f"station: max {max(evaluations, default=math.nan):.2f} s; {longlived.freezes} freezes "
        "of the long-lived objects (wall times: on a busy machine, longer)"
    )


def _live_summary(
    rows: list[tuple[float, float, float, float, float]],
    latencies: list[float],
    channels: int,
    base_rss: float,
) -> None:
    after = [r for r in rows if r[0] > 60] or rows
    half = after[len(after) // 2 :]
    # the lag's trend over the second half: seconds of latency gained per second
    xs, ys = [r[0] for r in half], [r[1] for r in half]
    slope = statistics.linear_regression(xs, ys).slope if len(half) > 2 else math.nan
    latencies.sort()
    p50 = latencies[len(latencies) // 2] if latencies else math.nan
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else math.nan
    cpu = statistics.mean(r[3] for r in after)
    rss = after[-1][4]
    print()
    print(f"data latency after the first minute: p50 {p50:.1f} s, p99 {p99:.1f} s")
    trend = (
        "flat: keeps up" if abs(slope) < 0.01 else "falls behind" if slope > 0 else "catching up"
    )
    print(f"lag trend over the second half: {slope:+.3f} s per s ({trend})")
    print(f"worker CPU: {100 * cpu:.0f} % of a core on average")
    print(
        f"worker RSS: {rss:.0f} MB at the end, {base_rss:.0f} MB before its first record: "
        f"{(rss - base_rss) * 1024 / channels:.1f} KB per channel over the base"
    )
    if slope > 0.01:
        print(
            f"sustained here: about {channels / (1 + slope):,.0f} channels (from the lag's trend)"
        )


def _onset_summary(onsets: dict[int, tuple[float, str]]) -> None:
    """Onset to SSE by phase: P (and phase-less) picks go out at trigger-on; an S is known
    only when its sensor's P trigger ends."""
    for label, phases in (("P and phase-less", {"P", "-"}), ("S", {"S"})):
        delays = sorted(d for d, phase in onsets.values() if phase in phases)
        if not delays:
            print(f"pick onset -> SSE message, {label}: none reached the stream")
            continue
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        print(
            f"pick onset -> SSE message, {label} ({len(delays)} picks, first message of "
            f"each): p50 {delays[len(delays) // 2]:.2f} s, p99 {p99:.2f} s, max {delays[-1]:.2f} s"
        )


def _wait_up(port: int) -> None:
    import http.client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise SystemExit("the API did not start")


def _sse_onsets(port: int, got: dict[int, tuple[float, str]], stop: threading.Event) -> None:
    """Read the detections on the SSE stream: for each pick, when its first message came
    minus its onset (the feed runs in real time, so data time is wall time)."""

    async def run() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/stream?kinds=detection HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), 0.5)
            except TimeoutError:
                continue
            if not line:
                return
            now = time.time()
            for part in line.split(b"\n"):
                if part.startswith(b"data: "):
                    data = json.loads(part[6:])
                    if isinstance(data, dict) and "onset_time" in data and "id" in data:
                        onset = datetime.fromisoformat(data["onset_time"]).timestamp()
                        phase = data.get("phase") or "-"
                        got.setdefault(int(data["id"]), (now - onset, phase))
        writer.close()

    asyncio.run(run())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--live", action="store_true", help="a live run over SeedLink")
    parser.add_argument(
        "--steady",
        action="store_true",
        help="the live run's stations and quakes fed to the worker's pipeline as fast as it "
        "goes (no sockets or clock): CPU per second of data and RSS, to compare commits",
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="with --steady: leave the long-lived objects in every full garbage collection "
        "(as before the worker froze them), to compare",
    )
    parser.add_argument(
        "--sse",
        action="store_true",
        help="with --live: also run larza api and time each pick's onset to its SSE message",
    )
    parser.add_argument("--mode", choices=("realistic", "heavy"), default="realistic")
    parser.add_argument("--reach-km", type=float, default=120.0)
    parser.add_argument("--record-seconds", type=float, default=4.0)
    args = parser.parse_args()
    if args.live:
        live(args)
        return
    if args.steady:
        steady(args)
        return

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
