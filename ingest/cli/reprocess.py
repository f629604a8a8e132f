"""``larza reprocess``: the archive through the live chain on a Dask cluster, stored as a
named catalogue run."""

from __future__ import annotations

import logging
import sys
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
    """A client of the cluster at ``scheduler``, or of a local one of ``workers`` processes
    (one thread each: the chain holds the GIL)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:  # type: ignore[no-untyped-call]
            yield client
        return
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: another Dask may hold 8787
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


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
            raise fail(f"cannot reach the Dask scheduler {scheduler}: {e}") from e
    for line in summary.failed:
        typer.echo(f"failed: {line}", err=True)
    typer.echo(
        f"run {summary.name}: {summary.status}, {summary.chunks} chunks"
        + (f" ({summary.skipped} done before)" if summary.skipped else "")
        + (f", {len(summary.failed)} failed" if summary.failed else "")
        + (f", empty chunks: {summary.empty} (no data in the source)" if summary.empty else "")
        + f", {summary.detections} detections, {summary.events} events",
        err=True,
    )
    if summary.failed:
        raise typer.Exit(code=2)


def _default() -> str:
    """The text of ./larza.toml if there is one (what ``load_config(None)`` reads)."""
    path = Path("larza.toml")
    return path.read_text(encoding="utf-8") if path.exists() else ""
