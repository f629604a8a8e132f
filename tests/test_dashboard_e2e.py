"""The dashboard end to end, tried in a real browser as an operator would: feed, worker and API
run as processes; headless Chromium (Debian's ``chromium`` and ``chromedriver``, driven by
Selenium) opens the pages.

The drill feed silences TJ.SAREZ after a while and makes a synthetic earthquake about every
30 s; the worker's larza.toml has short health thresholds. The overview must list the three
stations with their states, turn SAREZ DOWN with the reason on time, and show a new event
from the live stream without a reload; the event page must show its waveforms and
detections; stopping the API must raise the "connection lost" banner.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from .stack import Stack, get_json, running_stack, tail

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

SILENT_AFTER_S = 55.0
LATENCY_DOWN_S = 12.0

FAULTS = f"""
[[fault]]
kind = "silent_station"
station = "SAREZ"
start = {SILENT_AFTER_S}
end = 3600
"""

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


def _tiles(driver: object) -> dict[str, tuple[str, str]]:
    script = """
      return Array.from(document.querySelectorAll('#tiles [data-station]')).map(
        (t) => [t.dataset.station, t.dataset.state, t.querySelector('.reason').textContent]);
    """
    rows = driver.execute_script(script)  # type: ignore[attr-defined]
    return {sid: (state, reason) for sid, state, reason in rows}


def test_dashboard_in_a_browser(stack: Stack, browser: object) -> None:
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

    due = stack.feed_started + SILENT_AFTER_S + LATENCY_DOWN_S + 25.0
    reason = _wait("TJ.SAREZ DOWN", max(5.0, due - time.monotonic()), sarez_down, logs)
    assert "no data for" in reason
    assert driver.execute_script("return window.larzaNotReloaded === true;")  # type: ignore[attr-defined]
    tile = driver.find_element("css selector", '[data-station="TJ.SAREZ"]')  # type: ignore[attr-defined]
    assert "DOWN" in tile.text

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
