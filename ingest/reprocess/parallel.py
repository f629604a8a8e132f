"""The association's windows (:mod:`ingest.reprocess.windows`) on the Dask cluster: each
window's task is submitted as soon as every chunk that can hold its picks is done (a pick is
reported no earlier than its onset, so no earlier than its chunk's start), while the later
chunks are still running; the last ones once the chunks are all done. The client keeps the
chunks' picks (as it did to associate them), gives each task its picks with their places
in the run, checks them against the run's picks at the end, and stitches the outcomes.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from detection import StationCoordinates
from ingest.config import LarzaConfig
from ingest.detect.files import Results
from ingest.reprocess.associate import ordered_picks
from ingest.reprocess.chunk import ChunkPick, ChunkResult
from ingest.reprocess.plan import Chunk
from ingest.reprocess.windows import (
    OVERLAP_S,
    WARMUP_S,
    Window,
    WindowResult,
    associate_window,
    plan_windows,
    stitch,
    window_length,
)

log = logging.getLogger(__name__)

__all__ = ["WindowedAssociation"]


class WindowedAssociation:
    """A run's association in windows on ``client``'s cluster, fed the chunks' outcomes as
    they come (:meth:`settle`), finished by :meth:`results`."""

    def __init__(
        self,
        client: Any,
        chunks: Sequence[Chunk],
        config: LarzaConfig,
        positions: Mapping[str, StationCoordinates],
        *,
        workers: int,
        key: str,
        retries: int = 2,
        window_s: float | None = None,
        warmup_s: float = WARMUP_S,
        overlap_s: float = OVERLAP_S,
    ) -> None:
        start = min(c.start for c in chunks)
        end = max(c.end for c in chunks)
        length = window_s if window_s is not None else window_length(start, end, workers)
        last_row = max(c.start for c in chunks)
        self.windows = plan_windows(start, end, length, warmup_s, overlap_s, last_row - overlap_s)
        self._client = client
        self._chunks = list(chunks)  # in the run's order: picks tied in time keep it
        self._config = config
        self._positions = dict(positions)
        self._key = key
        self._retries = retries
        self._done: dict[Chunk, ChunkResult | None] = {}  # None: failed, no picks
        self._by_start = sorted(self._chunks, key=lambda c: c.start)
        self._head = 0  # the chunks before it in _by_start are all done
        self._futures: dict[int, Any] = {}  # window index -> its task
        self._given: dict[int, tuple[int, list[ChunkPick]]] = {}  # -> (first, picks)
        self._next = 0  # the next window to submit
        self._first = 0  # the place of its first pick

    @property
    def futures(self) -> list[Any]:
        return list(self._futures.values())

    def settle(self, chunk: Chunk, result: ChunkResult | None) -> None:
        """A chunk is done (``None``: failed, it has no picks); submit the windows whose
        chunks are now all done."""
        self._done[chunk] = result
        waiting = self._by_start
        while self._head < len(waiting) and waiting[self._head] in self._done:
            self._head += 1  # a year of 1-h chunks is 10^5 of them: no list.pop(0)
        ready = waiting[self._head].start if self._head < len(waiting) else math.inf
        while self._next < len(self.windows) - 1 and self.windows[self._next].high <= ready:
            self._submit_next()

    def _submit_next(self) -> None:
        window = self.windows[self._next]
        picks = sorted(
            (
                p
                for c in self._chunks
                if c.start < window.high and (r := self._done.get(c)) is not None
                for p in r.picks
                if window.holds(p)
            ),
            key=lambda p: p.emitted,
        )
        self._submit(window, self._first, picks)
        following = self.windows[self._next + 1]
        times = [p.emitted[0] for p in picks]
        self._first += bisect.bisect_left(times, following.low)
        self._next += 1

    def _submit(self, window: Window, first: int, picks: list[ChunkPick]) -> None:
        self._given[window.index] = (first, picks)
        self._futures[window.index] = self._client.submit(
            associate_window,
            picks,
            first,
            self._config,
            self._positions,
            key=f"{self._key}-window-{window.index}-{first}",
            retries=self._retries,
            pure=False,
            priority=1,  # before the chunks not yet started (Dask runs the earliest first)
        )

    def results(self, results: Sequence[ChunkResult]) -> tuple[Results | str, float]:
        """The run's catalogue from the chunks' outcomes ``results`` (those the association
        takes: the run's finished chunks), or why the windows could not be stitched; and the
        windows' processor seconds. A window given other picks than the run's at its
        places (which the order of reporting rules out) is associated again with them."""
        picks = ordered_picks(results)
        times = [p.emitted[0] for p in picks]
        for window in self.windows:
            first = bisect.bisect_left(times, window.low)
            stop = bisect.bisect_left(times, window.high)
            given = self._given.get(window.index)
            if given is not None and _same(given, first, picks[first:stop]):
                continue
            if given is not None:
                log.warning("window %d was given other picks: associated again", window.index)
                self._futures.pop(window.index).cancel()
            self._submit(window, first, picks[first:stop])
        try:
            outcomes: list[WindowResult] = self._client.gather(
                [self._futures[w.index] for w in self.windows]
            )
        except Exception as e:  # a window's task failed for good: the serial association
            log.exception("a window of the association failed")
            return f"a window's task failed: {type(e).__name__}: {e}", 0.0
        finally:
            self.release()
        return stitch(picks, outcomes), sum(o.cpu_s for o in outcomes)

    def release(self) -> None:
        """Cancel the windows' tasks (the run was interrupted) or forget them (done)."""
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()


def _same(given: tuple[int, list[ChunkPick]], first: int, picks: list[ChunkPick]) -> bool:
    at, held = given
    return (
        at == first
        and len(held) == len(picks)
        and all(a is b for a, b in zip(held, picks, strict=True))
    )
