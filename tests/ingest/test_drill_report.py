"""``larza drill report`` on a recorded alert history: the first alert after the origin, the
magnitude and location errors version by version, the estimate 10 s later, the warning time at
each site against the ideal; and a drill without an alert, said plainly with the suppressed
candidates of the worker's log."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ingest.alerts.drill import drill_report, read_suppressed, report_text
from ingest.cli.main import app
from stations.alerts import AlertMessage, add_alert_version, list_alerts
from stations.db import make_engine, make_session_factory, migrate

T0 = datetime(2026, 12, 3, 4, 1, 0, tzinfo=UTC)  # the scenario's origin
KM_PER_DEGREE = 6371.0 * math.pi / 180.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


TRUTH: dict[str, Any] = {
    "scenario": "M 6.5 at 150 km under the Pamir",
    "feed_start": at(-60).isoformat(),
    "origin_time": T0.isoformat(),
    "latitude": 38.0,
    "longitude": 72.9,
    "depth_km": 150.0,
    "magnitude": 6.5,
    "velocity_model": "pamir",
    "min_stations": 3,
    "min_window_s": 1.0,
    "enough_p_data": at(28.4).isoformat(),
    "stations": [
        {"id": "TJ.SAREZ", "p": at(22.6).isoformat(), "s": at(39.8).isoformat()},
        {"id": "TJ.MURGH", "p": at(25.7).isoformat(), "s": at(45.2).isoformat()},
        {"id": "TJ.MANEM", "p": at(28.4).isoformat(), "s": at(50.0).isoformat()},
    ],
    "sites": [
        {"name": "Usoi dam", "distance_km": 38.7, "s": at(38.7).isoformat()},
        {"name": "Dushanbe", "distance_km": 370.0, "s": at(94.4).isoformat()},
    ],
}


def record_history(session: Session) -> None:
    """A false alert before the feed started (not the drill's), then the drill's alert:
    created at T0+29.0 (M 6.2, 0.1° north, depth 140), updated at T0+33.5 (M 6.4, on the
    epicentre) and T0+41.0 (M 6.6: past the 10 s), ended at T0+125; an on-site alert."""
    add_alert_version(session, alert_id=None, message=AlertMessage("created"), now=at(-300))
    sites = [
        {"name": "Usoi dam", "mmi": 5.1, "alert": True},
        {"name": "Dushanbe", "mmi": 2.8, "alert": False},
    ]
    content = {"stations": ["TJ.SAREZ", "TJ.MURGH", "TJ.MANEM"], "sites": sites}
    first = add_alert_version(
        session,
        alert_id=None,
        message=AlertMessage(
            "created", latitude=38.1, longitude=72.9, depth_km=140.0, magnitude=6.2,
            content={**content, "exercise": True},
        ),
        now=at(29.0),
    )  # fmt: skip
    for seconds, magnitude in ((33.5, 6.4), (41.0, 6.6)):
        add_alert_version(
            session,
            alert_id=first.alert_id,
            message=AlertMessage(
                "updated", latitude=38.0, longitude=72.9, depth_km=150.0, magnitude=magnitude,
                content={**content, "exercise": True},
            ),
            now=at(seconds),
        )  # fmt: skip
    add_alert_version(
        session,
        alert_id=first.alert_id,
        message=AlertMessage("ended", content={"exercise": True}),
        now=at(125.0),
    )
    add_alert_version(
        session,
        alert_id=None,
        message=AlertMessage("created", kind="onsite", station="TJ.SAREZ", content={"mmi": 5.4}),
        now=at(41.5),
    )


def test_the_timeline_against_the_truth(session: Session) -> None:
    record_history(session)
    report = drill_report(TRUTH, list_alerts(session))
    assert report["alerted"] is True
    (alert,) = report["network_alerts"]  # the one before the feed started is not the drill's
    assert alert["exercise"] is True
    assert [v["action"] for v in alert["versions"]] == ["created", "updated", "updated", "ended"]
    first = report["first_alert"]
    assert first["after_origin_s"] == pytest.approx(29.0)
    assert first["magnitude_error"] == pytest.approx(-0.3)
    assert first["epicentre_error_km"] == pytest.approx(0.1 * KM_PER_DEGREE, abs=0.01)
    assert first["depth_error_km"] == pytest.approx(-10.0)
    later = report["after_first"]  # the latest estimate within 10 s of the first
    assert later["after_origin_s"] == pytest.approx(33.5)
    assert later["magnitude_error"] == pytest.approx(-0.1)
    assert later["epicentre_error_km"] == pytest.approx(0.0, abs=1e-6)
    usoi, dushanbe = report["sites"]
    assert usoi["warning_s"] == pytest.approx(38.7 - 29.0)
    assert usoi["ideal_s"] == pytest.approx(38.7 - 28.4)
    assert usoi["predicted_mmi"] == 5.1
    assert usoi["warned"] is True
    assert dushanbe["warning_s"] == pytest.approx(94.4 - 29.0)
    assert dushanbe["warned"] is False
    assert report["enough_p_data_after_origin_s"] == pytest.approx(28.4)
    assert [a["station"] for a in report["onsite_alerts"]] == ["TJ.SAREZ"]
    text = report_text(report)
    assert "First alert at T0+29.0 s (0.6 s after enough P data existed): M 6.2 (error -0.30)" in (
        text
    )
    assert "Usoi dam  S at T0+38.7 s  warning 9.7 s (ideal 10.3 s)" in text
    assert "10 s after it, the latest estimate (v2, T0+33.5 s): M 6.4 (error -0.10)" in text


def test_no_alert_is_said_with_the_suppressed_candidates_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    local = at(20).astimezone()  # the worker logs its local time
    before = at(-600).astimezone()
    log.write_text(
        f"{before:%Y-%m-%d %H:%M:%S},100 INFO ingest.alerts.engine: alert candidate "
        "suppressed (small): an earlier drill's\n"
        f"{local:%Y-%m-%d %H:%M:%S},250 INFO ingest.alerts.engine: alert candidate "
        "suppressed (too_few_stations): P at 2 of the 3 stations needed\n"
        f"{local:%Y-%m-%d %H:%M:%S},300 INFO ingest.worker.pipeline: preliminary TJ.SAREZ\n"
        f"{local:%Y-%m-%d %H:%M:%S},900 INFO ingest.alerts.engine: alert candidate "
        "suppressed (distant): epicentre 400 km from the nearest station\n"
    )
    suppressed = read_suppressed(log, datetime.fromisoformat(TRUTH["feed_start"]))
    report = drill_report(TRUTH, [], suppressed)
    assert report["alerted"] is False
    assert report["first_alert"] is None
    assert report["suppressed_by_reason"] == {"too_few_stations": 1, "distant": 1}
    text = report_text(report)
    assert "NO NETWORK ALERT was raised for this drill." in text
    assert "distant: epicentre 400 km from the nearest station" in text
    assert "earlier drill" not in text
    bare = report_text(drill_report(TRUTH, []))
    assert "--worker-log" in bare  # where the reasons are, when no log was given


@pytest.fixture
def factory(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_the_command_reads_the_database_and_the_truth_file(
    factory: sessionmaker[Session], fresh_database_url: str, tmp_path: Path
) -> None:
    with factory() as s, s.begin():
        record_history(s)
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(TRUTH))
    runner = CliRunner()
    args = ["drill", "report", "--truth", str(truth), "--database-url", fresh_database_url]
    answer = runner.invoke(app, [*args, "--json"])
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.stdout)
    assert report["first_alert"]["after_origin_s"] == pytest.approx(29.0)
    assert len(report["network_alerts"]) == 1
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "Network alert" in text.stdout
    assert "exercise" in text.stdout
    missing = runner.invoke(app, ["drill", "report", "--truth", str(tmp_path / "none.json")])
    assert missing.exit_code == 1
    assert "none.json" in missing.stderr
    assert "larza feed --scenario" in missing.stderr


def test_a_replay_is_reported_without_truth(
    factory: sessionmaker[Session], fresh_database_url: str
) -> None:
    """Archived data replayed (no truth): every version with its estimate, timed in data
    time after the first version's estimated origin; no errors, no ideal, and the drill's
    truth file is not asked for."""
    quake = datetime(2019, 5, 1, 10, 0, 0, tzinfo=UTC)  # the recording's time
    sent = datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC)  # the worker's clock, replaying it

    def sites(data_s: float) -> list[dict[str, Any]]:
        s_arrival = quake + timedelta(seconds=38.0)
        return [
            {"name": "Usoi dam", "mmi": 4.6, "s_arrival": s_arrival.isoformat(),
             "warning_s": 38.0 - data_s, "alert": True},
        ]  # fmt: skip

    with factory() as s, s.begin():
        add_alert_version(
            s, alert_id=None, message=AlertMessage("created"), now=sent - timedelta(hours=1)
        )
        first = add_alert_version(
            s,
            alert_id=None,
            message=AlertMessage(
                "created", origin_time=quake + timedelta(seconds=1.0), latitude=38.1,
                longitude=72.8, depth_km=100.0, magnitude=5.9,
                content={"stations": ["TJ.SAREZ", "TJ.MURGH", "TJ.MANEM"], "sites": sites(29.0)},
            ),
            now=sent,
        )  # fmt: skip
        add_alert_version(
            s,
            alert_id=first.alert_id,
            message=AlertMessage("ended", reason="the S waves have passed every site"),
            now=sent + timedelta(seconds=100),
        )
    runner = CliRunner()
    args = ["drill", "report", "--since", "2026-12-03T08:30:00", "--database-url",
            fresh_database_url]  # fmt: skip
    answer = runner.invoke(app, [*args, "--json"])
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.stdout)
    assert report["replay"] is True
    (alert,) = report["network_alerts"]  # the one before --since is left out
    created, ended = alert["versions"]
    assert created["after_estimated_origin_s"] == pytest.approx(28.0)
    assert created["data_time"] == (quake + timedelta(seconds=29.0)).isoformat()
    assert created["magnitude"] == 5.9
    assert ended["after_estimated_origin_s"] is None  # an end forecasts nothing
    assert not any("error" in key for v in alert["versions"] for key in v)
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "Replay: the alerts created since 2026-12-03T08:30:00+00:00" in text.stdout
    assert (
        "T0'+28.0 s  v1 created   M 5.9  38.100N 72.800E  depth 100 km  3 stations" in text.stdout
    )
    assert "Usoi dam: predicted MMI 4.6" in text.stdout
    assert "error" not in text.stdout
    both = runner.invoke(app, [*args, "--truth", "x.json"])
    assert both.exit_code == 1
    assert "not both" in both.stderr
