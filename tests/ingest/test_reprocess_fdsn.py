"""``larza reprocess --fdsn URL``: the chunks read from an FDSN dataselect service give the
run over the archive it serves.

The service is Larza's own API, started as a process (``larza api``) over the test's SDS
archive, with a dataselect limit of 0.005 days a request, so that every chunk's request is
answered 413 and split; a station the service does not have answers 204 (no data: the
chunk is empty, not failed), a port where nothing listens stands for a service that is
down."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from detection import StationCoordinates
from ingest.config import LarzaConfig
from ingest.detect.files import Results
from ingest.reprocess import (
    Chunk,
    Fdsn,
    FdsnChunkError,
    associate_chunks,
    fdsn_stations,
    plan_chunks,
    run_chunk,
)
from ingest.reprocess.fdsn import fetch
from stations.db import make_engine, make_session_factory
from stations.queries import add_archived_records
from stations.runs import get_run

from ..conftest import free_port
from ..stack import get_json, larza
from .sds_quakes import STATIONS
from .test_reprocess import events_of, expected, picks_of, stored

MAX_DAYS = 0.005  # 432 s: a chunk of 10 min with its lead-in and tail is asked in two


@pytest.fixture
def service(
    request: pytest.FixtureRequest,
    archive: tuple[Path, float, float],
    fresh_database_url: str,
    tmp_path: Path,
) -> Iterator[tuple[str, str]]:
    """Larza's API as a process serving the archive (its day files indexed as the worker
    indexes what it writes), at most ``MAX_DAYS`` (or the parameter) a request; yields its
    URL and its database's."""
    root = archive[0]
    max_days = getattr(request, "param", MAX_DAYS)
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": fresh_database_url,
        "LARZA_ARCHIVE_DIR": str(root),
        "LARZA_DATASELECT_MAX_DAYS": str(max_days),
    }
    for step in (["db", "migrate"], ["stations", "import", "--default"]):
        subprocess.run([sys.executable, "-m", "ingest", *step], env=env, check=True,
                       capture_output=True)  # fmt: skip
    engine = make_engine(fresh_database_url)
    with sessionmaker(engine)() as s, s.begin():
        files = {
            p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_size // 512)
            for p in root.rglob("*.D.*")
        }
        add_archived_records(s, files=files, now=datetime.now(UTC))
    engine.dispose()
    port = free_port()
    api = larza("api", "--port", str(port), env=env, log=tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while get_json(base, "/healthz") is None:
            assert api.poll() is None, (tmp_path / "api.log").read_text()
            assert time.monotonic() < deadline, "the API did not answer within 60 s"
            time.sleep(0.2)
        yield base, fresh_database_url
    finally:
        api.terminate()
        try:
            api.wait(timeout=15)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()


@pytest.mark.e2e
def test_chunks_from_the_service_equal_chunks_from_the_archive(
    archive: tuple[Path, float, float],
    positions: dict[str, StationCoordinates],
    continuous: Results,
    service: tuple[str, str],
) -> None:
    root, start, end = archive
    source = Fdsn(service[0], attempts=2, backoff_s=0.1, min_split_s=200.0)
    chunks = plan_chunks(list(STATIONS), start, end, 1200.0)
    from_service = [run_chunk(source, c, "", str(root), c.end >= end) for c in chunks]
    from_archive = [run_chunk(str(root), c, "", str(root), c.end >= end) for c in chunks]
    for a, b in zip(from_service, from_archive, strict=True):
        assert a.picks == b.picks  # every pick the same, to the last bit, in the same order
        assert a.records == b.records
    assert sum(len(r.picks) for r in from_service) == len(continuous.detections)
    out = associate_chunks(from_service, LarzaConfig(), positions)
    assert picks_of(out) == picks_of(continuous)
    assert events_of(out) == events_of(continuous)


@pytest.mark.e2e
def test_errors_of_the_service_are_named(
    archive: tuple[Path, float, float], service: tuple[str, str]
) -> None:
    _, start, _ = archive
    url = service[0]
    # a 204: the service has no data of the station, an answer (not retried), not an error
    assert fetch(Fdsn(url, attempts=1), "XX.NONE", start, start + 300) == []
    split = Fdsn(url, attempts=1, min_split_s=200.0)
    nothing = run_chunk(split, Chunk("XX.NONE", start, start + 300), "", "", False)
    assert (nothing.empty, nothing.picks, nothing.records) == (True, (), 0)
    full = run_chunk(split, Chunk("TJ.SAREZ", start + 600, start + 900), "", "", False)
    assert not full.empty
    assert 0 < full.own_records < full.records  # the lead-in and tail besides the chunk's own
    # a request that cannot be split enough: 413, named with the service's reason
    with pytest.raises(FdsnChunkError, match=r"too large \(HTTP 413\).*days"):
        fetch(Fdsn(url, min_split_s=3600.0), "TJ.SAREZ", start, start + 1800)
    halves = fetch(Fdsn(url, min_split_s=200.0), "TJ.SAREZ", start, start + 1800)
    assert len(halves) == len(set(halves))  # records across the halves' edge kept once
    assert fdsn_stations(Fdsn(url), start, start + 60) == sorted(STATIONS)
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(FdsnChunkError, match=r"127\.0\.0\.1.*\(tried 2 times\)"):
        fetch(Fdsn(down, attempts=2, backoff_s=0.05), "TJ.SAREZ", start, start + 300)


@pytest.mark.e2e
@pytest.mark.parametrize("service", [1.0], indirect=True)  # no 413 here
def test_the_command_reads_the_service_and_names_the_chunks_it_cannot_have(
    continuous: Results, service: tuple[str, str]
) -> None:
    """``larza reprocess --fdsn URL`` on a local cluster: the same catalogue as over the
    archive; a station the service has no data of (204) gives chunks finished and empty, not
    failed; the run records its source, and a resume from another source is refused."""
    url, database_url = service
    env = {**os.environ, "LARZA_DATABASE_URL": database_url, "LARZA_ARCHIVE_DIR": "/nonexistent"}
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "reprocess", "--fdsn", url, "--start",
         "2025-06-01T23:30", "--end", "2025-06-02T00:30", "--chunk", "30m", "--workers", "1",
         "--retries", "1", "--no-progress", "--name", "fdsn", "--stations",
         "TJ.SAREZ,TJ.MURGH,TJ.MANEM,XX.NONE"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "failed" not in done.stderr
    assert "run fdsn: finished, 8 chunks, empty chunks: 2 (no data in the source)" in done.stderr
    resumed = [sys.executable, "-m", "ingest", "reprocess", "--resume", "fdsn", "--no-progress"]
    elsewhere = subprocess.run(resumed, env=env, capture_output=True, text=True, timeout=120)
    assert elsewhere.returncode == 1
    assert (
        f"run 'fdsn' read the FDSN dataselect service {url}; this resume would read the SDS "
        f"archive /nonexistent: say --fdsn {url} to resume it" in elsewhere.stderr
    ), elsewhere.stderr
    engine = make_engine(database_url)
    try:
        assert stored(make_session_factory(engine), "fdsn") == expected(continuous)
        with make_session_factory(engine)() as s:
            run = get_run(s, name="fdsn")
            assert run is not None
            assert (run.source_kind, run.source, run.station_selection) == ("fdsn", url, "given")
            assert (run.chunks_done, run.chunks_failed, run.chunks_empty) == (8, 0, 2)
    finally:
        engine.dispose()
