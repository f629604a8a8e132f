"""The dashboard end to end, tried in a real browser as an operator would: feed, worker and API
run as processes; headless Chromium (Debian's ``chromium`` and ``chromedriver``, driven by
Selenium) opens the pages.

The drill feed silences TJ.SAREZ after a while, takes TJ.MURGH's GPS lock, and makes a
synthetic earthquake about every 30 s; the worker's larza.toml has short health thresholds.
The overview must list the three stations with their states; show what operators wrote (a
station in maintenance, an acknowledged state) on the tiles; name MURGH's channels once in
its reason; keep every tile's last column (timing) in view at common widths; fit the map to
a station imported from far away; turn SAREZ DOWN with the reason on time, without claiming
full availability for it; and show a new event from the live stream without a reload. The
event page must show its waveforms and detections; stopping the API must raise the
"connection lost" banner.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .stack import Stack, get_json, running_stack, tail

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

SILENT_AFTER_S = 100.0  # after the new event: three stations make events only together
LATENCY_DOWN_S = 12.0

FAULTS = f"""
[[fault]]
kind = "silent_station"
station = "SAREZ"
start = {SILENT_AFTER_S}
end = 3600

[[fault]]
kind = "gps_unlock"
station = "MURGH"
start = 15
end = 3600
timing_quality = 20
"""

# A station far from the Pamirs (network XX: FDSN's code for tests), imported while the
# dashboard is open: the map must move to show it.
FAR_STATIONXML = b"""<?xml version="1.0" encoding="UTF-8"?>
<FDSNStationXML xmlns="http://www.fdsn.org/xml/station/1" schemaVersion="1.2">
  <Source>Larza tests</Source>
  <Created>2024-01-01T00:00:00Z</Created>
  <Network code="XX" startDate="2024-01-01T00:00:00Z">
    <Station code="FAR" startDate="2024-01-01T00:00:00Z">
      <Latitude>46.52</Latitude>
      <Longitude>7.45</Longitude>
      <Elevation>1200.0</Elevation>
      <Site><Name>Far from the Pamirs</Name></Site>
      <Channel code="HHZ" locationCode="" startDate="2024-01-01T00:00:00Z">
        <Latitude>46.52</Latitude>
        <Longitude>7.45</Longitude>
        <Elevation>1200.0</Elevation>
        <Depth>0.0</Depth>
        <Azimuth>0.0</Azimuth>
        <Dip>-90.0</Dip>
        <SampleRate>100.0</SampleRate>
      </Channel>
    </Station>
  </Network>
</FDSNStationXML>
"""

# Common screen widths (and a phone): every tile must show its last column whole.
WIDTHS = [(1280, 720), (1366, 768), (1100, 800), (1024, 768), (800, 600), (390, 844)]

CONFIG = f"""
[health]
window_s = 15.0
state_interval_s = 1.0
interval_s = 5.0
latency_degraded_s = 8.0
latency_down_s = {LATENCY_DOWN_S}

[association]
min_stations = 2
"""

T = TypeVar("T")


@pytest.fixture
def stack(fresh_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    (tmp_path / "faults.toml").write_text(FAULTS)
    feed = ["--seed", "11", "--event-interval", "30", "--first-event-after", "10"]
    feed += ["--faults", str(tmp_path / "faults.toml")]
    feed += ["--config", str(tmp_path / "larza.toml")]  # quakes travel by the worker's model
    with running_stack(fresh_database_url, tmp_path, feed, archive=True, config=CONFIG) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[object]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(
            f"the dashboard's browser tests need Debian's chromium and chromium-driver "
            f"({', '.join(missing)} not found): apt-get install -y chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,720")
    # The driver is given explicitly: Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(what: str, timeout: float, probe: Callable[[], T | None], logs: Path) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after
    ``timeout`` seconds, with the processes' last log lines."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as e:  # a page half-drawn or being replaced: look again
            if type(e).__module__.startswith("selenium"):
                last = None
            else:
                raise
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"waited {timeout:.0f} s for {what}; last seen {last!r}\n{tail(logs)}")


def _api_key(database_url: str) -> str:
    """A key made as an operator makes one: ``larza apikey create``."""
    env = {**os.environ, "LARZA_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "apikey", "create", "duty"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.splitlines()[1].strip()


def _send(base: str, method: str, path: str, key: str, body: bytes | dict[str, Any]) -> Any:
    """An operator's write: JSON, or a StationXML document given as bytes."""
    xml = isinstance(body, bytes)
    request = urllib.request.Request(
        base + path,
        data=body if isinstance(body, bytes) else json.dumps(body).encode(),
        method=method,
        headers={
            "X-API-Key": key,
            "Content-Type": "application/xml" if xml else "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _tile_facts(driver: object, station: str) -> dict[str, Any] | None:
    script = """
      const t = document.querySelector(`#tiles [data-station="${arguments[0]}"]`);
      if (!t) return null;
      return {
        state: t.dataset.state, maintenance: t.dataset.maintenance,
        acknowledged: t.dataset.acknowledged, text: t.innerText,
        reason: t.querySelector('.reason').textContent,
        notes: Array.from(t.querySelectorAll('.operator')).map((p) => p.textContent),
        avail: Array.from(t.querySelectorAll('tbody tr')).map(
          (r) => [r.querySelector('th').textContent, r.querySelectorAll('td')[2]?.textContent]),
      };
    """
    facts: dict[str, Any] | None = driver.execute_script(script, station)  # type: ignore[attr-defined]
    return facts


def _flagged(driver: object, station: str, flag: str) -> Callable[[], dict[str, Any] | None]:
    """A probe: the station's tile facts once its ``flag`` (maintenance, acknowledged) is set."""

    def probe() -> dict[str, Any] | None:
        facts = _tile_facts(driver, station)
        return facts if facts and facts[flag] == "true" else None

    return probe


def _clipped_tiles(driver: object) -> list[object]:
    """Tiles whose table is wider than the tile, or whose last column ends outside it."""
    script = """
      return Array.from(document.querySelectorAll('#tiles .tile')).flatMap((t) => {
        const table = t.querySelector('table');
        const last = table.querySelector('thead th:last-child').getBoundingClientRect();
        const box = t.getBoundingClientRect();
        const clipped = table.scrollWidth > t.clientWidth || last.right > box.right - 1
          || t.scrollWidth > t.clientWidth;
        return clipped ? [[t.dataset.station, window.innerWidth, table.scrollWidth,
          t.clientWidth, last.right, box.right]] : [];
      });
    """
    found: list[object] = driver.execute_script(script)  # type: ignore[attr-defined]
    return found


def _off_the_map(driver: object) -> list[str] | None:
    """The stations whose map marker lies outside the drawn map (None: no map yet)."""
    script = """
      const map = document.querySelector('#map svg');
      if (!map) return null;
      const box = map.getBoundingClientRect();
      return Array.from(document.querySelectorAll('#tiles [data-station]')).flatMap((t) => {
        const mark = map.querySelector(`a[data-station="${t.dataset.station}"]`);
        if (!mark) return [t.dataset.station];
        const r = mark.getBoundingClientRect();
        const inside = r.left >= box.left && r.right <= box.right && r.top >= box.top
          && r.bottom <= box.bottom;
        return inside ? [] : [t.dataset.station];
      });
    """
    found: list[str] | None = driver.execute_script(script)  # type: ignore[attr-defined]
    return found


def _tiles(driver: object) -> dict[str, tuple[str, str]]:
    script = """
      return Array.from(document.querySelectorAll('#tiles [data-station]')).map(
        (t) => [t.dataset.station, t.dataset.state, t.querySelector('.reason').textContent]);
    """
    rows = driver.execute_script(script)  # type: ignore[attr-defined]
    return {sid: (state, reason) for sid, state, reason in rows}


def test_dashboard_in_a_browser(stack: Stack, browser: object, fresh_database_url: str) -> None:
    driver = browser
    logs = stack.logs
    _wait("the API", 40, lambda: get_json(stack.base, "/healthz"), logs)
    driver.get(stack.base + "/")  # type: ignore[attr-defined]

    # The overview lists the three stations, each with a state in words.
    def three_with_data() -> dict[str, tuple[str, str]] | None:
        tiles = _tiles(driver)
        known = {k: v for k, v in tiles.items() if v[0] in ("OK", "DEGRADED")}
        return tiles if len(known) == 3 else None

    tiles = _wait("three stations with data on the overview", 60, three_with_data, logs)
    assert sorted(tiles) == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"]
    text = driver.find_element("id", "tiles").text  # type: ignore[attr-defined]
    assert "OK" in text or "DEGRADED" in text  # the state is written, not only coloured
    driver.execute_script("window.larzaNotReloaded = true;")  # type: ignore[attr-defined]
    key = _api_key(fresh_database_url)

    # What operators write shows on the overview's tiles, not only on the station page.
    note = {"maintenance": True, "note": "field visit: battery swap"}
    _send(stack.base, "PATCH", "/api/v1/stations/TJ.MANEM", key, note)
    flagged = _flagged(driver, "TJ.MANEM", "maintenance")
    manem = _wait("MANEM's maintenance on its tile", 30, flagged, logs)
    assert "maintenance" in manem["text"]
    assert any("field visit: battery swap" in n and "duty" in n for n in manem["notes"])

    # A station imported from far away appears on the map, which moves to show it.
    imported = _send(stack.base, "POST", "/api/v1/stations?name=far.xml", key, FAR_STATIONXML)
    assert imported["station_ids"] == ["XX.FAR"]

    def far_on_the_map() -> bool:
        return "XX.FAR" in _tiles(driver) and _off_the_map(driver) == []

    _wait("XX.FAR on the map with every other station", 30, far_on_the_map, logs)
    beyond = driver.find_element("id", "map-beyond").text  # type: ignore[attr-defined]
    assert "XX.FAR" in beyond  # outside the outline's data, and the page says so
    assert "TJ." not in beyond

    # MURGH lost its GPS lock: its six channels are named once, with both reasons.
    def murgh_unlocked() -> str | None:
        state, reason = _tiles(driver).get("TJ.MURGH", ("", ""))
        every = all(code in reason for code in ("HHE", "HHN", "HHZ", "HNE", "HNN", "HNZ"))
        return reason if state == "DEGRADED" and every else None

    reason = _wait("TJ.MURGH DEGRADED by its clock on every channel", 60, murgh_unlocked, logs)
    assert reason == "HHE, HHN, HHZ, HNE, HNN, HNZ: clock not locked (GPS), timing quality 20 %"

    # With the widest badge (DEGRADED) on a tile, no tile clips its timing column.
    for width, height in WIDTHS:
        driver.set_window_size(width, height)  # type: ignore[attr-defined]
        assert _clipped_tiles(driver) == [], (width, height)
    driver.set_window_size(1280, 720)  # type: ignore[attr-defined]
    seen = set(
        driver.execute_script(  # type: ignore[attr-defined]
            "return Array.from(document.querySelectorAll('#events [data-event]'))"
            ".map((li) => li.dataset.event);"
        )
    )

    # A synthetic earthquake reaches the live list through the stream, without a reload.
    def new_event() -> str | None:
        found: list[str] = driver.execute_script(  # type: ignore[attr-defined]
            "return Array.from(document.querySelectorAll('#events li.new[data-event]'))"
            ".map((li) => li.dataset.event);"
        )
        fresh = [e for e in found if e not in seen]
        return fresh[0] if fresh else None

    event_id = _wait("a new event in the live list", 75, new_event, logs)
    assert driver.execute_script("return window.larzaNotReloaded === true;")  # type: ignore[attr-defined]

    # The silenced station turns DOWN, with the reason, within the configured time.
    def sarez_down() -> str | None:
        state, reason = _tiles(driver).get("TJ.SAREZ", ("", ""))
        return reason if state == "DOWN" else None

    # a minute of slack: on a loaded machine the worker may lag
    due = stack.feed_started + SILENT_AFTER_S + LATENCY_DOWN_S + 60.0
    reason = _wait("TJ.SAREZ DOWN", max(5.0, due - time.monotonic()), sarez_down, logs)
    assert "no data for" in reason
    assert driver.execute_script("return window.larzaNotReloaded === true;")  # type: ignore[attr-defined]
    tile = driver.find_element("css selector", '[data-station="TJ.SAREZ"]')  # type: ignore[attr-defined]
    assert "DOWN" in tile.text

    # Silent longer than the DOWN threshold (12 s) of a 15-s window: most of it is missing.
    # The state comes with the stream at once, the availability with the station list's
    # next refresh (every 10 s): wait for that.
    def sarez_missing() -> dict[str, str] | None:
        facts = _tile_facts(driver, "TJ.SAREZ")
        assert facts is not None
        groups = {group: text for group, text in facts["avail"] if text}
        assert set(groups) == {"Seismometer", "Accelerometer"}, facts
        low = all(t == "\u2013" or float(t.split()[0]) < 25.0 for t in groups.values())
        return groups if low else None

    _wait("SAREZ's availability to count its silence", 30, sarez_missing, logs)

    # An operator acknowledges the DOWN state: the tile says who, when and why.
    comment = {"comment": "Firuz drives up"}
    _send(stack.base, "POST", "/api/v1/stations/TJ.SAREZ/acknowledgements", key, comment)
    flagged = _flagged(driver, "TJ.SAREZ", "acknowledged")
    sarez = _wait("SAREZ's acknowledgement on its tile", 30, flagged, logs)
    assert any(
        n.startswith("Acknowledged by duty") and "Firuz drives up" in n for n in sarez["notes"]
    )

    # The API's documentation draws its operations from files of this server alone.
    driver.get(f"{stack.base}/docs")  # type: ignore[attr-defined]
    operations = _wait(
        "Swagger UI's list of operations",
        30,
        lambda: driver.find_elements("css selector", ".swagger-ui .opblock"),  # type: ignore[attr-defined]
        logs,
    )
    assert len(operations) > 20
    title = driver.find_element("css selector", ".swagger-ui .info .title").text  # type: ignore[attr-defined]
    assert title.startswith("Larza")
    loaded: list[str] = driver.execute_script(  # type: ignore[attr-defined]
        "return performance.getEntriesByType('resource').map((e) => e.name);"
    )
    assert loaded
    assert [url for url in loaded if not url.startswith(stack.base + "/")] == []

    # The event page: its detections listed and its waveforms drawn.
    driver.get(f"{stack.base}/events/{event_id}")  # type: ignore[attr-defined]
    rows = _wait(
        "the event's detections",
        20,
        lambda: driver.find_elements("css selector", "#event-detections tbody tr"),  # type: ignore[attr-defined]
        logs,
    )
    assert rows
    size = _wait(
        "the event's waveform image",
        40,
        lambda: driver.execute_script(  # type: ignore[attr-defined]
            "const img = document.getElementById('event-waveforms');"
            "return img && img.complete && img.naturalHeight > 150"
            " ? [img.naturalWidth, img.naturalHeight] : null;"
        ),
        logs,
    )
    assert size[0] > 0

    # The stream drops: the page says so.
    banner = driver.find_element("id", "banner")  # type: ignore[attr-defined]
    assert not banner.is_displayed()
    stack.api.terminate()
    stack.api.wait(timeout=15)
    _wait("the connection-lost banner", 20, banner.is_displayed, logs)
    assert banner.get_attribute("role") == "alert"
