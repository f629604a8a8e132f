"""The ingest worker process: one SeedLink server, its stations, the pipeline, until stopped."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from queue import Empty, Full, Queue
from types import FrameType

from detection import DetectorConfig
from ingest.archive import SdsArchive
from ingest.pipeline import Pipeline
from ingest.settings import WorkerSettings
from ingest.source import Packet, SeedLinkSource
from stations.db import make_engine, make_session_factory
from stations.queries import list_stations, stream_positions

log = logging.getLogger(__name__)


class Shutdown(Exception):
    """Raised from the SIGTERM handler; an open transaction rolls back and is redone on restart."""


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise Shutdown(f"signal {signum}")


def run_worker(settings: WorkerSettings, detector: DetectorConfig | None = None) -> None:
    """Pull packets from ``settings.seedlink`` and process them until SIGTERM or Ctrl-C."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    with factory() as session:
        wanted = settings.station_list() or [
            (s.network.code, s.code) for s in list_stations(session)
        ]
        positions = stream_positions(session, server=settings.seedlink)
    if not wanted:
        raise SystemExit("no stations to ingest: import an inventory first (larza stations import)")
    pipeline = Pipeline(
        factory,
        server=settings.seedlink,
        detector=detector or DetectorConfig(),
        association_window_s=settings.association_window_s,
        association_min_stations=settings.association_min_stations,
        archive=SdsArchive(Path(settings.archive_dir)) if settings.archive_dir else None,
    )
    source = SeedLinkSource(
        settings.seedlink,
        wanted,
        settings.selectors,
        positions,
        keepalive_s=settings.keepalive_s,
        idle_timeout_s=settings.idle_timeout_s,
        reconnect_delay_s=settings.reconnect_delay_s,
    )
    log.info(
        "worker: %d stations from %s (%s)",
        len(wanted),
        settings.seedlink,
        ", ".join(f"{n}.{s}" for n, s in wanted),
    )
    started = time.monotonic()
    queue: Queue[Packet] = Queue(maxsize=settings.queue_size)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read, args=(source, queue, stop), name="seedlink", daemon=True
    )
    reader.start()
    try:
        while True:
            batch = _next_batch(queue, settings.batch_max_packets, settings.batch_max_wait_s)
            if batch:
                pipeline.handle_many(batch)
            elif not reader.is_alive():
                raise RuntimeError("the SeedLink reader stopped")
    except (Shutdown, KeyboardInterrupt) as e:
        log.info("worker: stopping (%s)", e or "interrupt")
    finally:
        # A second signal (Ctrl-C, then a supervisor's SIGTERM) must not break the clean-up.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop.set()
        reader.join(timeout=5.0)
        engine.dispose()
        log.info(
            "worker: stopped after %.0f s: %s", time.monotonic() - started, dict(pipeline.counts)
        )


def _read(source: SeedLinkSource, queue: Queue[Packet], stop: threading.Event) -> None:
    """The reader thread: packets from the server into the bounded queue (back-pressure).

    The SeedLink client is used from this thread only; it is closed here when ``stop`` is set.
    Packets read but not yet stored are simply read again after a restart.
    """
    try:
        for packet in source.packets():
            while not stop.is_set():
                try:
                    queue.put(packet, timeout=0.5)
                    break
                except Full:
                    continue
            if stop.is_set():
                return
    except Exception:
        log.exception("worker: the SeedLink reader failed")
        raise
    finally:
        source.close()


def _next_batch(queue: Queue[Packet], max_packets: int, max_wait_s: float) -> list[Packet]:
    """Up to ``max_packets`` packets: waits at most ``max_wait_s`` for the first, then takes
    what is already queued, so a busy stream is stored in few transactions and a quiet one
    without delay."""
    try:
        batch = [queue.get(timeout=max_wait_s)]
    except Empty:
        return []
    while len(batch) < max_packets:
        try:
            batch.append(queue.get_nowait())
        except Empty:
            break
    return batch
