"""The ingest worker process: one SeedLink server, its stations, the pipeline, until stopped."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from types import FrameType

from detection import DetectorConfig
from ingest.archive import SdsArchive
from ingest.pipeline import Pipeline
from ingest.settings import WorkerSettings
from ingest.source import SeedLinkSource
from stations.db import make_engine, make_session_factory
from stations.queries import list_stations, stream_positions

log = logging.getLogger(__name__)


class Shutdown(Exception):
    """Raised from the SIGTERM handler so the worker stops between transactions."""


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
    try:
        for packet in source.packets():
            pipeline.handle(packet)
    except (Shutdown, KeyboardInterrupt) as e:
        log.info("worker: stopping (%s)", e or "interrupt")
    finally:
        source.close()
        engine.dispose()
        counts = {k: v for k, v in pipeline.counts.items() if ":" not in k}
        log.info("worker: stopped after %.0f s: %s", time.monotonic() - started, counts)
