"""A reprocessing run: chunks to the Dask cluster, each chunk's outcome stored as it comes
(so ``--resume`` skips what is done); the association in time windows on the cluster too,
each window's task as soon as the chunks it needs are done, stitched into the result of one
continuous association (:mod:`ingest.reprocess.windows`; serially on the client where that
cannot be: trigger groups and coincidences, or no quiet point to stitch at); and the run's
catalogue stored beside the live one.

A chunk that raises is retried by Dask (``retries``; a worker that dies takes its tasks to
the others, Dask's own rule); one that still fails is stored with its error, named on
stderr, and the run goes on: it ends ``partial``, and ``--resume`` tries the failed chunks
again. Ctrl-C marks the run ``interrupted``.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

from detection import StationCoordinates
from ingest.config import LarzaConfig
from ingest.detect.files import Results
from ingest.quakes.model import locates
from ingest.reprocess.associate import associate_chunks
from ingest.reprocess.chunk import chunk_task, from_json
from ingest.reprocess.fdsn import Fdsn
from ingest.reprocess.parallel import WindowedAssociation
from ingest.reprocess.plan import Chunk, plan_chunks
from ingest.reprocess.progress import Bar
from ingest.reprocess.windows import OVERLAP_S, WARMUP_S
from stations.errors import LarzaError
from stations.runs import (
    ChunkOutcome,
    RunPick,
    RunQuake,
    chunk_results,
    create_run,
    finish_run,
    get_run,
    store_catalogue,
    store_chunks,
)

log = logging.getLogger(__name__)

__all__ = ["RunSpec", "Summary", "reprocess"]

STORE_BATCH = 500
"""Chunks stored in one transaction at most."""


@dataclass(frozen=True)
class RunSpec:
    """What a run covers and how; stored with the run, so a resumed run is the same run."""

    name: str
    archive: Path
    start: float
    end: float
    stations: tuple[str, ...]
    chunk_s: float
    config_text: str
    base_dir: str
    fdsn: Fdsn | None = None  # read from this FDSN dataselect service, not the archive
    stations_given: bool = True  # named (--stations), not every station of the source

    @property
    def source(self) -> str | Fdsn:
        """What the chunks read: the archive's root, or the FDSN service."""
        return self.fdsn if self.fdsn is not None else str(self.archive)

    @property
    def source_kind(self) -> str:
        return "fdsn" if self.fdsn is not None else "sds"

    @property
    def source_text(self) -> str:
        """The archive's path, or the service's base URL, as stored with the run."""
        return self.fdsn.url if self.fdsn is not None else str(self.archive)

    def chunks(self) -> list[Chunk]:
        return plan_chunks(list(self.stations), self.start, self.end, self.chunk_s)


@dataclass(frozen=True)
class Summary:
    name: str
    status: str
    chunks: int
    skipped: int  # done before (resumed)
    failed: list[str]  # chunk names with their errors
    detections: int
    events: int
    cpu_s: float = 0.0  # the chunks' (and the association windows') processor time
    empty: int = 0  # chunks finished with no data in them (none in the source)
    windows: int = 0  # the association's windows on the cluster; 0: serial, on the client
    serial_because: str = ""  # why the association was serial, if it was


def spec_of_run(
    session: Session, name: str, archive: Path, base_dir: str, fdsn: Fdsn | None = None
) -> RunSpec:
    """The stored run ``name`` as a spec, to resume it (from ``archive``, or ``fdsn``); a
    source other than the one the run recorded is refused (its chunks done would be of
    other data)."""
    run = get_run(session, name=name)
    if run is None:
        raise LarzaError(f"no run named {name!r} to resume")
    kind, where = ("fdsn", fdsn.url) if fdsn is not None else ("sds", str(archive))
    if run.source_kind is not None and (run.source_kind, run.source) != (kind, where):
        said = f"--fdsn {run.source}" if run.source_kind == "fdsn" else f"--archive {run.source}"
        raise LarzaError(
            f"run {name!r} read {_describe_source(run.source_kind, run.source)}; this resume "
            f"would read {_describe_source(kind, where)}: say {said} to resume it, or start a "
            "new run"
        )
    return RunSpec(
        name=name,
        archive=archive,
        start=run.start.timestamp(),
        end=run.end.timestamp(),
        stations=tuple(s for s in run.stations.split(",") if s),
        chunk_s=run.chunk_s,
        config_text=run.config,
        base_dir=base_dir,
        fdsn=fdsn,
        stations_given=run.station_selection != "all",
    )


def _describe_source(kind: str, where: str | None) -> str:
    if kind == "fdsn":
        return f"the FDSN dataselect service {where}"
    return f"the SDS archive {where}"


def _task_key(spec: RunSpec, chunk: Chunk, attempt: str) -> str:
    """The chunk's task name on the cluster's dashboard; ``attempt`` tells this try of the run
    from an interrupted one whose tasks the scheduler may still be cancelling."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"reprocess-{spec.name}-{chunk.name}-{attempt}")


def reprocess(
    spec: RunSpec,
    factory: sessionmaker[Session],
    client: Any,
    config: LarzaConfig,
    *,
    positions: Mapping[str, StationCoordinates],
    resume: bool,
    stream: IO[str] | None = None,
    retries: int = 2,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    window_s: float | None = None,
    warmup_s: float = WARMUP_S,
    overlap_s: float = OVERLAP_S,
) -> Summary:
    """Run (or resume) ``spec`` on the Dask ``client``'s cluster and store its catalogue.
    ``window_s``, ``warmup_s``, ``overlap_s``: the association's windows (by default about
    three a worker; see :mod:`ingest.reprocess.windows`)."""
    from distributed import as_completed

    chunks = spec.chunks()
    with factory() as s, s.begin():
        if resume:
            run = get_run(s, name=spec.name)
            if run is None:
                raise LarzaError(f"no run named {spec.name!r} to resume")
            run.status = "running"
            run.finished_at = None
            if run.source_kind is None:  # stored before sources were recorded
                run.source_kind, run.source = spec.source_kind, spec.source_text
        else:
            run = create_run(
                s,
                name=spec.name,
                config=spec.config_text,
                start=spec.start,
                end=spec.end,
                stations=spec.stations,
                chunk_s=spec.chunk_s,
                chunks=len(chunks),
                now=clock(),
                source_kind=spec.source_kind,
                source=spec.source_text,
                station_selection="given" if spec.stations_given else "all",
            )
        run_id = run.id
        stored = chunk_results(s, run_id=run_id)
    bar = Bar(len(chunks), sum(c.end - c.start for c in chunks) / 86400, stream)
    todo: list[Chunk] = []
    for chunk in chunks:
        if stored.get(chunk.name, (False, ""))[0]:
            bar.skip((chunk.end - chunk.start) / 86400)
        else:
            todo.append(chunk)
    skipped = len(chunks) - len(todo)
    bar.show()
    attempt = uuid.uuid4().hex[:8]
    parsed = {
        c.name: from_json(c, stored[c.name][1])
        for c in chunks
        if stored.get(c.name, (False, ""))[0]
    }
    windowed: WindowedAssociation | None = None
    if positions and locates(config.location, len(positions)):
        windowed = WindowedAssociation(
            client,
            chunks,
            config,
            positions,
            workers=max(1, sum(client.nthreads().values())),
            key=_task_key(spec, chunks[0], attempt),
            retries=retries,
            window_s=window_s,
            warmup_s=warmup_s,
            overlap_s=overlap_s,
        )
        for chunk in chunks:
            if chunk.name in parsed:
                windowed.settle(chunk, parsed[chunk.name])
    futures = {
        client.submit(
            chunk_task,
            spec.source,
            chunk,
            spec.config_text,
            spec.base_dir,
            chunk.end >= spec.end,
            key=_task_key(spec, chunk, attempt),
            retries=retries,
            pure=False,
        ): chunk
        for chunk in todo
    }
    try:
        # the chunks done since the last look, fetched in one call and stored in one
        # transaction: the client's process does little per chunk
        for batch in as_completed(futures).batches():  # type: ignore[no-untyped-call]
            for part in range(0, len(batch), STORE_BATCH):
                outcomes = _store(batch[part : part + STORE_BATCH], futures, client, factory,
                                  run_id, bar, stream, clock)  # fmt: skip
                for chunk, outcome in outcomes:
                    result = from_json(chunk, outcome.result) if outcome.ok else None
                    if result is not None:
                        parsed[chunk.name] = result
                    if windowed is not None:
                        windowed.settle(chunk, result)
        bar.show(force=True)
        with factory() as s, s.begin():
            stored = chunk_results(s, run_id=run_id)
        results = [
            parsed.get(chunk.name) or from_json(chunk, stored[chunk.name][1])
            for chunk in chunks
            if stored.get(chunk.name, (False, ""))[0]
        ]
        windows, because, window_cpu = 0, "", 0.0
        catalogue: Results | str = "trigger groups and coincidences are associated serially"
        if windowed is not None:
            catalogue, window_cpu = windowed.results(results)
            windows = len(windowed.windows)
        if isinstance(catalogue, str):
            if windowed is not None:
                log.warning("run %s: the association is serial: %s", spec.name, catalogue)
            windows, because = 0, catalogue
            catalogue = associate_chunks(results, config, positions)
    except BaseException:
        with factory() as s, s.begin():
            run = get_run(s, name=spec.name)
            assert run is not None
            run.status = "interrupted"
        client.cancel(list(futures))
        if windowed is not None:
            windowed.release()
        raise
    picks, quakes = _rows(catalogue)
    status = "partial" if any(not ok for ok, _ in stored.values()) else "finished"
    with factory() as s, s.begin():
        store_catalogue(s, run_id=run_id, picks=picks, quakes=quakes)
        run = get_run(s, name=spec.name)
        assert run is not None
        finish_run(
            s, run=run, status=status, detections=len(picks), events=len(quakes), now=clock()
        )
    all_failed = [f"{name}: {text}" for name, (ok, text) in sorted(stored.items()) if not ok]
    cpu_s = sum(r.cpu_s for r in results) + window_cpu
    no_data = sum(r.empty for r in results)
    return Summary(spec.name, status, len(chunks), skipped, all_failed, len(picks), len(quakes),
                   cpu_s, no_data, windows, because)  # fmt: skip


def _store(
    done: list[Any],
    futures: dict[Any, Chunk],
    client: Any,
    factory: sessionmaker[Session],
    run_id: int,
    bar: Bar,
    stream: IO[str] | None,
    clock: Callable[[], datetime],
) -> list[tuple[Chunk, ChunkOutcome]]:
    """Store the outcomes of the futures ``done`` (and forget them on the cluster); return
    them."""
    finished = [f for f in done if f.status == "finished"]
    texts = dict(zip(finished, client.gather(finished), strict=True))
    outcomes: list[tuple[Chunk, ChunkOutcome]] = []
    for future in done:
        chunk = futures.pop(future)
        if future in texts:
            text, empty = texts[future]
            outcomes.append((chunk, ChunkOutcome(chunk.name, True, text, empty)))
            continue
        if future.status == "error":
            error = future.exception()
            text = f"{type(error).__name__}: {error}"
        else:  # cancelled on the cluster by someone else
            text = f"the task was {future.status}"
        if stream is not None:
            stream.write(f"\nchunk {chunk.name} failed: {text}\n")
        log.error("chunk %s failed: %s", chunk.name, text)
        outcomes.append((chunk, ChunkOutcome(chunk.name, False, text)))
    for future in done:
        future.release()
    with factory() as s, s.begin():
        store_chunks(s, run_id=run_id, chunks=[o for _, o in outcomes], now=clock())
    for chunk, outcome in outcomes:
        bar.advance((chunk.end - chunk.start) / 86400, ok=outcome.ok, empty=outcome.empty)
    return outcomes


def _rows(results: Results) -> tuple[list[RunPick], list[RunQuake]]:
    picks = [
        RunPick(
            network=d.key.network,
            station=d.key.station,
            location=d.key.location,
            channel=d.key.channel,
            on_time=d.on_time,
            off_time=d.off_time,
            onset_time=d.onset_time,
            peak_ratio=d.peak_ratio,
            snr=d.snr,
            peak_amplitude=d.peak_amplitude,
            profile=d.profile,
            phase=d.phase,
            onset_uncertainty=d.onset_uncertainty,
            polarity=d.polarity,
            bridged=d.bridged,
        )
        for d in results.detections
    ]
    quakes = [
        RunQuake(
            time=e.time,
            stations=e.stations,
            coincidence_sum=e.coincidence_sum,
            duration=e.duration,
            picks=e.pick_keys,
        )
        for e in sorted(results.events.values(), key=lambda e: (e.time, e.event_key))
    ]
    return picks, quakes
