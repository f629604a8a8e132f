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
from collections.abc import Iterable, Iterator, Mapping

from detection import StationCoordinates
from ingest.config import LarzaConfig
from ingest.detect.chain import Detecting, EventChange, Found
from ingest.detect.files import Detected, Results
from ingest.quakes.model import locates
from ingest.reprocess.chunk import ChunkPick, ChunkResult

__all__ = ["associate_chunks"]


def associate_chunks(
    results: Iterable[ChunkResult],
    config: LarzaConfig,
    positions: Mapping[str, StationCoordinates] | None = None,
) -> Results:
    """The picks of all chunks and the events they make, as ``larza detect`` gives them."""
    table = None
    if positions is not None and locates(config.location, len(positions)):
        from ingest.quakes.model import travel_time_table  # TauP: only when it is needed

        table = travel_time_table(config)
    detecting = Detecting(config, positions, table)
    out = Results()
    picks = sorted((p for r in results for p in r.picks), key=lambda p: p.emitted)
    profiles: Iterator[str] = iter(())

    def keep(found: Found) -> int:
        index = len(out.detections)
        out.detections.append(Detected.of(index, found.key, found.trigger, next(profiles)))
        return index

    def take(events: Iterable[EventChange]) -> None:
        for event in events:
            out.events[event.event_key] = event

    closed = -math.inf
    for (at, _), group in itertools.groupby(picks, key=lambda p: p.emitted[:2]):
        items: list[ChunkPick] = list(group)
        first = items[0].key
        before = max(p.before for p in items)
        if before > closed and math.isfinite(before):
            take(detecting.associate(first, [], keep, until=before))
            closed = before
        profiles = iter([p.profile for p in items])
        until = at if math.isfinite(at) else closed
        take(
            detecting.associate(
                first, [(p.key.channel, p.trigger) for p in items], keep, until=until
            )
        )
        closed = max(closed, until)
    take(detecting.finish(keep))
    return out
