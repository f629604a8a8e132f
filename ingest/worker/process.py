"""The ingest worker process: the stations it leases from one SeedLink server, until stopped.

Threads: a reader thread owns the SeedLink client and fills a bounded ``PacketQueue``; the main
thread takes batches from the queue and stores each batch in one transaction. Every
``lease_ttl_s / 3`` seconds the main thread renews its station leases; when the set of
stations it holds changes (a worker joined or died), the reader is restarted for the new set,
resuming each station from its stored sequence number. Every ``inventory_interval_s`` it
also reads the inventory again: stations imported since it started join the ones it leases
(unless ``LARZA_STATIONS`` fixes the list), and new channels are processed from then on.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ingest.config import LarzaConfig, load_config
from ingest.longlived import LongLived
from ingest.seedlink.source import Packet, SeedLinkSource
from ingest.worker.archive import SdsArchive
from ingest.worker.pipeline import Pipeline
from ingest.worker.settings import WorkerSettings
from stations.db import make_engine, make_session_factory
from stations.leases import acquire_leases, release_leases
from stations.models import ChannelKind
from stations.queries import (
    ChannelKey,
    ensure_channels,
    inventory_version,
    list_stations,
    station_newest_samples,
    stream_positions,
)

log = logging.getLogger(__name__)

StationCode = tuple[str, str]
EVALUATED_AT_ONCE = 100
"""Stations whose health one turn of evaluation computes and stores."""
RESTART_MARGIN = timedelta(minutes=1)
"""How far before a station's newest data one without a position starts: a few repeats."""


class Shutdown(Exception):
    """Stop asked (SIGTERM, Ctrl-C) while the worker waits: it stops there."""


class _Stop:
    """SIGTERM and Ctrl-C set a flag the worker looks at between steps: a step under way (a
    batch being stored, a query) is finished, never cut in the middle of a conversation with
    the database, whose connection could then hang the clean-up."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.why = ""

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.why = self.why or signal.Signals(signum).name
        self.asked.set()

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``; raise ``Shutdown`` at once if stop is asked."""
        if self.asked.wait(seconds):
            raise Shutdown(self.why)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class PacketQueue:
    """The packets read and not yet taken: filled by the reader threads, emptied in batches by
    the main thread; at most ``maxsize`` wait (and one more per reader in a race), a full queue
    holds its readers back (back-pressure).

    Cheaper per packet than ``queue.Queue``, which takes a lock and notifies a condition on
    every put and every get: a reader appends to a deque (atomic under the GIL), and takes a
    lock only to wake the main thread when it waits for packets, or to wait itself for room
    while the queue is full; the main thread takes up to a batch at once, and wakes a waiting
    reader once per batch.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._packets: deque[Packet] = deque()
        self._arrived = threading.Condition(threading.Lock())
        self._room = threading.Condition(threading.Lock())
        # Set under their condition's lock before the waiter looks at the deque a last time,
        # read without it by the other side after its own change to the deque: a wake-up is
        # never missed, and no lock is taken while nobody waits.
        self._taker_waits = False
        self._putter_waits = False
        self._closed = False

    def __len__(self) -> int:
        return len(self._packets)

    def put_all(self, packets: Iterable[Packet], stop: threading.Event) -> None:
        """Queue packets as they come, each once there is room, until ``stop`` is set or the
        queue is closed: a reader thread's loop, with little work per packet."""
        queued = self._packets
        append = queued.append
        stopped = stop.is_set
        maxsize = self.maxsize
        for packet in packets:
            if stopped() or (len(queued) >= maxsize and not self._wait_for_room(stop)):
                return
            append(packet)
            if self._taker_waits:
                self._taker_waits = False
                with self._arrived:
                    self._arrived.notify()

    def take(self, max_packets: int, max_wait_s: float) -> list[Packet]:
        """Up to ``max_packets`` packets: waits at most ``max_wait_s`` for the first, then takes
        what is already queued, so a busy stream is stored in few transactions and a quiet one
        without delay."""
        queued = self._packets
        if not queued:
            with self._arrived:
                self._taker_waits = True
                if not queued:
                    self._arrived.wait(max_wait_s)
                self._taker_waits = False
            if not queued:
                return []
        popleft = queued.popleft
        batch = [popleft() for _ in range(min(len(queued), max_packets))]
        if self._putter_waits:
            with self._room:
                self._putter_waits = False
                self._room.notify_all()
        return batch

    def close(self) -> None:
        """Release the readers waiting for room: their packets are not queued (they are read
        again on resume). Packets already queued can still be taken."""
        with self._room:
            self._closed = True
            self._room.notify_all()

    def _wait_for_room(self, stop: threading.Event) -> bool:
        """True once there is room; False if ``stop`` is set or the queue closed first."""
        with self._room:
            while True:
                self._putter_waits = True
                if self._closed or stop.is_set():
                    return False
                if len(self._packets) < self.maxsize:
                    return True
                self._room.wait(0.5)  # woken by ``take`` or ``close``; else sees ``stop``


class Reader:
    """One reader thread and its SeedLink client: the stations read from one server."""

    def __init__(
        self,
        settings: WorkerSettings,
        server: str,
        selectors: dict[StationCode, str],
        queue: PacketQueue,
        factory: sessionmaker[Session],
    ) -> None:
        with factory() as session:
            positions = stream_positions(session, server=server)
            newest = station_newest_samples(session)
        # A station without a position here but with data (read from another server before,
        # or its position lost) starts just before its newest data, not at the beginning.
        begins = {
            code: newest[code] - RESTART_MARGIN
            for code in selectors
            if code not in positions and code in newest
        }
        self.server = server
        self._stop = threading.Event()
        self._source = source = SeedLinkSource(
            server,
            sorted(selectors),
            selectors,
            positions,
            keepalive_s=settings.keepalive_s,
            idle_timeout_s=settings.idle_timeout_s,
            reconnect_delay_s=settings.reconnect_delay_s,
            protocol=settings.seedlink_protocol,
            uni_station=settings.seedlink_uni_station,
            new_start=settings.new_start(),
            begins=begins,
        )
        self._thread = threading.Thread(
            target=_read, args=(source, queue, self._stop), name=f"seedlink {server}", daemon=True
        )
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop reading; packets still queued are dropped (they are read again on resume).

        Does not wait long: the reader notices at its next packet, or within about a second
        on a silent connection (in the middle of reconnecting: once reconnected), and closes
        its client then, from its own thread.
        """
        self._stop.set()
        self._source.stop()
        self._thread.join(timeout=0.2)


class Readers:
    """The readers of the stations this worker holds, one per SeedLink server (the worker's
    ``LARZA_SEEDLINK``, or a station's own in ``[stations."NET.STA"]`` of larza.toml), all
    filling one bounded queue."""

    def __init__(
        self,
        settings: WorkerSettings,
        stations: set[StationCode],
        factory: sessionmaker[Session],
        config: LarzaConfig,
    ) -> None:
        self.stations = stations
        self.queue = PacketQueue(settings.queue_size)
        by_server: dict[str, dict[StationCode, str]] = {}
        for code in sorted(stations):
            server, selectors = config.source_of(
                *code, server=settings.seedlink, selectors=settings.selectors
            )
            by_server.setdefault(server, {})[code] = selectors
        self._readers = [
            Reader(settings, server, chosen, self.queue, factory)
            for server, chosen in sorted(by_server.items())
        ]

    @property
    def servers(self) -> list[str]:
        return [r.server for r in self._readers]

    def is_alive(self) -> bool:
        return all(r.is_alive() for r in self._readers)

    def stop(self) -> None:
        self.queue.close()
        for r in self._readers:
            r.stop()


def _make_pipeline(
    settings: WorkerSettings, factory: sessionmaker[Session], config: LarzaConfig
) -> Pipeline:
    archive = None
    if settings.archive_dir:
        archive = SdsArchive(Path(settings.archive_dir), max_open=_open_files_allowed())
    return Pipeline(factory, server=settings.seedlink, config=config, archive=archive, locate=True)


def _open_files_allowed(wanted: int = 16_384, spare: int = 256) -> int:
    """How many archive day files may stay open: the process's limit on descriptors is
    raised towards ``wanted`` (as far as the hard limit allows), less ``spare`` for sockets
    and the database. A day file per channel stays open, so appends do not reopen files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as e:
            log.warning("cannot raise the limit of open files to %d (%s)", target, e)
    return max(64, soft - spare)


def run_worker(settings: WorkerSettings, name: str | None = None) -> None:
    """Ingest the leased stations from ``settings.seedlink`` until SIGTERM or Ctrl-C."""
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    name = name or worker_name()
    config = load_config(Path(settings.config) if settings.config else None)
    engine = make_engine(settings.database_url, sqlite_timeout_s=settings.sqlite_timeout_s)
    factory = make_session_factory(engine)
    listed = settings.station_list()
    try:
        wanted, pipeline = _start(settings, factory, config, listed, name, stop)
    except (Shutdown, KeyboardInterrupt) as e:
        log.info("worker %s: stopped while starting (%s)", name, e or "interrupt")
        engine.dispose()
        return
    longlived = LongLived(f"worker {name}")
    longlived.start()
    state_every = config.health.state_interval_s
    ttl = timedelta(seconds=settings.lease_ttl_s)
    renew_every = settings.lease_ttl_s / 3
    log.info("worker %s: %d stations wanted from %s", name, len(wanted), settings.seedlink)
    started = time.monotonic()
    reader: Readers | None = None
    next_renewal = 0.0
    next_inventory = time.monotonic() + settings.inventory_interval_s
    with factory() as session:
        known_inventory = inventory_version(session)
    next_states = time.monotonic() + min(state_every, 2.0)
    turn = 0
    valid_until = 0.0
    try:
        while not stop.asked.is_set():
            try:
                if pipeline.broken:
                    raise _Rebuild("the last batch was not stored")
                if time.monotonic() >= next_inventory:
                    with factory() as session:
                        version = inventory_version(session)
                    if version != known_inventory:  # re-read only what changed
                        grown = _follow_inventory(factory, config, pipeline, wanted, listed, name)
                        known_inventory = version
                        longlived.renew("the inventory changed")
                        if grown != wanted:
                            wanted, next_renewal = grown, 0.0  # compete for the new ones now
                    next_inventory = time.monotonic() + settings.inventory_interval_s
                if time.monotonic() >= next_renewal:
                    held = _renew(factory, name, wanted, ttl)
                    valid_until = time.monotonic() + settings.lease_ttl_s
                    next_renewal = time.monotonic() + renew_every
                    if reader is None or held != reader.stations:
                        pipeline.resync()
                        reader = _switch(reader, held, settings, factory, name, config)
                if reader is None:
                    stop.wait(min(1.0, max(0.0, next_renewal - time.monotonic())))
                    continue
                if time.monotonic() > valid_until - renew_every:
                    # Renewal has failed for a while: another worker may own these stations.
                    log.error("worker %s: leases could not be renewed; pausing", name)
                    reader.stop()
                    reader = None
                    continue
                batch = reader.queue.take(settings.batch_max_packets, settings.batch_max_wait_s)
                if batch:
                    pipeline.handle_many(batch)
                    longlived.settle()
                elif not reader.is_alive():
                    # Packets it read and that were not stored are read again from the
                    # stored positions by the new reader.
                    log.error("worker %s: a SeedLink reader stopped; starting it again", name)
                    reader.stop()
                    reader, next_renewal = None, 0.0
                    continue
                if time.monotonic() >= next_states:
                    # On the clock, not on data: a silent station's latency grows, turns DOWN.
                    # Stations are evaluated in turns of at most EVALUATED_AT_ONCE, each every
                    # state_every seconds, so ingest never waits long for an evaluation.
                    order = sorted(reader.stations)
                    turns = max(1, math.ceil(len(order) / EVALUATED_AT_ONCE))
                    _evaluate(pipeline, factory, set(order[turn % turns :: turns]))
                    turn += 1
                    next_states = time.monotonic() + state_every / turns
            except RECOVERABLE as e:
                # The database or the archive failed (a server down, a disk full): nothing
                # of the batch was kept. Stop reading, wait until storing works again, and
                # start over from what was stored, as after a restart: nothing is lost.
                log.error("worker %s: cannot store (%s); reading stops until it can", name, e)
                if reader is not None:
                    reader.stop()
                    reader = None
                pipeline.close()
                pipeline = _recover(settings, factory, config, name, stop)
                longlived.renew("a new pipeline")
                next_renewal = 0.0
        log.info("worker %s: stopping (%s)", name, stop.why)
    except (Shutdown, KeyboardInterrupt) as e:
        log.info("worker %s: stopping (%s)", name, e or "interrupt")
    finally:
        # A second signal (Ctrl-C, then a supervisor's SIGTERM) must not break the clean-up.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if reader is not None:
            reader.stop()
        pipeline.close()
        longlived.stop()
        try:
            with factory() as session, session.begin():
                release_leases(session, worker=name, now=datetime.now(UTC))
        except STORE_FAULTS as e:
            log.warning("worker %s: leases not released (%s): they expire by themselves", name, e)
        engine.dispose()
        log.info(
            "worker %s: stopped after %.0f s: %s",
            name,
            time.monotonic() - started,
            dict(pipeline.counts),
        )


class _Rebuild(Exception):
    """The pipeline cannot go on (its last batch was not stored): build a new one."""


STORE_FAULTS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, OSError)
"""What storing may meet and outlive: the database unreachable or full, the archive's disk
full or gone. Anything else is a bug and ends the worker (its supervisor restarts it)."""
RECOVERABLE: tuple[type[Exception], ...] = (*STORE_FAULTS, _Rebuild)
MAX_BACKOFF_S = 60.0


def _start(
    settings: WorkerSettings,
    factory: sessionmaker[Session],
    config: LarzaConfig,
    listed: list[StationCode],
    name: str,
    stop: _Stop,
) -> tuple[list[StationCode], Pipeline]:
    """The stations wanted and a pipeline; while the database cannot be read or written (a
    server restarting, a lock held), wait with backoff, saying so, rather than exit."""
    delay = 1.0
    while True:
        try:
            wanted = listed or _inventory_stations(factory)
            if not wanted:
                raise SystemExit(
                    "no stations to ingest: import an inventory first (larza stations import)"
                )
            _add_soh_channels(factory, config, wanted, name)
            return wanted, _make_pipeline(settings, factory, config)
        except STORE_FAULTS as e:
            log.error("worker %s: cannot use the database (%s); next try in %.0f s", name, e, delay)
            stop.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)


def _recover(
    settings: WorkerSettings,
    factory: sessionmaker[Session],
    config: LarzaConfig,
    name: str,
    stop: _Stop,
) -> Pipeline:
    """Wait, with backoff, until the database answers and the archive takes a write; then a
    new pipeline from what was stored (detectors, health and positions as after a restart).
    Interrupted by SIGTERM or Ctrl-C like the rest of the worker."""
    delay = 1.0
    started = time.monotonic()
    while True:
        stop.wait(delay)
        try:
            with factory() as session:
                session.execute(text("SELECT 1"))
            if settings.archive_dir:
                _probe_archive(Path(settings.archive_dir))
            pipeline = _make_pipeline(settings, factory, config)
        except STORE_FAULTS as e:
            delay = min(delay * 2, MAX_BACKOFF_S)
            log.error(
                "worker %s: storing still fails after %.0f s (%s); next try in %.0f s",
                name,
                time.monotonic() - started,
                e,
                delay,
            )
            continue
        log.warning(
            "worker %s: storing works again after %.0f s; resuming from the stored positions",
            name,
            time.monotonic() - started,
        )
        return pipeline


def _probe_archive(root: Path) -> None:
    """Raise ``OSError`` unless a small file can be written and synced under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    probe = root / f".larza-probe-{os.getpid()}"
    try:
        with probe.open("wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    finally:
        probe.unlink(missing_ok=True)


def _inventory_stations(factory: sessionmaker[Session]) -> list[StationCode]:
    with factory() as session:
        return [(s.network.code, s.code) for s in list_stations(session)]


def _add_soh_channels(
    factory: sessionmaker[Session], config: LarzaConfig, stations: list[StationCode], name: str
) -> None:
    with factory() as session, session.begin():
        added = ensure_channels(session, wanted=_soh_channels(config, stations))
    if added:
        log.info("worker %s: %d state-of-health channels added from %s", name, added, config.source)


def _follow_inventory(
    factory: sessionmaker[Session],
    config: LarzaConfig,
    pipeline: Pipeline,
    wanted: list[StationCode],
    listed: list[StationCode],
    name: str,
) -> list[StationCode]:
    """Follow the inventory while running: stations imported since the worker started (through
    the API or the CLI) join the ones it competes for, unless ``--stations`` fixed the list;
    new channels of any station are processed from then on. Nothing is dropped while running.
    """
    new = [] if listed else sorted(set(_inventory_stations(factory)) - set(wanted))
    if new:
        _add_soh_channels(factory, config, new, name)
    channels = pipeline.refresh_channels()
    if new or channels:
        stations = ", ".join(f"{n}.{s}" for n, s in new) or "none"
        log.info(
            "worker %s: new in the inventory: stations %s, %d channels", name, stations, channels
        )
    return [*wanted, *new]


def _soh_channels(
    config: LarzaConfig, stations: list[StationCode]
) -> list[tuple[ChannelKey, ChannelKind, float]]:
    """The state-of-health channels larza.toml configures for the stations."""
    return [
        (ChannelKey(net, sta, soh.location, code), ChannelKind.SOH, soh.sampling_rate)
        for net, sta in stations
        for code, soh in config.soh_channels(net, sta).items()
    ]


def _evaluate(
    pipeline: Pipeline, factory: sessionmaker[Session], stations: set[StationCode]
) -> None:
    if pipeline.monitor is None:
        return
    with factory() as session, session.begin():
        pipeline.monitor.evaluate(session, now=datetime.now(UTC), stations=stations)


def _renew(
    factory: sessionmaker[Session], name: str, wanted: list[StationCode], ttl: timedelta
) -> set[StationCode]:
    with factory() as session, session.begin():
        return acquire_leases(session, worker=name, stations=wanted, now=datetime.now(UTC), ttl=ttl)


def _switch(
    reader: Readers | None,
    held: set[StationCode],
    settings: WorkerSettings,
    factory: sessionmaker[Session],
    name: str,
    config: LarzaConfig,
) -> Readers | None:
    """Restart reading for the stations now held (None when none is)."""
    if reader is not None:
        reader.stop()
    listed = ", ".join(f"{n}.{s}" for n, s in sorted(held)) or "none"
    log.info("worker %s: holds %d stations: %s", name, len(held), listed)
    if not held:
        return None
    readers = Readers(settings, held, factory, config)
    log.info("worker %s: reading from %s", name, ", ".join(readers.servers))
    return readers


def _read(source: SeedLinkSource, queue: PacketQueue, stop: threading.Event) -> None:
    """The reader thread: packets from the server into the bounded queue (back-pressure).

    The SeedLink client is used from this thread only; it is closed here when ``stop`` is set.
    Packets read but not yet stored are simply read again after a restart.
    """
    try:
        queue.put_all(source.packets(), stop)
    except Exception:
        log.exception("worker: the SeedLink reader failed")
        raise
    finally:
        source.close()
