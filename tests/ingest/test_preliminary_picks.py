"""Preliminary picks in the worker: stored and published at trigger-on, completed in place
(the same id, published again) when the trigger ends; across a restart too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ingest.worker.archive import SdsArchive
from ingest.worker.pipeline import Pipeline
from stations.models import Change, ChangeKind, Detection

from .test_pipeline import ONSETS, T0, _interleaved, _pipeline, factory  # noqa: F401


def test_a_pick_is_stored_at_trigger_on_then_completed_with_the_same_id(
    factory: sessionmaker[Session],  # noqa: F811
    tmp_path: Path,
) -> None:
    pipeline = _pipeline(factory, tmp_path)
    seen: dict[int, list[tuple[str, int]]] = {}  # detection id -> (status, packet number)
    onsets: dict[int, float] = {}
    for n, packet in enumerate(_interleaved(np.random.default_rng(3))):
        pipeline.handle(packet)
        with factory() as s:
            for d in s.scalars(select(Detection)):
                states = seen.setdefault(d.id, [])
                if not states or states[-1][0] != d.status:
                    states.append((d.status, n))
                    if d.status == "preliminary":
                        onsets[d.id] = d.onset_time.timestamp() - T0.timestamp
    assert len(seen) == 3
    for states in seen.values():
        assert [status for status, _ in states] == ["preliminary", "final"]
        assert states[1][1] > states[0][1]  # completed by a later record
    # the preliminary onset is the trigger-on time: at or just after the true onset
    assert sorted(onsets.values()) == pytest.approx(sorted(ONSETS.values()), abs=0.5)
    with factory() as s:
        logged = [
            c.ref_id
            for c in s.scalars(select(Change).order_by(Change.id))
            if c.kind == ChangeKind.DETECTION
        ]
        assert sorted(logged) == sorted([i for i in seen for _ in range(2)])
        detections = s.scalars(select(Detection)).all()
    assert all(d.status == "final" for d in detections)
    assert pipeline.counts["preliminary"] == 3


def test_a_restart_mid_trigger_completes_the_stored_preliminary_pick(
    factory: sessionmaker[Session],  # noqa: F811
    tmp_path: Path,
) -> None:
    packets = _interleaved(np.random.default_rng(3))
    pipeline = _pipeline(factory, tmp_path)
    restarted = False
    for packet in packets:
        if not restarted:
            with factory() as s:
                waiting = s.scalars(select(Detection.id).where(Detection.status == "preliminary"))
                restarted = waiting.first() is not None
            if restarted:
                pipeline.close()
                # a restart: its state from the database (and the archive's lead-in) only
                pipeline = Pipeline(factory, server="test:18000", archive=SdsArchive(tmp_path))
        pipeline.handle(packet)
    assert restarted
    with factory() as s:
        detections = s.scalars(select(Detection)).all()
    assert len(detections) == 3
    assert [d.status for d in detections] == ["final"] * 3
