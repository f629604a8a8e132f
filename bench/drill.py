"""Drills end to end, as an operator runs them: for each scenario file, ``larza feed
--scenario FILE --config larza.toml --record-seconds 1`` and ``larza worker`` (real processes,
a fresh SQLite database, the default TJ stations, early warning on as an exercise, the target
sites of ``bench/alert.py``) until the alert has ended (or ``--seconds`` after the origin),
then ``larza drill report`` with the worker's log: the figures of the README's "Drills".

    python bench/drill.py [scenarios/pamir-deep-m6.5.toml scenarios/usoi-shallow-m5.toml]
                          [--seconds 150] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = [
    ROOT / "scenarios" / "pamir-deep-m6.5.toml",
    ROOT / "scenarios" / "usoi-shallow-m5.toml",
]
CONFIG = """
[velocity_model]
cache_dir = "{cache}"

[alerts]
enabled = true
exercise = true
{sites}
"""
SITES = (  # bench/alert.py's
    ("Usoi dam", 38.27, 72.62),
    ("Khorugh", 37.49, 71.55),
    ("Rogun dam", 38.68, 69.77),
    ("Nurek dam", 38.37, 69.35),
    ("Dushanbe", 38.56, 68.79),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def larza(*args: str, env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args], env=env, stdout=out, stderr=subprocess.STDOUT
    )


def drill(scenario: Path, folder: Path, cache: Path, seconds: float, as_json: bool) -> None:
    sites = "".join(
        f'[[alerts.sites]]\nname = "{n}"\nlatitude = {lat}\nlongitude = {lon}\n'
        for n, lat, lon in SITES
    )
    config = folder / "larza.toml"
    config.write_text(CONFIG.format(cache=cache, sites=sites))
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": f"sqlite:///{folder / 'drill.sqlite'}",
        "LARZA_ARCHIVE_DIR": "",
        "LARZA_CONFIG": str(config),
    }
    for step in (["db", "migrate"], ["stations", "import", "--default"]):
        subprocess.run([sys.executable, "-m", "ingest", *step], env=env, check=True,
                       capture_output=True)  # fmt: skip
    truth = folder / "truth.json"
    port = free_port()
    feed_args = ["feed", "--port", str(port), "--scenario", str(scenario), "--config", str(config)]
    feed = larza(*feed_args, "--truth", str(truth), "--record-seconds", "1", env=env,
                 log=folder / "feed.log")  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 120
        while not truth.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        worker_log = folder / "worker.log"
        worker = larza("worker", "--seedlink", f"127.0.0.1:{port}", env=env, log=worker_log)
        origin = datetime.fromisoformat(json.loads(truth.read_text())["origin_time"]).timestamp()
        while time.time() < origin + seconds:
            if "ended (network)" in worker_log.read_text(errors="replace"):
                break
            time.sleep(2)
    finally:
        for process in (worker, feed):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    report = ["drill", "report", "--truth", str(truth), "--worker-log", str(folder / "worker.log")]
    subprocess.run([sys.executable, "-m", "ingest", *report, *(["--json"] if as_json else [])],
                   env=env, check=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenarios", nargs="*", type=Path, default=SCENARIOS)
    parser.add_argument("--seconds", type=float, default=150.0, help="at most this after T0")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cache = ROOT / "var" / "traveltimes"
    for scenario in args.scenarios:
        with tempfile.TemporaryDirectory(prefix="larza-drill-") as tmp:
            drill(scenario.resolve(), Path(tmp), cache, args.seconds, args.json)
        print()


if __name__ == "__main__":
    main()
