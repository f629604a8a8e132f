"""The worker's preliminary picks: stored at trigger-on, then completed in place or withdrawn.

A P pick is stored and published (the change log: SSE and webhooks) in the batch of the
record that turned its trigger on, with ``status = "preliminary"``; the record that ends the
trigger completes the same row (the same id, published again) with ``status = "final"``. A
preliminary pick completed within its own batch is stored once, completed. One never
completed is marked ``withdrawn`` and published so. Those stored before a restart are read
back at start, so the pick that completes them after it updates them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sqlalchemy.orm import Session

from stations.models import ChangeKind, Channel
from stations.preliminary import complete_detection, preliminary_detections, withdraw_detection
from stations.queries import ChannelKey, NewDetection

__all__ = ["PreliminaryPicks"]


class PreliminaryPicks:
    """What the pipeline keeps about preliminary picks between and within batches."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}  # local key of a stored preliminary pick -> its id
        self._new: set[int] = set()  # local keys of preliminary picks in the current batch
        self._updates: list[tuple[int, NewDetection | None]] = []  # id, completed or withdrawn

    def load(
        self, session: Session, channels: Mapping[ChannelKey, Channel], first_key: int
    ) -> tuple[dict[tuple[ChannelKey, float], int], int]:
        """The preliminary picks stored before, given local keys from ``first_key`` on:
        ``(channel, trigger-on) -> key`` for the detector, and the next free key."""
        by_id = {c.id: k for k, c in channels.items()}
        known: dict[tuple[ChannelKey, float], int] = {}
        key = first_key
        for detection_id, channel_id, on_time in preliminary_detections(session, channel_ids=by_id):
            known[(by_id[channel_id], on_time.timestamp())] = key
            self._ids[key] = detection_id
            key += 1
        return known, key

    def added(self, key: int, detection: NewDetection) -> NewDetection:
        """A preliminary pick queued under ``key``: the row to insert."""
        self._new.add(key)
        return replace(detection, status="preliminary")

    def replace(
        self,
        old: int,
        detection: NewDetection | None,
        pending: list[tuple[int, NewDetection]],
    ) -> tuple[bool, int | None]:
        """Complete (``detection``) or withdraw (None) the preliminary pick ``old``. Within
        its batch the queued row is changed: ``(True, None)``; else the stored row will be:
        ``(False, its id)`` (the caller gives the pick a new key naming it); ``(False, None)``
        if the pick is unknown."""
        for i, (key, _) in enumerate(pending):
            if key == old:
                if detection is None:
                    del pending[i]
                else:
                    pending[i] = (key, detection)
                self._new.discard(old)
                return True, None
        detection_id = self._ids.pop(old, None)
        if detection_id is not None:
            self._updates.append((detection_id, detection))
        return False, detection_id

    def store(
        self, session: Session, inserted: Mapping[int, int], log: list[tuple[ChangeKind, int]]
    ) -> None:
        """After the batch's insert (local key -> id): remember the preliminary picks'
        ids, write the completions and withdrawals, and log them as changes."""
        for key in self._new:
            if key in inserted:
                self._ids[key] = inserted[key]
        self._new.clear()
        for detection_id, detection in self._updates:
            if detection is None:
                withdraw_detection(session, detection_id=detection_id)
            else:
                complete_detection(session, detection_id=detection_id, detection=detection)
            log.append((ChangeKind.DETECTION, detection_id))
        self._updates.clear()

    def rolled_back(self) -> None:
        """The batch was not stored (the pipeline is then rebuilt)."""
        self._new.clear()
        self._updates.clear()
