"""Early-warning alerts on the dashboard, in a real browser over a real ``larza api``: the
banner at the top of every page with magnitude, place, each site's predicted intensity and a
countdown to its S wave that the browser's clock drives (the API is not asked again), kept
current by the stream (a new alert, an update, a cancellation, an end); and the history page
with every version of every alert in order, with its CAP and JSON."""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from stations.alerts import AlertMessage, add_alert_version, alert_changes
from stations.changes import log_changes
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml

from .alert_messages import cancel_message, network_message
from .conftest import free_port
from .stack import get_json, larza
from .test_dashboard_e2e import _wait, browser  # noqa: F401 (a fixture)

pytestmark = pytest.mark.e2e

MMI = {"Usoi dam": 6.8, "Khorugh": 4.2}


@dataclass
class Api:
    base: str
    logs: Path
    factory: sessionmaker[Session]
    first: int  # the alert stored before the dashboard opened


def _send(factory: sessionmaker[Session], alert_id: int | None, message: AlertMessage) -> int:
    """Store an alert message as the worker does: the version and its change together."""
    with factory() as s, s.begin():
        now = datetime.now(UTC)
        version = add_alert_version(s, alert_id=alert_id, message=message, now=now)
        log_changes(s, changes=alert_changes([version]), now=now)
        return version.alert_id


def _created(magnitude: float, s_after: dict[str, float]) -> AlertMessage:
    made = datetime.now(UTC)
    return network_message("created", made=made, magnitude=magnitude, s_after=s_after, mmi=MMI)


@pytest.fixture
def api(fresh_database_url: str, tmp_path: Path) -> Iterator[Api]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    # An alert already active when the operator opens the dashboard: one site's S wave an
    # hour away (a countdown to watch), the other's in a few seconds.
    first = _send(factory, None, _created(5.2, {"Usoi dam": 3.0, "Khorugh": 3600.0}))
    port = free_port()
    env = {"LARZA_DATABASE_URL": fresh_database_url, "LARZA_ARCHIVE_DIR": ""}
    process = larza("api", "--port", str(port), env={**os.environ, **env}, log=tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and get_json(base, "/api/v1/alerts") is None:
            time.sleep(0.3)
        yield Api(base, tmp_path, factory, first)
    finally:
        process.terminate()
        process.wait(timeout=15)
        engine.dispose()


BANNER = """
  const box = document.getElementById('alert-banner');
  return {
    hidden: box.hidden,
    top: box.getBoundingClientRect().top,
    mainTop: document.getElementById('main').getBoundingClientRect().top,
    alerts: Array.from(box.querySelectorAll('[data-alert]')).map((a) => ({
      id: Number(a.dataset.alert), version: Number(a.dataset.version),
      status: a.dataset.status, text: a.innerText,
      sites: Array.from(a.querySelectorAll('li[data-site]')).map(
        (li) => [li.dataset.site, li.querySelector('.ew-count').textContent, li.dataset.passed,
                 li.innerText]),
    })),
  };
"""

REQUESTS = """
  return performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/api/v1/alerts')).map((e) => e.name);
"""


def _banner(driver: Any) -> dict[str, Any]:
    facts: dict[str, Any] = driver.execute_script(BANNER)
    return facts


def _alert(driver: Any, alert_id: int) -> dict[str, Any] | None:
    """The alert's facts in the banner; ``sites``: name -> [countdown, passed, text], in
    the order shown (``order``)."""
    found = next((a for a in _banner(driver)["alerts"] if a["id"] == alert_id), None)
    if found is not None:
        found["order"] = [site[0] for site in found["sites"]]
        found["sites"] = {site[0]: site[1:] for site in found["sites"]}
    return found


def _seconds_left(count: str) -> int | None:
    """``S in 12 s`` -> 12; None for ``S arrived``."""
    return int(count.split()[2]) if count.startswith("S in ") else None


def test_alert_banner_and_history(api: Api, browser: Any) -> None:  # noqa: F811
    driver, logs = browser, api.logs
    driver.get(f"{api.base}/")

    # The alert stored before the page opened: the banner, above the page's content.
    first = _wait("the banner of the active alert", 30, lambda: _alert(driver, api.first), logs)
    banner = _banner(driver)
    assert not banner["hidden"]
    assert banner["top"] < banner["mainTop"]
    assert "EARTHQUAKE ALERT" in first["text"]
    assert "M 5.2 · 12 km SW of Sarez · depth 10 km" in first["text"], first["text"]
    assert f"alert {api.first} · version 1 (first message" in first["text"], first["text"]
    assert first["order"] == ["Usoi dam", "Khorugh"]  # in the order the S waves come
    assert "intensity 6.8" in first["sites"]["Usoi dam"][2]
    assert "intensity 4.2" in first["sites"]["Khorugh"][2]
    driver.execute_script("window.larzaNotReloaded = true;")

    # The countdown runs on the browser's clock: the far site's seconds go down, the near
    # site's S wave arrives, and the API is not asked again for any of it.
    left = _seconds_left(first["sites"]["Khorugh"][0])
    assert left is not None, first["sites"]
    assert 3000 < left <= 3600, first["sites"]

    def counted_down() -> int | None:
        now = _alert(driver, api.first)
        later = _seconds_left(now["sites"]["Khorugh"][0]) if now else None
        return later if later is not None and later < left else None

    _wait("the countdown to the S wave at Khorugh to go down", 30, counted_down, logs)

    def arrived() -> list[str] | None:
        now = _alert(driver, api.first)
        dam = now["sites"]["Usoi dam"] if now else None
        return dam if dam and dam[0] == "S arrived" and dam[1] == "true" else None

    _wait("the S wave at the Usoi dam to arrive", 30, arrived, logs)
    asked = driver.execute_script(REQUESTS)
    assert len(asked) == 1, asked  # the active alerts, once at page load

    # A new alert comes through the stream, is updated, then cancelled.
    second = _send(api.factory, None, _created(4.9, {"Usoi dam": 600.0, "Khorugh": 900.0}))
    shown = _wait("the new alert from the stream", 30, lambda: _alert(driver, second), logs)
    assert "M 4.9 · 12 km SW of Sarez" in shown["text"], shown["text"]
    assert _seconds_left(shown["sites"]["Usoi dam"][0]) is not None
    update = network_message(
        "updated",
        made=datetime.now(UTC),
        magnitude=5.6,
        s_after={"Usoi dam": 590.0, "Khorugh": 890.0},
        mmi={"Usoi dam": 7.3, "Khorugh": 4.9},
        reason="a third station",
    )
    _send(api.factory, second, update)

    def updated() -> dict[str, Any] | None:
        now = _alert(driver, second)
        return now if now and now["version"] == 2 else None

    shown = _wait("the update of the alert", 30, updated, logs)
    assert "M 5.6 · 12 km SW of Sarez" in shown["text"], shown["text"]
    assert "version 2 (updated" in shown["text"], shown["text"]
    assert "intensity 7.3" in shown["sites"]["Usoi dam"][2]
    _send(api.factory, second, cancel_message())

    def cancelled() -> dict[str, Any] | None:
        now = _alert(driver, second)
        return now if now and now["status"] == "cancelled" else None

    shown = _wait("the cancellation in the banner", 30, cancelled, logs)
    assert "cancelled (false alarm)" in shown["text"], shown["text"]
    assert "version 3" in shown["text"], shown["text"]
    _wait(
        "the cancelled alert to leave the banner", 60, lambda: _alert(driver, second) is None, logs
    )
    assert _alert(driver, api.first) is not None  # the other is still active

    # The first one ends: once its last words have been shown, the banner is gone.
    _send(api.factory, api.first, AlertMessage(action="ended", reason="the S waves have passed"))
    _wait("the banner to go", 60, lambda: _banner(driver)["hidden"], logs)
    assert driver.execute_script("return window.larzaNotReloaded === true;")
    asked = driver.execute_script(REQUESTS)
    assert len(asked) == 1, asked  # every change came through the stream

    # The history page, linked from the navigation: every version, oldest first, each
    # with its CAP; the alert's JSON.
    driver.find_element("css selector", 'nav a[href="/alerts"]').click()
    rows = _wait(
        "the history of the cancelled alert",
        30,
        lambda: driver.find_elements("css selector", f"#alert-{second} tbody tr"),
        logs,
    )
    versions = [(r.get_attribute("data-version"), r.get_attribute("data-action")) for r in rows]
    assert versions == [("1", "created"), ("2", "updated"), ("3", "cancelled")]
    assert "M 4.9" in rows[0].text
    assert "12 km SW of Sarez · depth 10 km" in rows[0].text
    assert "Usoi dam 7.3" in rows[1].text, rows[1].text
    assert "coincident glitches" in rows[2].text
    cap = rows[1].find_element("link text", "CAP XML").get_attribute("href")
    assert cap == f"{api.base}/api/v1/alerts/{second}?format=cap&version=2"
    with urllib.request.urlopen(cap, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("application/cap+xml")
        assert b"<msgType>Update</msgType>" in answer.read()
    card = driver.find_element("id", f"alert-{second}")
    json_link = card.find_element("link text", "JSON").get_attribute("href")
    assert json_link == f"{api.base}/api/v1/alerts/{second}"
    cards = driver.find_elements("css selector", "#alert-history [data-alert]")
    assert [c.get_attribute("data-alert") for c in cards] == [str(second), str(api.first)]
    first_rows = driver.find_elements("css selector", f"#alert-{api.first} tbody tr")
    assert [r.get_attribute("data-action") for r in first_rows] == ["created", "ended"]

    # A new alert while on the history page: the banner shows it there too, and the list
    # grows by itself.
    third = _send(api.factory, None, _created(6.1, {"Usoi dam": 300.0, "Khorugh": 400.0}))
    _wait("the banner on the history page", 30, lambda: _alert(driver, third), logs)
    _wait(
        "the new alert in the history",
        30,
        lambda: driver.find_elements("css selector", f"#alert-{third} tbody tr"),
        logs,
    )

    # Filtered by time: nothing was created after tomorrow began.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    driver.get(f"{api.base}/alerts?start={tomorrow}")
    status = _wait(
        "the empty history",
        30,
        lambda: (
            (t := driver.find_element("id", "alerts-status").text).startswith("No alerts") and t
        ),
        logs,
    )
    assert "No alerts created from" in status
    assert driver.find_elements("css selector", "#alert-history [data-alert]") == []
