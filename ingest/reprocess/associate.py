"""The network association of a run, once, over every chunk's picks in the order a
continuous run reports them, through the same :class:`~ingest.detect.chain.Detecting` as
the worker and ``larza detect`` (so what it does with events, it does here too).

A continuous run offers each record's picks to the associator, then closes the events whose
window ended before that record's end (less the margin). Here each pick comes with the end of
the record that completed it and of its station's record before that one; the events are
closed at those times, which is what the continuous run did up to the records of other
stations in between (at most a record's length, 4 s, later: an event that ends within those
seconds of a pick that could still join it is the only case that can differ, and the close
margin is a minute).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from detection import StationCoordinates
from ingest.config import LarzaConfig
from ingest.detect.chain import Detecting, EventChange, Found
from ingest.detect.files import Detected, Results
from ingest.quakes.model import locates
from ingest.reprocess.chunk import ChunkPick, ChunkResult

__all__ = ["Associating", "associate_chunks", "groups_of", "ordered_picks"]


def ordered_picks(results: Iterable[ChunkResult]) -> list[ChunkPick]:
    """Every chunk's picks in the order a continuous run reports them (a pick's place in
    it is its detection's index, whatever the association does)."""
    return sorted((p for r in results for p in r.picks), key=lambda p: p.emitted)


def groups_of(picks: Sequence[ChunkPick]) -> Iterator[tuple[int, int]]:
    """The picks reported together (by one record of a stream: the same ``emitted`` time
    and stream), as ``(start, stop)`` index ranges, in order."""
    start = 0
    for _, group in itertools.groupby(picks, key=lambda p: p.emitted[:2]):
        stop = start + sum(1 for _ in group)
        yield start, stop
        start = stop


class Associating:
    """The association's loop, a group of picks at a time, as a continuous run offers them:
    the events closed up to the end of the station's record before, then the picks, then
    the events closed up to the end of the record that completed them. ``closed`` (the
    latest closing time so far) is all of its own state."""

    def __init__(self, detecting: Detecting) -> None:
        self.detecting = detecting
        self.closed = -math.inf

    def group(
        self,
        items: Sequence[ChunkPick],
        keep: Callable[[Found], int],
        between: Callable[[list[EventChange]], None] | None = None,
    ) -> list[EventChange]:
        """Associate one group; ``keep`` is called once for each pick, in order.
        ``between`` is given the events closed before the picks are offered, then."""
        detecting = self.detecting
        first = items[0].key
        at = items[0].emitted[0]
        before = max(p.before for p in items)
        events: list[EventChange] = []
        if before > self.closed and math.isfinite(before):
            events += detecting.associate(first, [], keep, until=before)
            self.closed = before
        if between is not None:
            between(events)
            events = []
        until = at if math.isfinite(at) else self.closed
        picks = [(p.key.channel, p.trigger) for p in items]
        events += detecting.associate(first, picks, keep, until=until)
        self.closed = max(self.closed, until)
        return events


def associate_chunks(
    results: Iterable[ChunkResult],
    config: LarzaConfig,
    positions: Mapping[str, StationCoordinates] | None = None,
) -> Results:
    """The picks of all chunks and the events they make, as ``larza detect`` gives them:
    serially, in one process."""
    table = None
    if positions is not None and locates(config.location, len(positions)):
        from ingest.quakes.model import travel_time_table  # TauP: only when it is needed

        table = travel_time_table(config)
    detecting = Detecting(config, positions, table)
    out = Results()
    picks = ordered_picks(results)
    profiles: Iterator[str] = iter(())

    def keep(found: Found) -> int:
        index = len(out.detections)
        out.detections.append(Detected.of(index, found.key, found.trigger, next(profiles)))
        return index

    def take(events: Iterable[EventChange]) -> None:
        for event in events:
            out.events[event.event_key] = event

    associating = Associating(detecting)
    for start, stop in groups_of(picks):
        items = picks[start:stop]
        profiles = iter([p.profile for p in items])
        take(associating.group(items, keep))
    take(detecting.finish(keep))
    return out
