"""Preliminary picks: stored at trigger-on, completed (the same row, the same id) when the
trigger ends, or withdrawn when it never completes.

Like every query module: keyword-only arguments, ``flush`` but never ``commit``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stations.models import Detection
from stations.queries import NewDetection

__all__ = ["complete_detection", "preliminary_detections", "withdraw_detection"]


def complete_detection(session: Session, *, detection_id: int, detection: NewDetection) -> None:
    """Overwrite a preliminary pick with its completed values (status ``final``)."""
    session.execute(
        update(Detection)
        .where(Detection.id == detection_id)
        .values(
            on_time=detection.on_time,
            off_time=detection.off_time,
            onset_time=detection.onset_time,
            peak_ratio=detection.peak_ratio,
            snr=detection.snr,
            peak_amplitude=detection.peak_amplitude,
            phase=detection.phase,
            onset_uncertainty=detection.onset_uncertainty,
            polarity=detection.polarity,
            bridged=detection.bridged,
            status=detection.status,
        )
    )


def withdraw_detection(session: Session, *, detection_id: int) -> None:
    """Mark a preliminary pick that was never completed withdrawn."""
    session.execute(
        update(Detection)
        .where(Detection.id == detection_id, Detection.status == "preliminary")
        .values(status="withdrawn")
    )


def preliminary_detections(
    session: Session, *, channel_ids: Iterable[int]
) -> list[tuple[int, int, datetime]]:
    """``(id, channel id, trigger-on time)`` of the preliminary picks of these channels."""
    ids = list(channel_ids)
    if not ids:
        return []
    rows = session.execute(
        select(Detection.id, Detection.channel_id, Detection.on_time).where(
            Detection.status == "preliminary", Detection.channel_id.in_(ids)
        )
    )
    return [(int(i), int(c), t) for i, c, t in rows]
