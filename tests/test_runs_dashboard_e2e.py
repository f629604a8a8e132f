"""The dashboard's catalogue runs, in a real browser over a real ``larza api``: the list of
runs (settings digest, span, status, counts, a running run's progress), two runs compared
with two selects (matched, only in A, only in B), and a run's events.

Runs are stored as ``larza reprocess`` stores them: a baseline, a tuned profile that finds
the first quake 0.8 s later, misses the second and finds a new one, and a run still going."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.runs import create_run, get_run, store_chunk

from .api.test_runs import NOW, T0, _store
from .conftest import free_port
from .stack import get_json, larza
from .test_dashboard_e2e import _wait, browser  # noqa: F401 (a fixture)

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(fresh_database_url: str, tmp_path: Path) -> Iterator[str]:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
        _store(s, "baseline", [T0 + 60, T0 + 350, T0 + 640])
        _store(s, "tuned", [T0 + 60.8, T0 + 640, T0 + 930], config="[detector]\nsta = 0.5\n")
        for name in ("baseline", "tuned"):
            run = get_run(s, name=name)
            assert run is not None
            for k in range(run.chunks):
                store_chunk(s, run_id=run.id, name=f"chunk {k}", ok=True, result="{}", now=NOW)
        going = create_run(s, name="june", config="", start=T0, end=T0 + 86400 * 30,
                           stations=["TJ.SAREZ"], chunk_s=86400, chunks=30,
                           now=datetime.now(UTC))  # fmt: skip
        for day in range(7):  # day 3 failed; days 5 and 6 had no data
            store_chunk(s, run_id=going.id, name=f"TJ.SAREZ day {day}", ok=day != 3, result="{}",
                        now=datetime.now(UTC), empty=day >= 5)  # fmt: skip
    engine.dispose()
    port = free_port()
    env = {"LARZA_DATABASE_URL": fresh_database_url, "LARZA_ARCHIVE_DIR": ""}
    process = larza("api", "--port", str(port), env={**os.environ, **env}, log=tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while get_json(base, "/api/v1/runs") is None:
            assert process.poll() is None, (tmp_path / "api.log").read_text()
            assert time.monotonic() < deadline, "the API did not answer within 60 s"
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def _text(driver: Any, css: str) -> str | None:
    found = driver.find_elements("css selector", css)
    return found[0].text if found else None


def test_runs_listed_compared_and_opened(
    api: str,
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.support.ui import Select

    driver = browser
    driver.get(f"{api}/runs")
    rows = _wait(
        "the three runs in the list",
        60,
        lambda: len(driver.find_elements("css selector", "#runs-table tbody tr")) == 3 or None,
        tmp_path,
    )
    assert rows
    tuned = _text(driver, '#runs-table tr[data-run="tuned"]') or ""
    assert "finished" in tuned, tuned
    assert "2025-06-01 23:30:00 UTC \N{EN DASH} 2025-06-02 00:30:00 UTC" in tuned, tuned
    assert "18/18 chunks" in tuned, tuned
    cells = driver.find_elements("css selector", '#runs-table tr[data-run="tuned"] td.num')
    assert [c.text for c in cells] == ["3", "9", "3"]  # stations, detections, events
    baseline = _text(driver, '#runs-table tr[data-run="baseline"] .run-config summary') or ""
    assert "(defaults)" in baseline
    assert "(defaults)" not in (_text(driver, '#runs-table tr[data-run="tuned"] summary') or "")
    going = _text(driver, '#runs-table tr[data-run="june"]') or ""
    assert "running" in going, going
    assert "7/30 chunks, 1 failed, empty chunks: 2" in going, going
    source = _text(driver, '#runs-table tr[data-run="tuned"] td.run-source')
    assert source == "FDSN dataselect http://archive.example:8080", source
    assert _text(driver, '#runs-table tr[data-run="june"] td.run-source') == "not recorded"
    bar = driver.find_element("css selector", '#runs-table tr[data-run="june"] progress')
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == ("7", "30")

    Select(driver.find_element("id", "run-a")).select_by_value("baseline")
    Select(driver.find_element("id", "run-b")).select_by_value("tuned")
    counts = _wait(
        "the comparison of baseline and tuned",
        60,
        lambda: (t := _text(driver, "#compare-counts")) and "only in tuned" in t and t,
        tmp_path,
    )
    assert counts.startswith("2 matched · 1 only in baseline · 1 only in tuned"), counts
    matched = driver.find_elements("css selector", "#compare-matched tbody tr")
    assert [r.find_elements("css selector", "td")[2].text for r in matched] == ["0.80 s", "0.00 s"]
    only_a = _text(driver, "#compare-only-a tbody") or ""
    assert "23:35:50" in only_a, only_a
    only_b = _text(driver, "#compare-only-b tbody") or ""
    assert "23:45:30" in only_b, only_b
    assert "a=baseline" in driver.current_url  # the comparison can be shared as a link

    driver.find_element("link text", "tuned").click()
    events = _wait(
        "the events of run tuned",
        60,
        lambda: driver.find_elements("css selector", "#run-events tbody tr[data-event]"),
        tmp_path,
    )
    assert len(events) == 3
    assert not driver.find_element("id", "run-more").is_displayed()  # all on one page
    assert "SAREZ HHZ P 23:31:00" in events[0].text, events[0].text
    facts = _text(driver, "#run-facts") or ""
    assert "TJ.MANEM, TJ.MURGH, TJ.SAREZ (named with --stations)" in facts, facts
    assert "FDSN dataselect http://archive.example:8080" in facts, facts
    link = driver.find_element("link text", "events (QuakeML)").get_attribute("href")
    assert "run=tuned" in link
    assert "format=quakeml" in link
