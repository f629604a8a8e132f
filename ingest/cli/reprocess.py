"""``larza reprocess``: the archive through the live chain on a Dask cluster, stored as a
named catalogue run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ingest.cli.common import DEFAULT_DATABASE_URL, DatabaseUrl, database, fail
from stations.errors import LarzaError

__all__ = ["reprocess_command"]


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, or of a local one of ``workers`` worker
    processes (:func:`local_cluster`)."""
    from distributed import Client

    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:  # type: ignore[no-untyped-call]
            yield client
        return
    with local_cluster(workers) as address, Client(address, timeout="60s") as client:  # type: ignore[no-untyped-call]
        client.wait_for_workers(workers, timeout=120)
        yield client


@contextmanager
def local_cluster(workers: int) -> Iterator[str]:
    """A ``dask scheduler`` and ``workers`` ``dask worker`` processes (one thread each: the
    chain holds the GIL) on loopback, started as a cluster's are and stopped at the end;
    yields the scheduler's address.

    Not Dask's ``LocalCluster``: it keeps the scheduler and the workers' nannies in this
    process, where they share one interpreter lock with the run's storing (profiled on the
    bench's archive, 39 chunks: this process's event-loop thread spent 0.4 to 0.9 s of
    processor time a run with them, 0.1 s with a scheduler of its own). The processes are
    in a session of their own, so a Ctrl-C reaches only this one, which marks the run
    interrupted and then stops them."""
    dask = str(Path(sys.executable).parent / "dask")
    with tempfile.TemporaryDirectory(prefix="larza-dask-") as folder:
        file = Path(folder) / "scheduler.json"
        log = (Path(folder) / "dask.log").open("wb")
        quiet = {"DASK_LOGGING__DISTRIBUTED": "error", **os.environ}
        started: list[subprocess.Popen[bytes]] = []

        def start(*args: str) -> None:
            started.append(
                subprocess.Popen(  # the cluster's own processes, as its docs start them
                    [dask, *args], stdout=log, stderr=log, env=quiet, start_new_session=True
                )
            )

        try:
            start("scheduler", "--host", "127.0.0.1", "--port", "0",
                  "--dashboard-address", ":0", "--scheduler-file", str(file))  # fmt: skip
            for _ in range(workers):
                start("worker", "--scheduler-file", str(file), "--nworkers", "1",
                      "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                      "--preload", "ingest.reprocess.chunk",
                      "--preload", "ingest.reprocess.windows")  # fmt: skip
            yield _address(file, started[0], log.name)
        finally:
            for process in reversed(started):  # the workers first, then the scheduler
                process.terminate()
            for process in reversed(started):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()


def _address(file: Path, scheduler: subprocess.Popen[bytes], log: str) -> str:
    """The scheduler's address, once it has written its file (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return str(json.loads(file.read_text())["address"])
        except (OSError, ValueError, KeyError):  # not there yet, or half written
            if scheduler.poll() is not None or time.monotonic() > deadline:
                said = Path(log).read_text(errors="replace")[-2000:]
                raise LarzaError(f"the local Dask scheduler did not start: {said}") from None
            time.sleep(0.1)


def reprocess_command(
    start: Annotated[str | None, typer.Option(help="ISO time (UTC) the run starts")] = None,
    end: Annotated[str | None, typer.Option(help="ISO time (UTC) the run ends")] = None,
    stations: Annotated[
        str | None, typer.Option(help="NET.STA,... (default: every station in the archive)")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", envvar="LARZA_CONFIG", help="larza.toml (default: ./larza.toml if any)"
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="the run's name (default: run-TIME)")] = None,
    workers: Annotated[int, typer.Option(help="local Dask worker processes")] = 2,
    scheduler: Annotated[
        str | None, typer.Option(help="an existing Dask scheduler, tcp://HOST:8786")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="continue the run of this name: its chunks done are kept")
    ] = None,
    chunk: Annotated[str, typer.Option(help="chunk length: 1d, 6h, 30m, 90s")] = "1d",
    archive: Annotated[
        Path, typer.Option(envvar="LARZA_ARCHIVE_DIR", help="the SDS archive's root")
    ] = Path("var/archive"),
    fdsn: Annotated[
        str | None,
        typer.Option(
            help="read from this FDSN dataselect service (base URL, as ObsPy's Client takes "
            "it), not the archive"
        ),
    ] = None,
    retries: Annotated[int, typer.Option(help="tries again of a chunk that fails")] = 2,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="progress on stderr (default: if a tty)"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Reprocess the SDS archive (or an FDSN service's data) with the live chain on Dask,
    as a named catalogue run."""
    from detection import StationCoordinates
    from ingest.config import load_config
    from ingest.reprocess import (
        Fdsn,
        RunSpec,
        archive_stations,
        fdsn_stations,
        parse_duration,
        parse_time,
        reprocess,
        run_config,
        spec_of_run,
    )
    from stations.db import make_session_factory
    from stations.runs import get_run, station_positions

    if workers < 1:
        raise fail(f"--workers must be at least 1, got {workers}")
    show = sys.stderr.isatty() if progress is None else progress
    url = database_url or DEFAULT_DATABASE_URL
    base_dir = str((config or Path("larza.toml")).resolve().parent)
    service = Fdsn(fdsn.rstrip("/")) if fdsn else None
    with database(url) as engine:
        factory = make_session_factory(engine)
        try:
            if resume is not None:
                with factory() as s:
                    spec = spec_of_run(s, resume, archive.resolve(), base_dir, service)
                settings = run_config(spec.config_text, base_dir)
            else:
                if start is None or end is None:
                    raise LarzaError("say --start and --end (or --resume NAME)")
                t0, t1 = parse_time(start), parse_time(end)
                text = config.read_text(encoding="utf-8") if config is not None else _default()
                settings = load_config(config)
                if stations:
                    chosen = [s.strip() for s in stations.split(",") if s.strip()]
                elif service is not None:
                    chosen = fdsn_stations(service, t0, t1)
                else:
                    chosen = archive_stations(archive, t0, t1)
                if not chosen:
                    where = service.url if service is not None else archive
                    raise LarzaError(f"{where}: no station has data from {start} to {end}")
                spec = RunSpec(
                    name=name or f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}",
                    archive=archive.resolve(),
                    start=t0,
                    end=t1,
                    stations=tuple(chosen),
                    chunk_s=parse_duration(chunk),
                    config_text=text,
                    base_dir=base_dir,
                    fdsn=service,
                    stations_given=bool(stations),
                )
            with factory() as s:
                positions = {k: StationCoordinates(*v) for k, v in station_positions(s).items()}
                if resume is None and get_run(s, name=spec.name) is not None:
                    raise LarzaError(
                        f"a run named {spec.name!r} exists: --resume {spec.name} continues it"
                    )
            with dask_client(workers, scheduler) as client:
                summary = reprocess(
                    spec,
                    factory,
                    client,
                    settings,
                    positions=positions,
                    resume=resume is not None,
                    stream=sys.stderr if show else None,
                    retries=retries,
                )
        except LarzaError as e:
            raise fail(str(e)) from e
        except OSError as e:
            if scheduler is None:
                raise fail(f"the local Dask cluster did not start: {e}") from e
            raise fail(f"cannot reach the Dask scheduler {scheduler}: {e}") from e
    for line in summary.failed:
        typer.echo(f"failed: {line}", err=True)
    typer.echo(
        f"run {summary.name}: {summary.status}, {summary.chunks} chunks"
        + (f" ({summary.skipped} done before)" if summary.skipped else "")
        + (f", {len(summary.failed)} failed" if summary.failed else "")
        + (f", empty chunks: {summary.empty} (no data in the source)" if summary.empty else "")
        + f", {summary.detections} detections, {summary.events} events"
        + (
            f", associated in {summary.windows} window{'s' if summary.windows > 1 else ''}"
            if summary.windows
            else f", associated serially ({summary.serial_because})"
        ),
        err=True,
    )
    if summary.failed:
        raise typer.Exit(code=2)


def _default() -> str:
    """The text of ./larza.toml if there is one (what ``load_config(None)`` reads)."""
    path = Path("larza.toml")
    return path.read_text(encoding="utf-8") if path.exists() else ""
