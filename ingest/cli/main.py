"""The ``larza`` command: database, stations, the demo feed, the worker, the API, the demo."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ingest.cli.apikey import apikey_app
from ingest.cli.common import (
    DEFAULT_DATABASE_URL,
    DatabaseUrl,
    database,
    database_errors,
    fail,
    settings_problem,
)
from ingest.cli.drill import drill_app
from ingest.cli.reprocess import reprocess_command
from ingest.cli.seedlink import seedlink_app
from ingest.cli.webhook import webhook_app
from ingest.config import DEFAULT_PATH as DEFAULT_CONFIG_PATH
from stations.errors import LarzaError

app = typer.Typer(
    help="Larza: seismic station monitoring.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
stations_app = typer.Typer(help="Station metadata (StationXML).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(stations_app, name="stations")
app.add_typer(apikey_app, name="apikey")
app.add_typer(seedlink_app, name="seedlink")
app.add_typer(webhook_app, name="webhook")
app.add_typer(drill_app, name="drill")
app.command("reprocess")(reprocess_command)


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@db_app.command("migrate")
def db_migrate(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from stations.db import current_revision, migrate

    with database(database_url, migrated=False) as engine:
        migrate(engine)
        typer.echo(f"database at revision {current_revision(engine)}")


@stations_app.command("import")
def stations_import(
    files: Annotated[list[Path] | None, typer.Argument(help="StationXML files")] = None,
    default: Annotated[bool, typer.Option("--default", help="the shipped TJ inventory")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Import StationXML: every file whole, or nothing of it."""
    from stations.db import make_session_factory
    from stations.inventory import default_inventory_path, import_stationxml

    paths = list(files or []) + ([default_inventory_path()] if default else [])
    if not paths:
        raise fail("name StationXML files, or --default for the shipped inventory")
    with database(database_url) as engine:
        factory = make_session_factory(engine)
        try:
            for path in paths:
                with factory() as session, session.begin():
                    summary = import_stationxml(session, path)
                typer.echo(
                    f"{path.name}: {summary.networks} networks, {summary.stations} stations, "
                    f"{summary.channels} channels"
                )
        except LarzaError as e:
            raise fail(str(e)) from e


@stations_app.command("list")
def stations_list(database_url: DatabaseUrl = None) -> None:
    """Print the stations and channels in the database."""
    from stations.db import make_session_factory
    from stations.queries import list_stations

    with database(database_url) as engine, make_session_factory(engine)() as session:
        for s in list_stations(session):
            codes = " ".join(sorted(f"{c.location}.{c.code}".lstrip(".") for c in s.channels))
            typer.echo(f"{s.network.code}.{s.code}\t{s.latitude:.3f}\t{s.longitude:.3f}\t{codes}")


@app.command()
def feed(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="SeedLink port")] = 18000,
    inventory: Annotated[
        Path | None, typer.Option(help="StationXML of the stations to simulate")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (repeatable data)")] = None,
    event_interval: Annotated[
        float, typer.Option(help="seconds between synthetic earthquakes")
    ] = 60.0,
    first_event_after: Annotated[
        float, typer.Option(help="seconds to the first earthquake")
    ] = 20.0,
    faults: Annotated[
        Path | None, typer.Option(help="TOML of drill faults ([[fault]] kind, start, end, ...)")
    ] = None,
    soh_rate: Annotated[
        float | None, typer.Option(help="add Centaur-style SOH channels at this rate (1 or 0.1)")
    ] = None,
    replay: Annotated[
        list[Path] | None, typer.Option(help="replay these miniSEED files (repeatable)")
    ] = None,
    sds: Annotated[Path | None, typer.Option(help="replay this SDS archive")] = None,
    begin: Annotated[datetime | None, typer.Option(help="SDS replay start (UTC)")] = None,
    end: Annotated[datetime | None, typer.Option(help="SDS replay end (UTC)")] = None,
    replay_mode: Annotated[
        str, typer.Option(help="realtime (re-timed to now), original or fast")
    ] = "realtime",
    ring_size: Annotated[int, typer.Option(help="packets kept for resuming clients")] = 100_000,
    ring_file: Annotated[
        Path | None,
        typer.Option(help="keep the ring in this file across restarts (loaded, saved at stop)"),
    ] = None,
    record_seconds: Annotated[
        float,
        typer.Option(
            min=0.1, help="send a record once its first sample is this old (short records)"
        ),
    ] = 4.0,
    reach_km: Annotated[
        float | None,
        typer.Option(min=1.0, help="synthetic quakes reach stations this close (default: all)"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="the worker's larza.toml: quakes travel by its [velocity_model]"),
    ] = None,
    scenario: Annotated[
        Path | None, typer.Option(help="play this scenario quake (TOML) with known truth")
    ] = None,
    truth: Annotated[
        Path, typer.Option(help="where --scenario writes its truth (for 'larza drill report')")
    ] = Path("var/drill-truth.json"),
    verbose: bool = False,
) -> None:
    """Serve SeedLink: synthetic noise and earthquakes, a scenario quake, or a replay, with
    optional faults."""
    from ingest.cli.feed import FeedOptions, run_feed
    from ingest.cli.ports import check_port_free
    from stations.inventory import default_inventory_path

    _logging(verbose)
    if replay_mode not in ("realtime", "original", "fast"):
        raise fail(f"--replay-mode must be realtime, original or fast, got {replay_mode!r}")
    utc = [t if t is None or t.tzinfo else t.replace(tzinfo=UTC) for t in (begin, end)]
    options = FeedOptions(
        inventory=inventory or default_inventory_path(),
        host=host,
        port=port,
        seed=seed,
        event_interval=event_interval,
        first_event_after=first_event_after,
        ring_size=ring_size,
        faults=faults,
        soh_rate=soh_rate,
        replay=tuple(replay or ()),
        sds=sds,
        begin=utc[0],
        end=utc[1],
        replay_mode=replay_mode,  # type: ignore[arg-type]
        ring_file=ring_file,
        record_seconds=record_seconds,
        reach_km=reach_km,
        config=config,
        scenario=scenario,
        truth=truth,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        check_port_free(host, port)
        run_feed(options)
    except LarzaError as e:
        raise fail(str(e)) from e
    except KeyboardInterrupt:
        logging.getLogger("larza.feed").info("feed: stopped")


@app.command()
def worker(
    seedlink: Annotated[str | None, typer.Option(help="SeedLink server host:port")] = None,
    stations: Annotated[str | None, typer.Option(help="NET.STA,... (default: all)")] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", envvar="LARZA_CONFIG", help="larza.toml (default: ./larza.toml if any)"
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    verbose: bool = False,
) -> None:
    """Ingest SeedLink data: detect, associate, watch health, store, resume after restarts."""
    from pydantic import ValidationError

    from ingest.worker.process import run_worker
    from ingest.worker.settings import WorkerSettings

    _logging(verbose)
    overrides = {
        k: v
        for k, v in {
            "seedlink": seedlink,
            "stations": stations,
            "database_url": database_url,
            "config": str(config) if config else None,
        }.items()
        if v is not None
    }
    try:
        settings = WorkerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        raise fail(settings_problem(e)) from e
    with database(settings.database_url):  # reachable and migrated, or one line
        pass
    with database_errors(settings.database_url):  # and any database error later too
        try:
            run_worker(settings)
        except LarzaError as e:
            raise fail(str(e)) from e


@app.command()
def detect(
    paths: Annotated[
        list[Path], typer.Argument(help="miniSEED (or ObsPy-readable) files or folders")
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", envvar="LARZA_CONFIG", help="larza.toml (default: ./larza.toml if any)"
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl, csv or quakeml (events with their picks)")
    ] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="progress on stderr (default: if a tty)"),
    ] = None,
    inventory: Annotated[
        list[Path] | None,
        typer.Option(
            "--inventory", help="StationXML of the stations (default: the shipped TJ inventory)"
        ),
    ] = None,
) -> None:
    """Run the worker's detection and association over files, record by record."""
    from ingest.config import load_config
    from ingest.detect.files import Progress, run_detect, station_positions, write_results
    from stations.inventory import default_inventory_path

    if fmt not in ("jsonl", "csv", "quakeml"):
        raise fail(f"--format must be jsonl, csv or quakeml, got {fmt!r}")
    try:
        settings = load_config(config)
        show = sys.stderr.isatty() if progress is None else progress
        positions = station_positions(inventory or [default_inventory_path()])
        results = run_detect(
            paths, settings, Progress(stream=sys.stderr if show else None), positions
        )
    except LarzaError as e:
        raise fail(str(e)) from e
    if output is None:
        write_results(results, fmt, sys.stdout)  # type: ignore[arg-type]
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            write_results(results, fmt, out)  # type: ignore[arg-type]
    phases = Counter(d.phase or "no phase" for d in results.detections)
    said = ", ".join(f"{n} {phase}" for phase, n in sorted(phases.items()))
    repeated = results.stats["repeated"]
    typer.echo(
        f"{len(results.detections)} detections, {len(results.events)} events"
        + (f" ({said})" if said else "")
        + (f"; {repeated} records repeated or overlapping, each fed once" if repeated else ""),
        err=True,
    )


@app.command()
def api(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    database_url: DatabaseUrl = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="LARZA_API_WORKERS",
            help="processes serving the port (each with LARZA_API_THREADS threads and as many "
            "database connections, plus 4)",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API."""
    import uvicorn
    from pydantic import ValidationError

    from api.settings import ApiSettings
    from ingest.cli.ports import check_port_free

    url = database_url or DEFAULT_DATABASE_URL
    try:
        ApiSettings(database_url=url)  # what the server will read: refused here in one line
    except ValidationError as e:
        raise fail(settings_problem(e)) from e
    with database(url):  # reachable and migrated, or one line
        pass
    try:
        check_port_free(host, port)
    except LarzaError as e:
        raise fail(str(e)) from e
    os.environ["LARZA_DATABASE_URL"] = url
    uvicorn.run(
        "api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@app.command()
def demo(
    api_port: Annotated[int, typer.Option(help="HTTP port of the API")] = 8000,
    seedlink_port: Annotated[int, typer.Option(help="port of the demo SeedLink feed")] = 18000,
    database_url: DatabaseUrl = None,
    event_interval: Annotated[
        float, typer.Option(help="seconds between synthetic earthquakes")
    ] = 60.0,
) -> None:
    """Migrate, load the default stations, and run feed + worker + API until Ctrl-C."""
    from ingest.cli.ports import check_port_free

    try:
        check_port_free("127.0.0.1", seedlink_port)
        check_port_free("127.0.0.1", api_port)
    except LarzaError as e:
        raise fail(str(e)) from e
    url = database_url or DEFAULT_DATABASE_URL
    db_migrate(url)
    stations_import(None, default=True, database_url=url)
    env = {**os.environ, "LARZA_DATABASE_URL": url}
    me = [sys.executable, "-m", "ingest"]
    # the feed's quakes travel by the model the worker locates with: the worker's larza.toml
    # here, else its defaults (an empty file)
    config = DEFAULT_CONFIG_PATH
    if not config.exists():
        config = Path(tempfile.mkdtemp(prefix="larza-demo-")) / "larza.toml"
        config.write_text("")
    feed = [*me, "feed", "--port", str(seedlink_port), "--event-interval", str(event_interval)]
    procs = [subprocess.Popen([*feed, "--config", str(config)], env=env)]
    time.sleep(1.0)
    procs.append(
        subprocess.Popen([*me, "worker", "--seedlink", f"127.0.0.1:{seedlink_port}"], env=env)
    )
    procs.append(subprocess.Popen([*me, "api", "--port", str(api_port)], env=env))
    base = f"http://127.0.0.1:{api_port}"
    typer.echo(
        f"\nLarza demo is starting:\n"
        f"  SeedLink feed   127.0.0.1:{seedlink_port}\n"
        f"  stations        {base}/api/v1/stations\n"
        f"  detections      {base}/api/v1/detections\n"
        f"  events          {base}/api/v1/events\n"
        f"  API docs        {base}/docs\n"
        f"Ctrl-C stops everything.\n"
    )
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        failed = [p.args for p in procs if p.poll() not in (None, 0)]
        if failed:
            typer.echo(f"error: a demo process exited: {failed}", err=True)
    except KeyboardInterrupt:
        typer.echo("stopping ...")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    app()
