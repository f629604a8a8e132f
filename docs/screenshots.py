"""Screenshots of the dashboard for the documentation: ``docs/overview.png`` and
``docs/event.png`` at 1280x720.

Starts a demo stack in a temporary folder (the synthetic feed, its quakes travelling by the
worker's velocity model, with a drill: MANEM falls silent, MURGH loses its GPS lock; the
worker with short health thresholds; the API), waits for a located event (three stations
make events only together, so before MANEM falls silent) and for the drill to show, has an
operator acknowledge MANEM and put SAREZ in maintenance, then has headless Chromium
(Debian's ``chromium`` and ``chromedriver``) take the pictures. Run from the repository:
``.venv/bin/python docs/screenshots.py``; it takes about four minutes.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

DOCS = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1280, 720
MAX_BYTES = 300_000

FAULTS = """
[[fault]]
kind = "silent_station"
station = "MANEM"
start = 150
end = 3600

[[fault]]
kind = "gps_unlock"
station = "MURGH"
start = 75
end = 3600
timing_quality = 20
"""

CONFIG = f"""
[velocity_model]
cache_dir = "{DOCS.parent / "var" / "traveltimes"}"

[health]
window_s = 30.0
state_interval_s = 1.0
interval_s = 10.0
latency_degraded_s = 8.0
latency_down_s = 20.0

[association]
min_stations = 2
"""


def _say(text: str) -> None:
    sys.stderr.write(f"screenshots: {text}\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def _wait(what: str, timeout: float, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1)
    raise SystemExit(f"screenshots: gave up waiting for {what}")


@contextmanager
def demo_stack(folder: Path) -> Iterator[str]:
    """Feed, worker and API on loopback ports; yields the API's base URL."""
    (folder / "faults.toml").write_text(FAULTS)
    (folder / "larza.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": f"sqlite:///{folder / 'larza.sqlite'}",
        "LARZA_ARCHIVE_DIR": str(folder / "archive"),
        "LARZA_CONFIG": str(folder / "larza.toml"),
    }
    larza = [sys.executable, "-m", "ingest"]
    for step in (["db", "migrate"], ["stations", "import", "--default"]):
        subprocess.run([*larza, *step], env=env, check=True, capture_output=True)
    sl_port, api_port = _free_port(), _free_port()
    commands = [
        ["feed", "--port", str(sl_port), "--seed", "5", "--event-interval", "25",
         "--first-event-after", "8", "--faults", str(folder / "faults.toml"),
         "--config", str(folder / "larza.toml")],  # quakes travel by the worker's model
        ["worker", "--seedlink", f"127.0.0.1:{sl_port}"],
        ["api", "--port", str(api_port)],
    ]  # fmt: skip
    procs = []
    try:
        for command in commands:
            with (folder / f"{command[0]}.log").open("wb") as log:
                procs.append(subprocess.Popen([*larza, *command], env=env, stdout=log, stderr=log))
            if command[0] == "feed":
                _wait("the feed", 20, lambda: _connects(sl_port))
        base = f"http://127.0.0.1:{api_port}"
        _wait("the API", 40, lambda: _get(base + "/healthz"))
        yield base
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


def _save(driver: webdriver.Chrome, path: Path) -> None:
    """The viewport as a PNG, reduced to a palette when it would be over ``MAX_BYTES``."""
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    if out.tell() > MAX_BYTES:
        out = io.BytesIO()
        image.quantize(colors=128).save(out, format="PNG", optimize=True)
    path.write_bytes(out.getvalue())
    _say(f"{path.name}: {image.width}x{image.height}, {out.tell() // 1024} KB")


def _operator_writes(base: str, folder: Path) -> None:
    """What an operator on duty writes: an acknowledgement and a maintenance note."""
    env = {**os.environ, "LARZA_DATABASE_URL": f"sqlite:///{folder / 'larza.sqlite'}"}
    created = subprocess.run(
        [sys.executable, "-m", "ingest", "apikey", "create", "duty"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = created.stdout.splitlines()[1].strip()
    writes = [
        ("POST", "/api/v1/stations/TJ.MANEM/acknowledgements", {"comment": "Firuz drives up"}),
        ("PATCH", "/api/v1/stations/TJ.SAREZ", {"maintenance": True, "note": "battery swap"}),
    ]
    for method, path, body in writes:
        request = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"X-API-Key": key, "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()


def _drill_shows(base: str) -> bool:
    stations = _get(base + "/api/v1/stations") or []
    states = {s["code"]: s["state"] for s in stations}
    return states.get("MANEM") == "DOWN" and states.get("MURGH") == "DEGRADED"


def _settled_event(base: str) -> int | None:
    """A located event whose waveforms have been archived by now."""
    page = _get(base + "/api/v1/events?limit=1000") or {"items": []}
    now = datetime.now(UTC)
    for event in reversed(page["items"]):
        last = max(datetime.fromisoformat(d["onset_time"]) for d in event["detections"])
        located = event.get("latitude") is not None
        if located and event["n_stations"] >= 2 and (now - last).total_seconds() > 35:
            return int(event["id"])
    return None


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="larza-shots-") as tmp, demo_stack(Path(tmp)) as base:
        _say("waiting for a located event, then the drill (about 3 minutes)")
        event_id = _wait("a located event", 200, lambda: _settled_event(base))
        _wait("MANEM DOWN and MURGH DEGRADED", 200, lambda: _drill_shows(base))
        _operator_writes(base, Path(tmp))
        driver = _browser()
        try:
            driver.get(base + "/")
            _wait("the overview", 30, lambda: driver.find_elements("css selector", ".tile"))
            time.sleep(4)  # the map and the live lists
            _save(driver, DOCS / "overview.png")
            driver.get(f"{base}/events/{event_id}")
            _wait(
                "the event's waveforms",
                30,
                lambda: driver.execute_script(
                    "const i = document.getElementById('event-waveforms');"
                    "return i && i.complete && i.naturalHeight > 150;"
                ),
            )
            time.sleep(1)
            _save(driver, DOCS / "event.png")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
