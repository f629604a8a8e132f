"""The dashboard shows located earthquakes, in a real browser over a real ``larza api``:
"M 3.8 · 42 km NE of Murghob · depth 110 km" in the event list, and the event page's origin,
magnitude and table of station magnitudes and ground motion."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml

from .api.test_quakes_api import store_quakes
from .conftest import free_port
from .stack import get_json, larza, tail
from .test_dashboard_e2e import _wait, browser  # noqa: F401 (a fixture)

pytestmark = pytest.mark.e2e
SCREENSHOT = ""  # a path here keeps a screenshot of the event page


@pytest.fixture
def api(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
        ids = store_quakes(s, datetime.now(UTC) - timedelta(hours=1))
    engine.dispose()
    port = free_port()
    env = {"LARZA_DATABASE_URL": fresh_database_url, "LARZA_ARCHIVE_DIR": ""}
    process = larza("api", "--port", str(port), env={**os.environ, **env}, log=tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and get_json(base, "/api/v1/events") is None:
            time.sleep(0.3)
        yield base, ids
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_located_events_in_the_dashboard(
    api: tuple[str, dict[str, int]],
    browser: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    base, ids = api
    driver = browser
    driver.get(f"{base}/")  # type: ignore[attr-defined]
    deep = ids["deep near Murghob"]

    def deep_line() -> str | None:
        items = driver.find_elements("css selector", f'#events li[data-event="{deep}"]')  # type: ignore[attr-defined]
        return items[0].text if items else None

    line = _wait("the deep quake in the event list", 30, deep_line, tmp_path)
    assert "M 3.8 · " in line, line
    assert " of Murghob · depth 110 km" in line, line

    driver.get(f"{base}/events/{deep}")  # type: ignore[attr-defined]
    rows = _wait(
        "the table of station magnitudes and ground motion",
        30,
        lambda: driver.find_elements("css selector", "#event-stations tbody tr"),  # type: ignore[attr-defined]
        tmp_path,
    )
    assert len(rows) == 3, tail(tmp_path)
    facts = driver.find_element("id", "event-facts").text  # type: ignore[attr-defined]
    assert "ML 3.8 ± 0.1 (3 stations)" in facts, facts
    assert "grade B" in facts, facts
    sarez = driver.find_element("css selector", '#event-stations tr[data-station="TJ.SAREZ"]').text  # type: ignore[attr-defined]
    assert "0.500 %g" in sarez, sarez  # PGA 4.9 cm/s2
    residuals = driver.find_elements("css selector", "#event-detections tbody tr")  # type: ignore[attr-defined]
    assert any("0.20 s" in r.text for r in residuals)

    # The epicentre map: inline SVG with the three stations (all used), the epicentre and
    # its ellipse, drawn at a readable size.
    marks = _wait(
        "the epicentre map's stations",
        30,
        lambda: driver.find_elements("css selector", "#event-map svg g[data-station]"),  # type: ignore[attr-defined]
        tmp_path,
    )
    assert sorted(m.get_attribute("data-station") for m in marks) == [
        "TJ.MANEM",
        "TJ.MURGH",
        "TJ.SAREZ",
    ]
    assert all("used" in (m.get_attribute("class") or "").split() for m in marks)
    assert driver.find_elements("css selector", "#event-map svg #epicentre")  # type: ignore[attr-defined]
    assert driver.find_elements("css selector", "#event-map svg ellipse#ellipse")  # type: ignore[attr-defined]
    drawn = driver.find_element("css selector", "#event-map svg").size  # type: ignore[attr-defined]
    assert drawn["width"] > 300, drawn
    assert drawn["height"] > 150, drawn
    # East of the stations on the page too: the epicentre (74.3°E) right of MURGH (73.96°E).
    star = driver.find_element("css selector", "#event-map svg #epicentre").rect  # type: ignore[attr-defined]
    murgh = driver.find_element("css selector", '#event-map svg g[data-station="TJ.MURGH"]').rect  # type: ignore[attr-defined]
    assert star["x"] > murgh["x"] + murgh["width"] / 2, (star, murgh)
    wave = driver.find_element("id", "event-waveforms").get_attribute("alt")  # type: ignore[attr-defined]
    assert "P pred" in wave, wave
    if SCREENSHOT:
        driver.save_screenshot(SCREENSHOT)  # type: ignore[attr-defined]
