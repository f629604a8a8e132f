"""Exactly once, under fire: real recordings through the drill feed to a worker that is killed,
cut off and lied to, then the archive checked record by record against what was published.

Data: real recordings that ship with ObsPy (BW.UH1-UH4, the four-station set of ObsPy's
coincidence trigger tutorial; BW.BGLD with its real gaps; BW.RJOB, ObsPy's default local
event; CH.BALST's two 1-sps LH channels), about 1,000 512-byte Steim-2 records on 13
channels, published in an interleaved order as stations stream concurrently.

Faults, in every configuration (SeedLink v3 and v4, SQLite and PostgreSQL):

- the worker killed with SIGKILL at random moments (``--kills``, first one before its first
  commit); the feed restarted with its ring kept (``--ring-file``) and with a fresh ring;
- a ring overrun while the worker is down; the database unwritable for ``--outage`` seconds
  (PostgreSQL stopped; SQLite's write lock held by another process);
- a record published late (after newer ones), a channel whose clock jumps back an hour and
  then 5 s ahead of where it was, and the two 1-sps channels (the default 1-20 Hz band does
  not fit them).

Then: every record the feed published is in the archive exactly once, byte for byte, except
what the feed no longer held when the worker came back, which must lie inside a gap the worker
reported with its exact span; the detections equal those of an uninterrupted worker over the
same publication (outside the spans the gaps affect); the worker never exited by itself.

Usage: python bench/exactly_once.py [--protocols 3,4] [--databases sqlite,postgresql]
       [--kills 20] [--outage 60] [--seed 1]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import asyncio
import contextlib
import io
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import obspy
from obspy.core.inventory import Channel, Inventory, Network, Site, Station
from sqlalchemy import select

from ingest.feed import SeedLinkServer
from ingest.feed._mseed import record_info
from ingest.seedlink.decode import split_records
from stations.db import make_engine, make_session_factory, migrate
from stations.gaps import list_gaps
from stations.inventory import import_stationxml
from stations.models import ArchiveFile, StreamState
from stations.queries import list_detections

T = TypeVar("T")
DATA = Path(obspy.__file__).parent
SIGNAL = DATA / "signal" / "tests" / "data"
MSEED = DATA / "io" / "mseed" / "tests" / "data"
RING = 300
EXCLUDE_BEFORE_S = 60.0
EXCLUDE_AFTER_S = 130.0  # a detector's lead-in after a gap (ten LTA windows and more)


# -- the data ------------------------------------------------------------------------------------


@dataclass
class Data:
    records: list[bytes]  # in publication order (the late record moved)
    inventory: Inventory
    stations: list[tuple[str, str, str]]
    channels: int
    jumped: str
    late: str


def _pack(trace: obspy.Trace) -> list[bytes]:
    trace = trace.copy()
    trace.data = trace.data.astype("int32")
    buf = io.BytesIO()
    obspy.Stream([trace]).write(buf, format="MSEED", reclen=512, encoding="STEIM2")
    raw = buf.getvalue()
    return [raw[i : i + 512] for i in range(0, len(raw), 512)]


def prepare() -> Data:
    traces: list[obspy.Trace] = []
    for name in (
        "BW.UH1._.SHZ.D.2010.147.cut.slist.gz",
        "BW.UH2._.SHZ.D.2010.147.cut.slist.gz",
        "BW.UH3._.SHE.D.2010.147.cut.slist.gz",
        "BW.UH3._.SHN.D.2010.147.cut.slist.gz",
        "BW.UH3._.SHZ.D.2010.147.cut.slist.gz",
        "BW.UH4._.EHZ.D.2010.147.cut.slist.gz",
    ):
        traces += obspy.read(str(SIGNAL / name))
    traces += obspy.read(str(MSEED / "gaps.mseed"))
    traces += obspy.read()  # BW.RJOB EHZ/EHN/EHE
    traces += obspy.read(str(MSEED / "CH.BALST..LH_two_channels"))
    by_channel: dict[str, list[bytes]] = {}
    for tr in traces:
        if tr.id == "BW.UH4..EHZ":  # the clock jumps: back an hour, then 5 s ahead of itself
            t0 = tr.stats.starttime
            normal, back, ahead = (
                tr.slice(t0, t0 + 80, nearest_sample=False),
                tr.slice(t0 + 80.01, t0 + 110, nearest_sample=False),
                tr.slice(t0 + 110.01, tr.stats.endtime, nearest_sample=False),
            )
            back.stats.starttime -= 3600
            ahead.stats.starttime += 5
            recs = _pack(normal) + _pack(back) + _pack(ahead)
        else:
            recs = _pack(tr)
        by_channel.setdefault(tr.id, []).extend(recs)
    # Interleave the channels as concurrent streams: by the share of each one's span elapsed.
    keyed = []  # by the share of each channel's records sent (its clock may jump)
    for cid, recs in by_channel.items():
        for k, r in enumerate(recs):
            keyed.append(((k + 1) / len(recs), cid, k, r))
    keyed.sort(key=lambda item: (item[0], item[1], item[2]))
    order = [r for *_, r in keyed]
    late_channel = "BW.UH1..SHZ"
    late = by_channel[late_channel][10]
    i = order.index(late)
    j = order.index(by_channel[late_channel][16])
    order.insert(j, order.pop(i))  # published after six newer records of its channel
    return Data(
        order,
        _inventory(by_channel),
        _stations(by_channel),
        len(by_channel),
        "BW.UH4..EHZ",
        late_channel,
    )


def _stations(by_channel: dict[str, list[bytes]]) -> list[tuple[str, str, str]]:
    return sorted({(cid.split(".")[0], cid.split(".")[1], "") for cid in by_channel})


def _inventory(by_channel: dict[str, list[bytes]]) -> Inventory:
    networks: dict[str, Network] = {}
    for k, (cid, recs) in enumerate(sorted(by_channel.items())):
        net, sta, loc, cha = cid.split(".")
        rate = obspy.read(io.BytesIO(recs[0]))[0].stats.sampling_rate
        network = networks.setdefault(net, Network(code=net, stations=[]))
        station = next((s for s in network.stations if s.code == sta), None)
        if station is None:
            station = Station(
                code=sta,
                latitude=47.5 + 0.05 * k,
                longitude=11.5 + 0.05 * k,
                elevation=600.0,
                site=Site(name=sta),
            )
            network.stations.append(station)
        station.channels.append(
            Channel(
                code=cha,
                location_code=loc,
                latitude=station.latitude,
                longitude=station.longitude,
                elevation=600.0,
                depth=0.0,
                sample_rate=rate,
            )
        )
    return Inventory(networks=list(networks.values()), source="Larza bench")


# -- the feed, in this process ----------------------------------------------------------------


class Feed:
    """The drill feed on a fixed port, its loop in a thread; restarted with or without its
    ring (kept in ``ring_file`` across a restart, as ringserver's ring files are)."""

    def __init__(
        self,
        port: int,
        stations: list[tuple[str, str, str]],
        ring_file: Path,
        ring_size: int = RING,
    ) -> None:
        self.port, self.stations, self.ring_file = port, stations, ring_file
        self.ring_size = ring_size
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: SeedLinkServer | None = None

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=60)

    def start(self, *, keep_ring: bool) -> None:
        if not keep_ring:
            self.ring_file.unlink(missing_ok=True)
        server = SeedLinkServer(
            port=self.port,
            ring_size=self.ring_size,
            stations=self.stations,
            ring_file=self.ring_file,
        )
        self.call(server.start)
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self.call(self.server.stop)  # saves the ring
            self.server = None

    def publish(self, records: list[bytes]) -> None:
        server = self.server
        assert server is not None

        async def go() -> None:
            for r in records:
                server.publish(r)

        self.call(go)

    def held(self) -> set[bytes]:
        server = self.server
        assert server is not None

        async def go() -> set[bytes]:
            ring = server.ring
            return {p.frame[8:] for p in ring._packets}

        return self.call(go)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


# -- databases ------------------------------------------------------------------------------


class Postgres:
    """A PostgreSQL cluster of the bench's own, which it can stop and start."""

    def __init__(self, root: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins:
            raise SystemExit("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.bin, self.root, self.port = bins[-1], root, _free_port()
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        self._run(f"'{self.bin}/initdb' -D '{root}/data' -A trust -U postgres -E UTF8")
        self.start()

    def _run(self, command: str) -> None:
        if os.geteuid() == 0:
            command = f"su postgres -s /bin/sh -c {_quote(command)}"
        subprocess.run(command, shell=True, check=True, capture_output=True)

    def start(self) -> None:
        self._run(
            f"'{self.bin}/pg_ctl' -D '{self.root}/data' -l '{self.root}/log' -w -o "
            f"'-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off' start"
        )

    def stop(self) -> None:
        self._run(f"'{self.bin}/pg_ctl' -D '{self.root}/data' -m fast -w stop")

    def new_database(self, name: str) -> str:
        self._run(f"'{self.bin}/createdb' -h 127.0.0.1 -p {self.port} -U postgres {name}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- the worker process ------------------------------------------------------------------------


class Worker:
    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.args = [sys.executable, "-m", "ingest", "worker", "--seedlink", f"127.0.0.1:{port}"]
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.exits_by_itself = 0
        self.kills = 0

    def start(self) -> None:
        self.check()
        if self.proc is not None:
            return
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def check(self) -> None:
        """Count a worker that ended although nobody stopped it."""
        if self.proc is not None and self.proc.poll() is not None:
            self.exits_by_itself += 1
            self.proc = None

    def kill(self) -> None:
        self.check()
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None
            self.kills += 1

    def stop(self) -> int:
        self.check()
        if self.proc is None:
            return -1
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.proc = None
        return code


# -- one configuration ----------------------------------------------------------------------------


@dataclass
class Result:
    protocol: str
    database: str
    published: int = 0
    archived: int = 0
    duplicated: int = 0
    not_held: int = 0
    lost_unexplained: int = 0
    lost_outside_gaps: int = 0
    lost_at_end: int = 0
    gaps: int = 0
    gaps_inexact: int = 0
    kills: int = 0
    killed_before_first_commit: bool = False
    events: list[str] = field(default_factory=list)
    outage_s: float = 0.0
    detections: int = 0
    detections_equal: int = 0
    detections_excluded: int = 0
    exits_by_itself: int = 0
    clean_stop: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def archived_records(url: str, root: Path) -> list[bytes]:
    """Every committed record of the archive (bytes past a file's committed size are a
    killed worker's leftover, not data)."""
    engine = make_engine(url, sqlite_begin="DEFERRED")  # reads only
    with make_session_factory(engine)() as s:
        sizes = {a.path: a.size for a in s.scalars(select(ArchiveFile))}
    engine.dispose()
    out: list[bytes] = []
    for path, size in sizes.items():
        data = (root / path).read_bytes()[:size]
        out += split_records(data) or []
    return out


def _setup(url: str, inventory: Inventory) -> None:
    engine = make_engine(url)
    migrate(engine)
    buf = io.BytesIO()
    inventory.write(buf, format="STATIONXML")
    xml = Path(tempfile.mkstemp(suffix=".xml")[1])
    xml.write_bytes(buf.getvalue())
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, xml)
    xml.unlink()
    engine.dispose()


def _env(url: str, archive: Path, protocol: str) -> dict[str, str]:
    return {
        **os.environ,
        "LARZA_DATABASE_URL": url,
        "LARZA_ARCHIVE_DIR": str(archive),
        "LARZA_SEEDLINK_PROTOCOL": protocol,
        "LARZA_SELECTORS": "",
        "LARZA_RECONNECT_DELAY_S": "0.5",
        "LARZA_LEASE_TTL_S": "3",
        "LARZA_SQLITE_TIMEOUT_S": "1",
        "LARZA_INVENTORY_INTERVAL_S": "3600",
    }


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def detections(url: str) -> list[tuple[str, float]]:
    engine = make_engine(url, sqlite_begin="DEFERRED")  # reads only
    with make_session_factory(engine)() as s:
        found = [
            (
                f"{d.channel.station.network.code}.{d.channel.station.code}."
                f"{d.channel.location}.{d.channel.code}",
                round(d.onset_time.timestamp(), 3),
            )
            for d in list_detections(s, limit=100_000)
        ]
    engine.dispose()
    return sorted(found)


def uninterrupted(data: Data, url: str, folder: Path, protocol: str) -> list[tuple[str, float]]:
    """One worker, never stopped, over the same publication: the detections to match."""
    folder.mkdir(parents=True, exist_ok=True)
    _setup(url, data.inventory)
    feed = Feed(_free_port(), data.stations, folder / "ring.bin", ring_size=100_000)
    feed.start(keep_ring=False)
    worker = Worker(feed.port, _env(url, folder / "archive", protocol), folder / "worker.log")
    try:
        worker.start()  # the ring holds everything: whenever it connects, it gets it all
        for k in range(0, len(data.records), 50):
            feed.publish(data.records[k : k + 50])
            time.sleep(0.05)
        _wait(lambda: len(archived_records(url, folder / "archive")) >= len(data.records), 120)
        worker.stop()
    finally:
        feed.close()
    return detections(url)


def run(
    data: Data, protocol: str, database: str, pg: Postgres | None, args: argparse.Namespace
) -> Result:
    result = Result(protocol, database)
    started = time.monotonic()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix=f"larza-once-{database}-v{protocol}-"))
    name = f"once_{protocol}_{int(time.time())}"
    if pg is None:
        url, ref_url = f"sqlite:///{folder / 'larza.sqlite'}", f"sqlite:///{folder / 'ref.sqlite'}"
    else:
        url, ref_url = pg.new_database(name), pg.new_database(name + "_ref")
    reference = uninterrupted(data, ref_url, folder / "reference", protocol)

    _setup(url, data.inventory)
    archive = folder / "archive"
    feed = Feed(_free_port(), data.stations, folder / "ring.bin")
    feed.start(keep_ring=True)
    worker = Worker(feed.port, _env(url, archive, protocol), folder / "worker.log")
    published: list[bytes] = []
    not_held: set[bytes] = set()
    records = data.records
    n = len(records)
    cursor = 0

    def publish(count: int, pause: float = 1.0, step: int = 6) -> None:
        nonlocal cursor
        end = min(n, cursor + count)
        while cursor < end:
            chunk = records[cursor : min(end, cursor + step)]
            feed.publish(chunk)
            published.extend(chunk)
            cursor += len(chunk)
            time.sleep(pause)
            if worker.proc is not None and worker.proc.poll() is not None:
                restart_worker()  # it ended by itself: counted, and started again

    working_from = [0]  # archived records when the worker last started

    def restart_worker() -> None:
        # What the feed no longer holds and the archive lacks now is gone for good.
        have = set(archived_records(url, archive))
        gone = set(published) - have - feed.held()
        if args.verbose:
            print(
                f"  {time.monotonic() - started:6.1f} s: restart; published {len(published)}, "
                f"archived {len(have)}, not held {len(gone)}",
                file=sys.stderr,
            )
        not_held.update(gone)
        working_from[0] = len(have)
        worker.start()

    def working() -> bool:
        """The worker (re)started has archived something since: a kill now is mid-work."""
        return len(archived_records(url, archive)) > working_from[0]

    def connected() -> bool:
        return feed.server is not None and feed.server.client_count > 0

    def positions() -> int:
        engine = make_engine(url, sqlite_begin="DEFERRED")  # reads only
        with make_session_factory(engine)() as s:
            count = len(s.scalars(select(StreamState)).all())
        engine.dispose()
        return count

    try:
        # A kill before the first commit: the worker is still starting when it dies.
        worker.start()
        publish(24, pause=0.05)
        time.sleep(0.3)
        result.killed_before_first_commit = positions() == 0
        worker.kill()
        restart_worker()
        # The losses come last, so most detections can be compared with the reference.
        events = {
            int(n * 0.15): "feed restart, ring kept",
            int(n * 0.30): "database outage",
            int(n * 0.55): "ring overrun while the worker is down",
            int(n * 0.85): "feed restart, fresh ring",
        }
        pending = sorted(events)
        next_kill: float | None = None  # set once the worker works again
        while cursor < n:
            if pending and cursor >= pending[0]:
                # Each event starts once the worker has caught up, so the losses are its own.
                caught_up = len(set(published) - not_held)
                _wait(lambda n=caught_up: len(archived_records(url, archive)) >= n, 90)
                what = events[pending.pop(0)]
                result.events.append(f"{what} at record {cursor}")
                if what == "feed restart, ring kept":
                    feed.stop()
                    time.sleep(1.0)
                    feed.start(keep_ring=True)
                elif what == "ring overrun while the worker is down":
                    worker.kill()
                    publish(RING + 40, pause=0.0, step=60)
                    restart_worker()
                elif what == "feed restart, fresh ring":
                    worker.kill()
                    publish(30, pause=0.0)
                    feed.stop()
                    feed.start(keep_ring=False)  # what it held is gone
                    restart_worker()
                else:
                    outage = _Outage(url, pg, args.outage)
                    with outage:
                        publish(min(100, n - cursor), pause=args.outage / 10, step=10)
                    result.outage_s = outage.seconds
                next_kill = None
                continue
            publish(6)
            if next_kill is None and working():
                next_kill = time.monotonic() + rng.uniform(0.2, 3.0)  # a random moment
            if (
                worker.kills < args.kills
                and next_kill is not None
                and time.monotonic() >= next_kill
            ):
                worker.kill()
                restart_worker()
                next_kill = None
        while worker.kills < args.kills:  # the rest of the kills, once it reads again
            _wait(connected, 60)
            time.sleep(rng.uniform(0.2, 2.0))
            worker.kill()
            restart_worker()
        expected = len(set(published) - not_held)
        if not _wait(lambda: len(set(archived_records(url, archive))) >= expected, 180):
            result.notes.append("timed out waiting for the archive")
        _wait(connected, 60)
        time.sleep(2.0)
        code = worker.stop()
        result.clean_stop = code == 0
    finally:
        worker.check()
        feed.close()
    result.exits_by_itself = worker.exits_by_itself
    result.kills = worker.kills

    _verify(result, data, url, archive, published, not_held, reference)
    result.seconds = time.monotonic() - started
    if args.keep:
        result.notes.append(f"files kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return result


class _Outage:
    """The database unwritable for a while: PostgreSQL stopped, or SQLite's write lock held."""

    def __init__(self, url: str, pg: Postgres | None, seconds: float) -> None:
        self.url, self.pg, self.wanted = url, pg, seconds
        self.seconds = 0.0

    def __enter__(self) -> None:
        self.started = time.monotonic()
        if self.pg is not None:
            self.pg.stop()
            self.lock = None
        else:
            path = self.url.removeprefix("sqlite:///")
            self.lock = sqlite3.connect(path, isolation_level=None, timeout=60)
            self.lock.execute("BEGIN EXCLUSIVE")

    def __exit__(self, *exc: object) -> None:
        remaining = self.wanted - (time.monotonic() - self.started)
        if remaining > 0:
            time.sleep(remaining)
        if self.pg is not None:
            self.pg.start()
        elif self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
        self.seconds = time.monotonic() - self.started


def _verify(
    result: Result,
    data: Data,
    url: str,
    archive: Path,
    published: list[bytes],
    not_held: set[bytes],
    reference: list[tuple[str, float]],
) -> None:
    got = archived_records(url, archive)
    counts = Counter(got)
    result.published = len(published)
    result.archived = len(counts)
    result.duplicated = sum(c - 1 for c in counts.values() if c > 1)
    lost = set(published) - set(counts)
    result.not_held = len(lost & not_held)
    result.lost_unexplained = len(lost - not_held)
    engine = make_engine(url, sqlite_begin="DEFERRED")  # reads only
    with make_session_factory(engine)() as s:
        gaps = list(list_gaps(s, limit=100_000))
    engine.dispose()
    result.gaps = len(gaps)
    by_stream: dict[str, list[tuple[float, float]]] = {}
    resumed: dict[str, list[tuple[float, float]]] = {}
    for g in gaps:
        if g.cause == "resume":  # a gap in the stream itself is in the reference run too
            resumed.setdefault(f"{g.network}.{g.station}.{g.location}.{g.channel}", []).append(
                (g.start.timestamp(), g.end.timestamp())
            )
        by_stream.setdefault(f"{g.network}.{g.station}.{g.location}.{g.channel}", []).append(
            (g.start.timestamp(), g.end.timestamp())
        )
    newest: dict[str, float] = {}
    for raw in counts:
        i = record_info(raw)
        stream = f"{i.network}.{i.station}.{i.location}.{i.channel}"
        newest[stream] = max(newest.get(stream, 0.0), i.start_ns / 1e9)
    for raw in lost:
        i = record_info(raw)
        stream = f"{i.network}.{i.station}.{i.location}.{i.channel}"
        if i.start_ns / 1e9 > newest.get(stream, 0.0):
            result.lost_at_end += 1  # no later data yet: the channel is silent, not gapped
            continue
        if not any(
            a < i.start_ns / 1e9 and i.end_ns / 1e9 < b for a, b in by_stream.get(stream, [])
        ):
            result.lost_outside_gaps += 1
    # A gap is exact when archived samples end and resume exactly at its bounds.
    ends: dict[str, set[float]] = {}
    starts: dict[str, set[float]] = {}
    for raw in got:
        i = record_info(raw)
        stream = f"{i.network}.{i.station}.{i.location}.{i.channel}"
        ends.setdefault(stream, set()).add(round(i.end_ns / 1e9, 6))
        starts.setdefault(stream, set()).add(round(i.start_ns / 1e9, 6))
    for stream, spans in by_stream.items():
        for a, b in spans:
            if round(a, 6) not in ends.get(stream, set()) or round(b, 6) not in starts.get(
                stream, set()
            ):
                result.gaps_inexact += 1
    # Detections, outside the spans the gaps affect.
    ours = detections(url)

    def near_gap(stream: str, t: float) -> bool:
        return any(
            a - EXCLUDE_BEFORE_S <= t <= b + EXCLUDE_AFTER_S for a, b in resumed.get(stream, [])
        )

    compared_ref = [d for d in reference if not near_gap(*d)]
    compared_ours = [d for d in ours if not near_gap(*d)]
    result.detections = len(compared_ref)
    result.detections_excluded = len(reference) - len(compared_ref)
    result.detections_equal = len(set(compared_ref) & set(compared_ours))
    if set(compared_ours) - set(compared_ref):
        result.notes.append(
            f"{len(set(compared_ours) - set(compared_ref))} detections not in the uninterrupted run"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--protocols", default="3,4")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the databases, archives, logs")
    parser.add_argument("--verbose", action="store_true", help="print a line at every restart")
    args = parser.parse_args()
    data = prepare()
    stations = len(data.stations)
    print(f"data: {len(data.records)} records, {data.channels} channels, {stations} stations")
    results: list[Result] = []
    for database in args.databases.split(","):
        pg = (
            Postgres(Path(tempfile.mkdtemp(prefix="larza-once-pg-")))
            if database == "postgresql"
            else None
        )
        try:
            for protocol in args.protocols.split(","):
                print(f"running SeedLink v{protocol} on {database} ...", flush=True)
                results.append(run(data, protocol, database, pg, args))
        finally:
            if pg is not None:
                pg.close()
    _table(results)


COLUMNS = (
    "SeedLink",
    "database",
    "published",
    "archived once",
    "duplicated",
    "lost: not held by the feed",
    "lost otherwise",
    "of which after the channel's last data",
    "lost outside a reported gap",
    "gaps (inexact)",
    "kills (1st before a commit)",
    "outage",
    "detections equal (excluded near gaps)",
    "worker exits by itself",
    "clean stop",
    "s",
)


def _table(results: list[Result]) -> None:
    print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for r in results:
        cells = [
            f"v{r.protocol}",
            r.database,
            r.published,
            r.archived,
            r.duplicated,
            r.not_held,
            r.lost_unexplained,
            r.lost_at_end,
            r.lost_outside_gaps,
            f"{r.gaps} ({r.gaps_inexact})",
            f"{r.kills} ({'yes' if r.killed_before_first_commit else 'no'})",
            f"{r.outage_s:.0f} s",
            f"{r.detections_equal} of {r.detections} ({r.detections_excluded})",
            r.exits_by_itself,
            "yes" if r.clean_stop else "no",
            f"{r.seconds:.0f}",
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")
        print(f"  events (v{r.protocol}, {r.database}): " + "; ".join(r.events))
        for note in r.notes:
            print(f"  note ({r.database}, v{r.protocol}): {note}")


if __name__ == "__main__":
    main()
