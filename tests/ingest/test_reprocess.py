"""``larza reprocess``: station x time chunks on Dask give what one continuous run gives.

The key property is tested first without Dask (the chunk task and the association called
directly, at two chunk sizes, against ``larza detect`` over the same files); then through
real Dask processes: a scheduler and two workers started here (one killed mid-run), a run
interrupted and resumed, a chunk that cannot be read (retried, named, the run goes on)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from detection import StationCoordinates
from ingest.config import LarzaConfig
from ingest.detect.files import Results
from ingest.reprocess import (
    Chunk,
    RunSpec,
    associate_chunks,
    parse_duration,
    parse_time,
    plan_chunks,
    reprocess,
    run_chunk,
)
from stations.db import make_engine, make_session_factory, migrate
from stations.errors import LarzaError
from stations.inventory import default_inventory_path, import_stationxml
from stations.runs import get_run, run_detections, run_events

from ..conftest import free_port
from .sds_quakes import STATIONS


def picks_of(results: Results) -> list[tuple[Any, ...]]:
    return [
        (
            str(d.key),
            pytest.approx(d.onset_time, abs=1e-6),
            pytest.approx(d.on_time, abs=1e-6),
            pytest.approx(d.off_time, abs=1e-6),
            pytest.approx(d.peak_ratio, rel=1e-4),  # the lead-in: LTA within e^-10
            pytest.approx(d.peak_amplitude, rel=1e-4),
            d.phase,
            d.polarity,
            d.profile,
        )
        for d in results.detections
    ]


def events_of(results: Results) -> list[tuple[Any, ...]]:
    return [
        (e.stations, e.pick_keys, pytest.approx(e.time, abs=1e-6), e.status)
        for e in (results.events[k] for k in sorted(results.events))
    ]


def test_durations_times_and_chunks() -> None:
    assert [parse_duration(t) for t in ("1d", "6h", "30m", "90s", "45")] == [
        86400,
        21600,
        1800,
        90,
        45,
    ]
    with pytest.raises(LarzaError, match="not a duration"):
        parse_duration("1 week")
    with pytest.raises(LarzaError, match="not an ISO time"):
        parse_time("yesterday")
    start = parse_time("2025-06-01T22:00")
    chunks = plan_chunks(["TJ.B", "TJ.A"], start, start + 3 * 3600 + 60, 3600 * 2)
    # aligned on the chunk length from the epoch: 22:00-00:00, then 00:00-01:01
    assert chunks == [
        Chunk("TJ.A", start, start + 7200),
        Chunk("TJ.B", start, start + 7200),
        Chunk("TJ.A", start + 7200, start + 3 * 3600 + 60),
        Chunk("TJ.B", start + 7200, start + 3 * 3600 + 60),
    ]
    assert chunks[0].name == "TJ.A 2025-06-01T22:00:00Z"
    with pytest.raises(LarzaError, match="end must be after"):
        plan_chunks(["TJ.A"], start, start, 60)


@pytest.mark.parametrize("chunk_s", [600.0, 1500.0])
def test_chunks_give_what_one_continuous_run_gives(
    archive: tuple[Path, float, float],
    positions: dict[str, StationCoordinates],
    continuous: Results,
    chunk_s: float,
) -> None:
    root, start, end = archive
    chunks = plan_chunks(list(STATIONS), start, end, chunk_s)
    assert len(chunks) > 2 * len(STATIONS)  # boundaries inside the data, midnight among them
    results = [run_chunk(str(root), c, "", str(root), c.end >= end) for c in chunks]
    # each chunk's picks are those of its own span only
    for result in results:
        c = result.chunk
        assert all(c.start <= p.trigger.onset_time < c.end for p in result.picks)
    out = associate_chunks(reversed(results), LarzaConfig(), positions)  # any order of arrival
    assert len(continuous.detections) >= 60
    assert {d.phase for d in continuous.detections} == {"P", "S"}
    assert len(continuous.events) >= 10
    assert picks_of(out) == picks_of(continuous)
    assert events_of(out) == events_of(continuous)


# -- through Dask --------------------------------------------------------------------------


@pytest.fixture
def factory(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine: Engine = make_engine(fresh_database_url)
    migrate(engine)
    made = make_session_factory(engine)
    with made() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    yield made
    engine.dispose()


def spec(archive: tuple[Path, float, float], name: str, chunk_s: float = 600.0) -> RunSpec:
    root, start, end = archive
    return RunSpec(name, root, start, end, tuple(STATIONS), chunk_s, "", str(root))


def stored(factory: sessionmaker[Session], name: str) -> tuple[list[Any], list[Any]]:
    """A stored run's picks and events, in the form :func:`expected` gives them."""
    with factory() as s:
        run = get_run(s, name=name)
        assert run is not None
        picks = sorted(
            (
                f"{d.network}.{d.station}.{d.location}.{d.channel}",
                round(d.onset_time.timestamp(), 3),
                d.phase,
            )
            for d in run_detections(s, run_id=run.id, limit=10_000)
        )
        events = sorted(
            (tuple(e.stations.split()), round(e.time.timestamp(), 3))
            for e in run_events(s, run_id=run.id)
        )
    return picks, events


def expected(continuous: Results) -> tuple[list[Any], list[Any]]:
    """The reference's picks and events (times to the millisecond: onsets are on samples)."""
    picks = sorted((str(d.key), round(d.onset_time, 3), d.phase) for d in continuous.detections)
    events = sorted((e.stations, round(e.time, 3)) for e in continuous.events.values())
    return picks, events


class Killing:
    """A progress stream that runs ``action`` once, when the first chunk is done."""

    def __init__(self, action: Any) -> None:
        self.action = action
        self.done = False
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text
        if not self.done and " 1/" in text:
            self.done = True
            self.action()

    def flush(self) -> None:
        pass


def _dask(*args: str, log: Path) -> subprocess.Popen[bytes]:
    dask = Path(sys.executable).parent / "dask"
    with log.open("wb") as out:
        return subprocess.Popen([str(dask), *args], stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not ended in 20 s (a worker on a loaded machine may be
    slow to close)."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


@pytest.mark.e2e
def test_a_cluster_of_two_workers_loses_one_and_the_run_is_the_same(
    archive: tuple[Path, float, float],
    continuous: Results,
    positions: dict[str, StationCoordinates],
    factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = [
        _dask(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            ":0",
            log=tmp_path / "scheduler.log",
        ),
    ]
    try:
        for i in range(2):
            processes.append(
                _dask(
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--no-nanny",
                    "--name",
                    f"w{i}",
                    log=tmp_path / f"worker{i}.log",
                )
            )
        with Client(address, timeout="60s") as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(2, timeout=120)
            stream = Killing(lambda: os.kill(processes[1].pid, signal.SIGKILL))
            summary = reprocess(
                spec(archive, "cluster", 300.0),
                factory,
                client,
                LarzaConfig(),
                positions=positions,
                resume=False,
                stream=stream,  # type: ignore[arg-type]
                window_s=900.0,
            )
        assert stream.done
        assert summary.status == "finished"
        assert summary.failed == []
        assert (summary.windows, summary.serial_because) == (4, "")
        assert summary.detections == len(continuous.detections)
        assert stored(factory, "cluster") == expected(continuous)
    finally:
        for p in reversed(processes):  # the workers first, then the scheduler
            _stop(p)


@pytest.mark.e2e
def test_an_interrupted_run_resumes_where_it_stopped(
    archive: tuple[Path, float, float],
    continuous: Results,
    positions: dict[str, StationCoordinates],
    factory: sessionmaker[Session],
) -> None:
    from distributed import Client, LocalCluster

    def interrupt() -> None:
        raise KeyboardInterrupt

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster,  # type: ignore[no-untyped-call]
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        with pytest.raises(KeyboardInterrupt):
            reprocess(
                spec(archive, "stopped"),
                factory,
                client,
                LarzaConfig(),
                positions=positions,
                resume=False,
                stream=Killing(interrupt),  # type: ignore[arg-type]
            )
        with factory() as s:
            run = get_run(s, name="stopped")
            assert run is not None
            assert run.status == "interrupted"
            assert run.chunks_done >= 1
        summary = reprocess(
            spec(archive, "stopped"),
            factory,
            client,
            LarzaConfig(),
            positions=positions,
            resume=True,
            window_s=1300.0,
        )
        # windows that cannot be stitched (no warm-up, no overlap): serial, and said so
        serial = reprocess(
            spec(archive, "serial", 1200.0),
            factory,
            client,
            LarzaConfig(),
            positions=positions,
            resume=False,
            window_s=1300.0,
            warmup_s=0.0,
            overlap_s=0.0,
        )
    assert summary.status == "finished"
    assert summary.skipped >= 1
    assert (summary.windows, summary.serial_because) == (3, "")
    assert stored(factory, "stopped") == expected(continuous)
    assert serial.windows == 0
    assert serial.serial_because.startswith("no quiet point in the association")
    assert stored(factory, "serial") == expected(continuous)
    with factory() as s:
        run = get_run(s, name="stopped")
        assert run is not None
        assert (run.chunks_done, run.chunks_failed) == (run.chunks, 0)
        assert run.finished_at is not None


@pytest.mark.e2e
def test_a_chunk_that_cannot_be_read_is_named_and_the_run_goes_on(
    archive: tuple[Path, float, float], fresh_database_url: str, tmp_path: Path
) -> None:
    """Through the command, on a local cluster: a day file that is a folder fails its chunks
    (tried three times), which are named; the others are stored; ``--resume`` tries them
    again once the file is readable."""
    root = archive[0]
    broken = tmp_path / "sds"
    subprocess.run(["cp", "-r", str(root), str(broken)], check=True)
    day = next(broken.glob("2025/TJ/MURGH/HHZ.D/*.2025.153"))
    saved = day.read_bytes()
    day.unlink()
    day.mkdir()
    env = {**os.environ, "LARZA_DATABASE_URL": fresh_database_url}
    larza = [sys.executable, "-m", "ingest"]
    subprocess.run([*larza, "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([*larza, "stations", "import", "--default"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    args = [*larza, "reprocess", "--archive", str(broken), "--start", "2025-06-01T23:30",
            "--end", "2025-06-02T00:30", "--chunk", "30m", "--workers", "1", "--name", "r1",
            "--progress"]  # fmt: skip
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    # the chunk of 00:00 reads that day's file; the one of 23:30 reads it for its tail
    assert "failed: TJ.MURGH 2025-06-01T23:30:00Z: IsADirectoryError" in done.stderr
    assert "failed: TJ.MURGH 2025-06-02T00:00:00Z: IsADirectoryError" in done.stderr
    assert "run r1: partial, 6 chunks, 2 failed" in done.stderr
    assert "station-days/min, ETA" in done.stderr
    day.rmdir()
    day.write_bytes(saved)
    again = subprocess.run(
        [*larza, "reprocess", "--archive", str(broken), "--resume", "r1", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "run r1: finished, 6 chunks (4 done before)" in again.stderr
    refused = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "a run named 'r1' exists: --resume r1 continues it" in refused.stderr


def test_a_span_of_a_day_file_is_found_by_bisection_and_a_mixed_file_read_whole(
    archive: tuple[Path, float, float], tmp_path: Path
) -> None:
    from ingest.detect.files import Progress, _span_bytes, file_records

    root, start, _ = archive
    day = next(root.glob("2025/TJ/SAREZ/HHZ.D/*.2025.152"))
    span = (start + 600.0, start + 900.0)
    whole = [r for r in file_records(day, Progress()) if r.endtime > span[0]]
    whole = [r for r in whole if r.starttime < span[1]]
    window = _span_bytes(day, span)
    assert window is not None
    assert 0 < len(window[1]) < day.stat().st_size / 3  # 5 of the file's 30 minutes are read
    found = list(file_records(day, Progress(), span))
    assert [(r.starttime, r.endtime) for r in found] == [(r.starttime, r.endtime) for r in whole]
    # two channels in one file (as ObsPy writes a stream): not one stream in time order
    mixed = tmp_path / "mixed.mseed"
    other = next(root.glob("2025/TJ/SAREZ/HHN.D/*.2025.152"))
    mixed.write_bytes(day.read_bytes() + other.read_bytes())
    assert _span_bytes(mixed, span) is None
    both = list(file_records(mixed, Progress(), span))
    expected = [
        r for r in file_records(mixed, Progress()) if r.endtime > span[0] and r.starttime < span[1]
    ]
    assert len(both) > len(whole)
    assert [(str(r.key), r.starttime) for r in both] == [
        (str(r.key), r.starttime) for r in expected
    ]
    assert [r.endtime for r in both] == sorted(r.endtime for r in both)


def test_a_chunk_the_archive_has_no_data_in_is_empty_not_failed(
    archive: tuple[Path, float, float],
) -> None:
    root, start, end = archive
    none = run_chunk(str(root), Chunk("XX.NONE", start, start + 600), "", str(root), False)
    after = run_chunk(str(root), Chunk("TJ.SAREZ", end + 3600, end + 4200), "", str(root), True)
    inside = run_chunk(str(root), Chunk("TJ.SAREZ", start, start + 600), "", str(root), False)
    assert (none.empty, none.records, none.picks) == (True, 0, ())
    assert after.empty
    assert not inside.empty
    assert inside.own_records > 0


def test_a_resume_from_another_source_is_refused(session: Session, tmp_path: Path) -> None:
    from ingest.reprocess import Fdsn, spec_of_run
    from stations.runs import create_run

    sds, url = tmp_path / "sds", "http://archive.example:8080"
    for name, kind, where in [("a", "sds", str(sds)), ("b", "fdsn", url), ("old", None, None)]:
        create_run(session, name=name, config="", start=0.0, end=3600.0, stations=["TJ.SAREZ"],
                   chunk_s=600.0, chunks=6, now=datetime.now(UTC), source_kind=kind,
                   source=where, station_selection="all" if kind else None)  # fmt: skip
    assert spec_of_run(session, "a", sds, "").source == str(sds)
    assert spec_of_run(session, "a", sds, "").stations_given is False
    assert spec_of_run(session, "b", sds, "", Fdsn(url)).source == Fdsn(url)
    with pytest.raises(LarzaError, match=rf"run 'a' read the SDS archive {sds}; this resume "
                       r"would read the SDS archive /elsewhere: say --archive"):  # fmt: skip
        spec_of_run(session, "a", Path("/elsewhere"), "")
    with pytest.raises(LarzaError, match=rf"would read the FDSN dataselect service {url}"):
        spec_of_run(session, "a", sds, "", Fdsn(url))
    with pytest.raises(LarzaError, match=rf"say --fdsn {url} to resume it"):
        spec_of_run(session, "b", sds, "")
    assert spec_of_run(session, "old", sds, "").source == str(sds)  # nothing recorded to check
