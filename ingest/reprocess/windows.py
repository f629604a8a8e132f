"""The network association of a run in time windows with overlap, run on the cluster in
parallel, stitched into exactly the result of one continuous association
(:func:`~ingest.reprocess.associate.associate_chunks`).

The picks, in the order a continuous run reports them, are cut by the time they were
reported into windows; each window's task (:func:`associate_window`) also associates a
warm-up before its window (``warmup_s``) and an overlap after it (``overlap_s``), and gives
its picks the indices they have in the whole run. After each group of picks it notes whether
the associator is *quiet* (no open event, candidate, waiting pick or glitch) and, if so, what
of its past can still shape the output (:meth:`detection.QuakeAssociator.quiet_state`: the
horizon and each live station's latest pick; and the loop's own ``closed`` time).

Stitching (:func:`stitch`), window after window: window k takes over from window k-1 at the
first group, in their overlap, after which both are quiet in the same state. From there
both have the same state (up to event keys) and get the same picks, so both make the same
events, which are the continuous run's if window k-1's were (by induction from the first
window, which starts with the run). Window k-1's events made up to that point are kept (all
final or deleted: nothing is open), window k's made after it, their keys renumbered to go on
from window k-1's. Where an overlap has no such point (a network that picks all the time),
the windows cannot be stitched and the run's association is made serially instead: never an
unequal result.

Only located earthquakes (:class:`detection.QuakeAssociator`) are associated in windows;
trigger groups and coincidences (fewer than three stations with coordinates, or none) are
associated serially.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from detection import StationCoordinates, TravelTimeTable
from ingest.config import LarzaConfig
from ingest.detect.chain import Detecting, EventChange, Found
from ingest.detect.files import Detected, Results
from ingest.longlived import LongLived
from ingest.quakes.model import velocity_model
from ingest.reprocess.associate import Associating, groups_of
from ingest.reprocess.chunk import ChunkPick

__all__ = [
    "OVERLAP_S",
    "WARMUP_S",
    "Window",
    "WindowResult",
    "associate_window",
    "dask_setup",
    "plan_windows",
    "stitch",
    "window_length",
]

WARMUP_S = 1200.0
"""Data a window's task associates before its window: the associator's live window (600 s,
stations' latest picks), a pick's longest wait in the pool (the S time across the network
and 15 s: under 5 minutes for a network 1,000 km wide) and a margin. Too short a warm-up
cannot make a wrong result, only no point to take over at (and the serial association)."""
OVERLAP_S = 600.0
"""Data a window's task associates past its window, for the next window to take over in."""
MIN_WINDOW_S = 4 * (WARMUP_S + OVERLAP_S)
"""Windows shorter than this would spend more than a quarter of their work on overlaps."""
MAX_WINDOW_S = 86400.0
"""A window's picks are held by its task: a day of a large network's picks at most."""

StateKey = tuple[float, float, tuple[tuple[str, float], ...]]
"""A quiet association's state: the loop's ``closed``, the horizon, stations' last picks."""


@dataclass(frozen=True)
class Window:
    """Window ``index``: the picks reported in ``[low, high)`` (data time), which is the
    window with its warm-up before and its overlap after."""

    index: int
    low: float
    high: float

    def holds(self, pick: ChunkPick) -> bool:
        return self.low <= pick.emitted[0] < self.high


@dataclass(frozen=True)
class WindowResult:
    """A window task's outcome. Positions are of the run's picks: after the group that ends
    at position ``n`` the first ``n`` picks have been associated."""

    first: int  # the position of its first pick
    stop: int  # and after its last
    quiet: dict[int, tuple[int, StateKey]]  # position -> (next event key, state), when quiet
    events: dict[int, tuple[float, EventChange]]  # its key -> (position made at, latest)
    """Made at ``stop + 0.5``: by the end of the data after its last pick (only the run's
    last window with picks has its events of then taken)."""
    cpu_s: float


def window_length(start: float, end: float, workers: int) -> float:
    """About three windows a worker (tasks of one size keep every worker busy to the end),
    between :data:`MIN_WINDOW_S` and :data:`MAX_WINDOW_S`."""
    span = max(end - start, 0.0)
    return min(max(span / (3 * max(workers, 1)), MIN_WINDOW_S), MAX_WINDOW_S)


def plan_windows(
    start: float,
    end: float,
    window_s: float,
    warmup_s: float = WARMUP_S,
    overlap_s: float = OVERLAP_S,
    last_from: float | None = None,
) -> list[Window]:
    """The windows of a run from ``start`` to ``end``, ``window_s`` long: the first takes
    every pick reported before its end (and overlap), the last every pick after its start
    (less the warm-up), including those reported at the end of the data. ``last_from``:
    where the last window starts (the others stop half a window before it, or earlier): the
    last chunks' start less the overlap, so that only the last window waits for them."""
    if window_s <= 0:
        raise ValueError(f"need a window longer than 0 s, got {window_s}")
    count = max(1, math.ceil((end - start) / window_s))
    edges = [start + k * window_s for k in range(1, count)]
    if last_from is not None and start < last_from < end:
        edges = [e for e in edges if e < last_from - window_s / 2] + [last_from]
    lows = [-math.inf, *(e - warmup_s for e in edges)]
    highs = [*(e + overlap_s for e in edges), math.inf]
    return [Window(k, lo, hi) for k, (lo, hi) in enumerate(zip(lows, highs, strict=True))]


_tables: dict[tuple[object, ...], TravelTimeTable] = {}


def _table(config: LarzaConfig) -> TravelTimeTable:
    """The configured travel-time table, read once in a worker process (the first read
    imports ObsPy's TauP: ~0.5 s)."""
    from ingest.quakes.model import travel_time_table

    model = config.velocity_model
    key = (model, str(config.base_dir), velocity_model(model, config.base_dir).nd_text())
    table = _tables.get(key)
    if table is None:
        if len(_tables) >= 4:
            _tables.clear()
        table = _tables[key] = travel_time_table(config)
    return table


def dask_setup(worker: object) -> None:
    """Dask's hook of a ``--preload`` module: the travel-time reading's imports (ObsPy's
    TauP, Matplotlib with it) made when the worker starts, not in its first window; then the
    worker's objects so far (Dask's, the libraries') kept out of the garbage collector's full
    collections, which would walk them all in every task (:mod:`ingest.longlived`)."""
    import ingest.quakes.traveltimes  # noqa: F401

    LongLived("dask worker").start()


def associate_window(
    picks: Sequence[ChunkPick],
    first: int,
    config: LarzaConfig,
    positions: Mapping[str, StationCoordinates],
) -> WindowResult:
    """Associate one window's picks (``first``: the position of its first in the run), as
    :func:`~ingest.reprocess.associate.associate_chunks` does, noting the quiet points, and
    then end the data (:meth:`Detecting.finish`): what the run does after its last pick if
    no later window has any."""
    cpu = time.process_time()
    detecting = Detecting(config, positions, _table(config))
    if not detecting.locates:
        raise ValueError("windows associate located earthquakes only")
    associating = Associating(detecting)
    index = first

    def keep(found: Found) -> int:
        nonlocal index
        index += 1
        return index - 1

    quiet: dict[int, tuple[int, StateKey]] = {}
    made: dict[int, float] = {}
    latest: dict[int, EventChange] = {}

    def take(events: list[EventChange], at: float) -> None:
        for event in events:
            made.setdefault(event.event_key, at)
            latest[event.event_key] = event

    for start, stop in groups_of(picks):

        def between(events: list[EventChange], at: int = first + start) -> None:
            take(events, at)
            state = detecting.quiet_state()
            if state is not None:
                next_key, (horizon, stations) = state
                quiet[at] = (next_key, (associating.closed, horizon, stations))

        take(associating.group(picks[start:stop], keep, between), first + stop)
    end = first + len(picks)
    take(detecting.finish(keep), end + 0.5)
    assert index == end
    events = {key: (made[key], _plain(event, key)) for key, event in latest.items()}
    return WindowResult(first, end, quiet, events, time.process_time() - cpu)


def _plain(event: EventChange, key: int) -> EventChange:
    """The change with its values worked out (to travel between processes), keyed ``key``."""
    return EventChange(
        event_key=key,
        version=event.version,
        status=event.status,
        time=event.time,
        stations=event.stations,
        pick_keys=event.pick_keys,
        coincidence_sum=event.coincidence_sum,
        duration=event.duration,
        origin=event.origin,
        picks=event.picks,
    )


def stitch(picks: Sequence[ChunkPick], windows: Sequence[WindowResult]) -> Results | str:
    """The run's picks and events from its windows' outcomes (in order); or why they cannot
    be stitched (:func:`takeovers`), as a sentence."""
    out = Results()
    out.detections = [Detected.of(i, p.key, p.trigger, p.profile) for i, p in enumerate(picks)]
    windows = [w for w in windows if w.stop > w.first]
    if not windows:
        return out if not picks else "the windows hold none of the run's picks"
    if windows[0].first != 0 or windows[-1].stop != len(picks):
        return "the windows do not cover the run's picks"
    points, stuck = takeovers(windows)
    if stuck is not None:
        when = _iso(picks[stuck.first].emitted[0])
        return f"no quiet point in the association to start a window at, after {when}"
    since, shift = -1, 0
    for window, (at, following) in zip(windows, [*points, (len(picks) + 1, 0)], strict=True):
        _take(out, window, since, at, shift)
        since, shift = at, following
    return out


def takeovers(
    windows: Sequence[WindowResult],
) -> tuple[list[tuple[int, int]], WindowResult | None]:
    """Where each window (of those with picks, in order) takes over from the one before,
    and what its event keys are to be shifted by: the first position in their overlap at
    which both are quiet in the same state, and the key the window before gives its next
    event there (shifted as its own are) less the one the window gives it. And the first
    window that has no such point, if one has not.

    Windows without picks are to be left out: before the run's first pick its association
    is as fresh as a window's, and after the last one only the end of the data is left,
    which the last window with picks ends too (each ends the data after its picks)."""
    points: list[tuple[int, int]] = []
    since, shift = -1, 0
    current = windows[0]
    for following in windows[1:]:
        common = [
            at
            for at, (_, state) in sorted(current.quiet.items())
            if at >= since and following.quiet.get(at, (0, None))[1] == state
        ]
        if not common:
            return points, following
        at = common[0]
        shift = current.quiet[at][0] + shift - following.quiet[at][0]
        points.append((at, shift))
        since, current = at, following
    return points, None


def _take(out: Results, window: WindowResult, after: float, upto: float, shift: int) -> None:
    """The window's events made in ``(after, upto]``, keyed as the run's."""
    for key, (at, event) in sorted(window.events.items()):
        if after < at <= upto:
            out.events[key + shift] = _plain(event, key + shift)


def _iso(t: float) -> str:
    if not math.isfinite(t):
        return "the end of the data"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
