"""A drill's alerts are exercises: a worker with ``[alerts] exercise = true`` marks every
message, and its CAP says ``<status>Exercise</status>``, valid against OASIS's CAP 1.2 schema
(a real alert's stays Actual)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from api.cap import cap_document
from detection import TravelTimeTable
from stations.models import Alert

from .test_alerts_worker import STATIONS, config, factory, run, vertical

__all__ = ["factory"]  # the fixture, shared with the alert tests

CAP_XSD = Path(__file__).resolve().parents[1] / "data" / "cap" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}


def test_a_drill_worker_marks_its_alerts_as_exercises_in_cap(
    factory: sessionmaker[Session], pamir_table: TravelTimeTable, table_cache: Path
) -> None:
    base = config(table_cache)
    drill = dataclasses.replace(base, alerts=base.alerts.model_copy(update={"exercise": True}))
    rng = np.random.default_rng(5)
    run(factory, drill, [vertical(s, pamir_table, rng) for s in STATIONS])
    schema = etree.XMLSchema(etree.parse(str(CAP_XSD)))
    with factory() as s:
        (alert,) = s.scalars(select(Alert).options(selectinload(Alert.versions))).all()
        assert [v.action for v in alert.versions] == ["created", "ended"]
        assert all(v.content["exercise"] is True for v in alert.versions)
        for version in alert.versions:
            document = etree.fromstring(cap_document(alert, version))
            schema.assertValid(document)
            assert [e.text for e in document.findall("cap:status", NS)] == ["Exercise"]
        version = alert.versions[0]
        version.content = {k: v for k, v in version.content.items() if k != "exercise"}
        actual = etree.fromstring(cap_document(alert, version))  # the same, not a drill
        schema.assertValid(actual)
        assert [e.text for e in actual.findall("cap:status", NS)] == ["Actual"]
