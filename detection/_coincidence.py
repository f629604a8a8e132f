"""Coincidence of trigger windows: the associator for stations without coordinates.

The same events as ObsPy's ``coincidence_trigger`` given the same trigger windows, found as
the windows arrive:

- Windows are taken in order of their start (``on``). Each one in turn starts a chain: the
  later windows are scanned in order; one whose trace is already in the chain is passed over,
  one that starts after the chain's end (``off`` plus ``off_extension``) ends the scan, any
  other joins the chain and the chain's end becomes the later of the two ends (so A overlapping
  B and B overlapping C make ABC).
- A chain is an event when the sum of its traces' weights reaches ``threshold`` and it ends
  later than the previous event (a chain ending no later is a subset of that event). The
  event's time is the start of the window that began the chain.

Streaming: a window is known only once it has ended, so a chain is decided when no unknown
window can still start before its end, i.e. once the data time has passed that end by
``max_trigger_length`` (the detector's longest trigger). Events are therefore reported once,
final, with that delay; windows that make no event are returned as unassociated.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CoincidenceAssociator", "CoincidenceEvent", "CoincidenceUpdate", "TriggerWindow"]


@dataclass(frozen=True)
class TriggerWindow:
    """One channel's trigger: from ``on`` to ``off``, POSIX seconds.

    Attributes
    ----------
    key : int
        The caller's id (unique).
    trace_id : str
        ``NET.STA.LOC.CHA``; a trace counts once in a chain.
    on, off : float
        Start and end of the trigger.
    """

    key: int
    trace_id: str
    on: float
    off: float

    def __post_init__(self) -> None:
        # times may come as anything float() takes (an ObsPy UTCDateTime, say)
        object.__setattr__(self, "on", float(self.on))
        object.__setattr__(self, "off", float(self.off))

    @property
    def station(self) -> str:
        parts = self.trace_id.split(".")
        return parts[1] if len(parts) > 1 else self.trace_id


@dataclass(frozen=True)
class CoincidenceEvent:
    """Trigger windows that overlap at enough traces.

    Attributes
    ----------
    event_key : int
        Increasing in order of the events' times.
    time : float
        Start of the window that began the chain, POSIX seconds.
    duration : float
        End of the chain minus ``time``.
    trace_ids, stations : tuple of str
        In the order they joined.
    pick_keys : tuple of int
        Keys of the windows, in the same order.
    coincidence_sum : float
    """

    event_key: int
    time: float
    duration: float
    trace_ids: tuple[str, ...]
    stations: tuple[str, ...]
    pick_keys: tuple[int, ...]
    coincidence_sum: float


@dataclass(frozen=True)
class CoincidenceUpdate:
    """Events decided by one call (final) and windows that joined none."""

    events: tuple[CoincidenceEvent, ...] = ()
    unassociated: tuple[TriggerWindow, ...] = ()


def _order(w: TriggerWindow) -> tuple[float, float, str, int]:
    return (w.on, w.off, w.trace_id, w.key)


class CoincidenceAssociator:
    """Streams trigger windows into coincidence events (see the module's rules).

    Parameters
    ----------
    threshold : float
        Coincidence sum an event needs.
    weights : mapping of str to float, optional
        Weight of each trace id (1.0 for one not listed).
    max_trigger_length : float
        Longest a trigger can last, seconds: how long a chain waits for windows not yet ended.
    off_extension : float
        Seconds added to a chain's end when looking for overlaps (ObsPy's
        ``trigger_off_extension``).

    Raises
    ------
    ValueError
        If a number is not finite, ``threshold`` or a weight is not positive, or
        ``max_trigger_length`` or ``off_extension`` is negative.
    """

    def __init__(
        self,
        threshold: float,
        weights: Mapping[str, float] | None = None,
        max_trigger_length: float = 60.0,
        off_extension: float = 0.0,
    ) -> None:
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"need a finite threshold > 0, got {threshold}")
        if not (math.isfinite(max_trigger_length) and max_trigger_length >= 0):
            raise ValueError(f"need max_trigger_length >= 0, got {max_trigger_length}")
        if not (math.isfinite(off_extension) and off_extension >= 0):
            raise ValueError(f"need off_extension >= 0, got {off_extension}")
        self._weights = dict(weights or {})
        for trace, w in self._weights.items():
            if not (math.isfinite(w) and w > 0):
                raise ValueError(f"need a finite weight > 0, got weights[{trace!r}]={w}")
        self._threshold = float(threshold)
        self._wait = float(max_trigger_length)
        self._extension = float(off_extension)
        self._pending: list[TriggerWindow] = []  # sorted by _order
        self._used: set[int] = set()  # keys of pending windows already in an event
        self._last_off = -math.inf
        self._next_key = 1
        self._horizon = -math.inf
        self._decided = -math.inf  # start of the last chain decided

    @property
    def open_pick_keys(self) -> frozenset[int]:
        """Keys of the windows not yet decided (a later event may still name them)."""
        return frozenset(w.key for w in self._pending)

    def add(self, window: TriggerWindow) -> CoincidenceUpdate:
        """Offer one ended trigger window.

        Returns
        -------
        CoincidenceUpdate
            Empty, unless the window starts before a chain already decided (it ended later
            than ``max_trigger_length`` allowed): then it is returned unassociated at once.

        Raises
        ------
        ValueError
            If ``on`` or ``off`` is not finite or ``off < on``.
        """
        if not (math.isfinite(window.on) and math.isfinite(window.off) and window.off >= window.on):
            raise ValueError(f"need finite on <= off, got on={window.on}, off={window.off}")
        if window.on < self._decided:
            return CoincidenceUpdate(unassociated=(window,))  # its chain was decided already
        bisect.insort(self._pending, window, key=_order)
        return CoincidenceUpdate()

    def close_before(self, time: float) -> CoincidenceUpdate:
        """Decide every chain that no window still unknown at data time ``time`` can join."""
        self._horizon = max(self._horizon, time)
        events: list[CoincidenceEvent] = []
        leftover: list[TriggerWindow] = []
        known_before = self._horizon - self._wait
        while self._pending:
            start = self._pending[0]
            chain, end = self._chain()
            if end + self._extension >= known_before:
                break  # a window not yet ended may still join
            self._pending.pop(0)
            self._decided = start.on
            total = sum(self._weights.get(w.trace_id, 1.0) for w in chain)
            if total >= self._threshold and end > self._last_off:
                events.append(
                    CoincidenceEvent(
                        event_key=self._next_key,
                        time=start.on,
                        duration=end - start.on,
                        trace_ids=tuple(w.trace_id for w in chain),
                        stations=tuple(w.station for w in chain),
                        pick_keys=tuple(w.key for w in chain),
                        coincidence_sum=total,
                    )
                )
                self._next_key += 1
                self._last_off = end
                self._used.update(w.key for w in chain)
            if start.key in self._used:
                self._used.discard(start.key)
            else:
                leftover.append(start)
        return CoincidenceUpdate(tuple(events), tuple(leftover))

    def flush(self) -> CoincidenceUpdate:
        """End of data: decide every chain."""
        return self.close_before(math.inf)

    def _chain(self) -> tuple[list[TriggerWindow], float]:
        start = self._pending[0]
        chain = [start]
        traces = {start.trace_id}
        end = start.off
        for w in self._pending[1:]:
            if w.trace_id in traces:
                continue
            if w.on > end + self._extension:
                break
            chain.append(w)
            traces.add(w.trace_id)
            end = max(end, w.off)
        return chain, end
