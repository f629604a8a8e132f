"""The association of a run in windows with overlap, stitched where both windows are quiet
in the same state, equals the serial association over all picks (which equals ``larza
detect``'s, ``test_reprocess.py``): the picks and every field of every event, keys included;
and where there is no such point it says so, and the run's association is serial.

The windows' tasks are called directly here (the cluster runs the same function); the runs
through Dask are in ``test_reprocess.py``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from detection import StationCoordinates
from ingest.config import LarzaConfig
from ingest.detect.files import Results
from ingest.reprocess import ChunkPick, ChunkResult, associate_chunks, plan_chunks, run_chunk
from ingest.reprocess.associate import ordered_picks
from ingest.reprocess.windows import (
    WindowResult,
    _tables,
    associate_window,
    plan_windows,
    stitch,
    takeovers,
)

from .sds_quakes import START, STATIONS, quake_times

Archive = tuple[Path, float, float]


@pytest.fixture(scope="module", params=[600.0, 1500.0], ids=["chunks-10min", "chunks-25min"])
def chunked(request: pytest.FixtureRequest, archive: Archive) -> list[ChunkResult]:
    root, start, end = archive
    chunks = plan_chunks(list(STATIONS), start, end, request.param)
    return [run_chunk(str(root), c, "", str(root), c.end >= end) for c in chunks]


@pytest.fixture(scope="module")
def serial(chunked: list[ChunkResult], positions: dict[str, StationCoordinates]) -> Results:
    return associate_chunks(chunked, LarzaConfig(), positions)


def windowed(
    picks: list[ChunkPick],
    positions: dict[str, StationCoordinates],
    start: float,
    end: float,
    window_s: float,
    **overlaps: float,
) -> list[WindowResult]:
    """Each window's task over the picks it holds, as the cluster runs them."""
    out = []
    for window in plan_windows(start, end, window_s, **overlaps):
        held = [i for i, p in enumerate(picks) if window.holds(p)]
        first = held[0] if held else 0
        assert held == list(range(first, first + len(held)))  # one run of the ordered picks
        out.append(
            associate_window(picks[first : first + len(held)], first, LarzaConfig(), positions)
        )
    return out


@pytest.mark.parametrize("window_s", [650.0, 900.0, 1300.0, 2000.0])
def test_windows_stitched_give_the_serial_association(
    archive: Archive,
    chunked: list[ChunkResult],
    serial: Results,
    positions: dict[str, StationCoordinates],
    window_s: float,
) -> None:
    _, start, end = archive
    picks = ordered_picks(chunked)
    windows = windowed(picks, positions, start, end, window_s)
    assert len(windows) >= 2
    points, stuck = takeovers(windows)
    assert stuck is None
    assert len(points) == len(windows) - 1
    out = stitch(picks, windows)
    assert isinstance(out, Results)
    assert len(serial.events) >= 10
    assert out.detections == serial.detections
    assert sorted(out.events) == sorted(serial.events)  # the keys, renumbered
    for key, event in serial.events.items():  # every field: origin, picks, version, status
        assert out.events[key] == event
        assert out.events[key].picks == event.picks


def test_a_window_that_starts_inside_a_quake_takes_over_after_it(
    archive: Archive,
    chunked: list[ChunkResult],
    serial: Results,
    positions: dict[str, StationCoordinates],
) -> None:
    """No warm-up: the second window starts between one quake's picks at the first station
    and those at the others (its own events of that quake are left out), and takes over at
    a quiet point after the quake; events and their keys still equal the serial ones."""
    _, start, end = archive
    quake = quake_times(60.0)[2]
    boundary = quake + 9.0  # the picks of the first station are reported before it
    picks = ordered_picks(chunked)
    around = [p.emitted[0] - quake for p in picks if 0 < p.emitted[0] - quake < 40]
    assert min(around) < boundary - quake < max(around)
    windows = windowed(picks, positions, start, end, boundary - start,
                       warmup_s=0.0, overlap_s=900.0)  # fmt: skip
    points, stuck = takeovers(windows)
    assert stuck is None
    at = points[0][0]
    assert picks[at].emitted[0] > boundary + 60  # after the quake, at the next quiet point
    assert windows[1].events  # the second window made events of its own before it took over
    out = stitch(picks, windows)
    assert isinstance(out, Results)
    assert out.detections == serial.detections
    assert out.events == serial.events


def test_without_a_quiet_point_in_the_same_state_the_windows_are_not_stitched(
    archive: Archive,
    chunked: list[ChunkResult],
    positions: dict[str, StationCoordinates],
) -> None:
    """A warm-up too short for the stations' latest picks to be known: where both windows
    are quiet, the second window's state is not the first's, so it is never taken over."""
    _, start, end = archive
    picks = ordered_picks(chunked)
    windows = windowed(picks, positions, start, end, 1300.0, warmup_s=200.0, overlap_s=0.0)
    both = set(windows[0].quiet) & set(windows[1].quiet)
    assert both  # quiet at the same places...
    assert all(windows[0].quiet[at][1] != windows[1].quiet[at][1] for at in both)  # ...not same
    _, stuck = takeovers(windows)
    assert stuck is windows[1]
    said = stitch(picks, windows)
    assert isinstance(said, str)
    assert said.startswith("no quiet point in the association to start a window at, after 2025")


def test_windows_without_picks_are_left_out(
    chunked: list[ChunkResult], serial: Results, positions: dict[str, StationCoordinates]
) -> None:
    """Windows before the first pick and after the last one: the run's association is
    still the serial one."""
    picks = ordered_picks(chunked)
    last = max(p.emitted[0] for p in picks if math.isfinite(p.emitted[0]))
    windows = windowed(picks, positions, START - 7200.0, last + 7200.0, 2000.0)
    assert windows[0].stop == windows[0].first
    assert windows[-2].stop == windows[-2].first
    out = stitch(picks, windows)
    assert isinstance(out, Results)
    assert out.events == serial.events


def test_the_travel_time_table_is_read_once_a_process(
    chunked: list[ChunkResult], positions: dict[str, StationCoordinates]
) -> None:
    picks = ordered_picks(chunked)[:12]
    associate_window(picks, 0, LarzaConfig(), positions)
    tables = dict(_tables)
    associate_window(picks, 0, LarzaConfig(), positions)
    assert len(_tables) == 1
    assert all(_tables[k] is t for k, t in tables.items())


def test_windows_are_planned_so_that_only_the_last_waits_for_the_last_chunks() -> None:
    day = plan_windows(0.0, 86400.0, 14400.0, 1200.0, 600.0, last_from=82800.0 - 600.0)
    assert [(w.low, w.high) for w in day] == [
        (-math.inf, 14400.0 + 600.0),
        *((e - 1200.0, e + 14400.0 + 600.0) for e in (14400.0, 28800.0, 43200.0, 57600.0)),
        (72000.0 - 1200.0, 82200.0 + 600.0),  # the window before the last stops before them
        (82200.0 - 1200.0, math.inf),
    ]
    assert [(w.low, w.high) for w in plan_windows(0.0, 100.0, 600.0)] == [(-math.inf, math.inf)]
