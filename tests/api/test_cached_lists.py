"""The station list and /metrics, built once per evaluation round and served from memory: a
new round shows without waiting for an age, an operator's write shows at once (through
another process as soon as its poller looks), a station no worker evaluates turns stale,
and the plain reads behind them find what the ORM finds."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from api.cache import Built, RoundCache, built
from api.settings import ApiSettings
from stations.apikeys import create_api_key
from stations.db import make_engine, make_session_factory
from stations.health import (
    ChannelReport,
    channel_healths,
    save_channel_health,
    save_station_state,
    station_states,
)
from stations.models import HealthState
from stations.overview import read_overview
from stations.queries import (
    ChannelKey,
    channel_index,
    channel_statuses,
    get_station,
    list_stations,
    record_arrivals,
)

from .test_station_writes import _stationxml
from .test_stream import Serving, Writer, prepared, serving

LIST = "/api/v1/stations"


def request(
    api: Serving, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        sent = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
        conn.request(method, path, body=data, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def stations(api: Serving) -> dict[str, Any]:
    status, _, body = request(api, "GET", LIST)
    assert status == 200
    return {s["id"]: s for s in json.loads(body)}


def eventually(what: Callable[[], bool], seconds: float = 20.0) -> None:
    """Until ``what()`` holds; the deadline is generous (a loaded machine), not a target."""
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "it did not show"
        time.sleep(0.05)


def settings(database: str, **changes: Any) -> ApiSettings:
    given: dict[str, Any] = {"stream_poll_s": 0.05, "api_cache_max_age_s": 600, **changes}
    return ApiSettings(database_url=database, webhooks_enabled=False, **given)


@pytest.fixture
def database(fresh_database_url: str) -> str:
    return prepared(fresh_database_url)


@pytest.fixture
def writer(database: str) -> Iterator[Writer]:
    w = Writer(database)
    yield w
    w.close()


@pytest.fixture
def key(database: str) -> str:
    engine = make_engine(database)
    with make_session_factory(engine)() as s, s.begin():
        _, key = create_api_key(s, name="night shift", now=datetime.now(UTC))
    engine.dispose()
    return key


@pytest.fixture
def api(database: str) -> Iterator[Serving]:
    with serving(settings(database)) as s:
        yield s


def test_a_new_round_shows_without_waiting(api: Serving, writer: Writer) -> None:
    """Cached for ten minutes by age, yet the round the worker stores shows: the poller
    sees it and the list is built again; the ETag moves with it."""
    before = stations(api)
    assert before["TJ.SAREZ"]["state"] == "UNKNOWN"
    assert before["TJ.SAREZ"]["stale"]
    _, headers, _ = request(api, "GET", LIST)
    old_tag = headers["etag"]
    assert request(api, "GET", LIST, headers={"If-None-Match": old_tag})[0] == 304
    writer.state("SAREZ", HealthState.DOWN)
    eventually(lambda: stations(api)["TJ.SAREZ"]["state"] == "DOWN")
    sarez = stations(api)["TJ.SAREZ"]
    assert not sarez["stale"]
    assert sarez["reason"] == "drill: down"
    status, headers, _ = request(api, "GET", LIST, headers={"If-None-Match": old_tag})
    assert status == 200
    assert headers["etag"] != old_tag
    assert request(api, "GET", LIST, headers={"If-None-Match": headers["etag"]})[0] == 304
    # /metrics is built from the same round
    _, _, text = request(api, "GET", "/metrics")
    assert 'larza_station_state{state="DOWN",station="TJ.SAREZ"} 1.0' in text.decode()


def test_gzip_for_clients_that_take_it(api: Serving) -> None:
    status, headers, body = request(api, "GET", LIST, headers={"Accept-Encoding": "gzip"})
    assert (status, headers["content-encoding"], headers["vary"]) == (
        200,
        "gzip",
        "Accept-Encoding",
    )
    plain = request(api, "GET", LIST)[2]
    assert gzip.decompress(body) == plain
    assert json.loads(plain)[0]["id"] == "TJ.MANEM"
    for refused in ("identity", "gzip;q=0"):
        _, headers, _ = request(api, "GET", LIST, headers={"Accept-Encoding": refused})
        assert "content-encoding" not in headers


def test_operator_writes_show_at_once(api: Serving, writer: Writer, key: str) -> None:
    """The next read after the write's answer shows it, in the list and in /metrics: no
    poll, no age."""
    writer.state("SAREZ", HealthState.DOWN)
    eventually(lambda: stations(api)["TJ.SAREZ"]["state"] == "DOWN")
    as_key = {"X-API-Key": key}
    path = f"{LIST}/TJ.SAREZ/acknowledgements"
    assert request(api, "POST", path, {"comment": "Firuz drives up"}, as_key)[0] == 201
    assert stations(api)["TJ.SAREZ"]["acknowledged"]["comment"] == "Firuz drives up"
    patch = {"maintenance": True, "note": "battery swap"}
    assert request(api, "PATCH", f"{LIST}/TJ.MURGH", patch, as_key)[0] == 200
    assert stations(api)["TJ.MURGH"]["maintenance"]["note"] == "battery swap"
    assert request(api, "GET", "/metrics")[0] == 200  # cached before the import
    xml = {**as_key, "Content-Type": "application/xml"}
    assert request(api, "POST", f"{LIST}?name=xx.xml", _stationxml(), xml)[0] == 200
    assert "XX.NEWST" in stations(api)
    assert 'station="XX.NEWST"' in request(api, "GET", "/metrics")[2].decode()


def test_writes_through_another_process_show(database: str, key: str) -> None:
    """Two API processes (each app its own cache and poller): a write through one shows in
    the other's cached list as soon as its poller looks."""
    with serving(settings(database)) as one, serving(settings(database)) as other:
        assert stations(other)["TJ.MURGH"]["maintenance"] is None
        patch = {"maintenance": True, "note": "field visit"}
        headers = {"X-API-Key": key}
        assert request(one, "PATCH", f"{LIST}/TJ.MURGH", patch, headers)[0] == 200
        eventually(lambda: (stations(other)["TJ.MURGH"]["maintenance"] or {}).get("on") is True)


def test_a_station_no_worker_evaluates_turns_stale(database: str, writer: Writer) -> None:
    """Without new rounds, the list is still built again each ``api_cache_max_age_s``: a
    station's state turns stale on time and is worked out from latency. (Fresh for 5 s: the
    fresh state must be seen first, which a loaded machine can take seconds to show.)"""
    with serving(settings(database, api_cache_max_age_s=0.2, stale_after_s=5.0)) as api:
        writer.state("MANEM", HealthState.OK)
        eventually(lambda: stations(api)["TJ.MANEM"]["state"] == "OK")
        eventually(lambda: stations(api)["TJ.MANEM"]["stale"])
        manem = stations(api)["TJ.MANEM"]
        assert manem["reason"].startswith("health not evaluated by a worker (not since")


def test_the_list_and_each_station_agree(api: Serving, writer: Writer) -> None:
    """The cached list shows each station as its own (uncached) page does, but for the
    figures that run with the clock."""
    writer.state("SAREZ", HealthState.DEGRADED)
    eventually(lambda: stations(api)["TJ.SAREZ"]["state"] == "DEGRADED")

    def steady(station: dict[str, Any]) -> dict[str, Any]:
        out = dict(station, data_latency_s=None)
        out["channels"] = [
            dict(c, data_latency_s=None, feed_latency_s=None) for c in out["channels"]
        ]
        return out

    for station_id, listed in stations(api).items():
        _, _, body = request(api, "GET", f"{LIST}/{station_id}")
        assert steady(json.loads(body)) == steady(listed)


NOW = datetime.now(UTC).replace(microsecond=0)


def test_the_plain_reads_find_what_the_orm_finds(inventory: Session) -> None:
    """Data on some channels, health fresh for one station, none for another: every value
    read for the list is the ORM's, with its type (UTC times, enums, JSON)."""
    index = channel_index(inventory)
    sarez = [c for k, c in index.items() if k.station == "SAREZ"]
    hhz = index[ChannelKey("TJ", "MURGH", "", "HHZ")]
    record_arrivals(
        inventory,
        arrivals={c.id: (NOW - timedelta(seconds=2), 7) for c in [*sarez, hhz]},
        arrival_time=NOW,
    )
    save_channel_health(
        inventory,
        reports=[
            ChannelReport(c.id, HealthState.DEGRADED, "clipping 2 %", {"clipped_pct": 2.0})
            for c in sarez
        ],
        now=NOW,
    )
    station_id = get_station(inventory, network="TJ", station="SAREZ").id
    save_station_state(
        inventory, station_id=station_id, state=HealthState.DEGRADED, reason="clip", now=NOW
    )
    read = read_overview(inventory)
    found = list_stations(inventory)
    assert [(s.id, s.network_code, s.code) for s in read.stations] == [
        (s.id, s.network.code, s.code) for s in found
    ]
    for row, orm in zip(read.stations, found, strict=True):
        assert (row.latitude, row.longitude, row.elevation, row.site_name) == (
            orm.latitude,
            orm.longitude,
            orm.elevation,
            orm.site_name,
        )
        assert sorted(row.channels) == sorted(
            (c.id, c.location, c.code, c.kind, c.sampling_rate) for c in orm.channels
        )
    ids = [c.id for s in found for c in s.channels]
    statuses = channel_statuses(inventory, channel_ids=ids)
    assert read.statuses == {
        i: (s.last_sample_time, s.last_arrival_time, s.records) for i, s in statuses.items()
    }
    healths = channel_healths(inventory, channel_ids=ids)
    assert read.channels == {
        i: (h.state, h.reason, h.evaluated_at, h.metrics) for i, h in healths.items()
    }
    assert read.states == {
        i: (h.state, h.reason, h.since, h.evaluated_at)
        for i, h in station_states(inventory).items()
    }
    assert read.states[station_id].evaluated_at.tzinfo is UTC
    assert read.channels[sarez[0].id].state is HealthState.DEGRADED
    only = read_overview(inventory, station_ids=[station_id])
    assert [s.code for s in only.stations] == ["SAREZ"]
    assert set(only.statuses) == {c.id for c in sarez}
    assert set(only.states) == {station_id}


def test_rounds_closer_than_a_rebuild_allows_are_built_together() -> None:
    """A large network's round comes in turns, each a new round to the cache: after a build
    of 0.4 s, rounds are built at most every 4 s (a tenth of the process), those that come
    meanwhile together, and the last of them shows."""

    async def run() -> None:
        cache = RoundCache(enabled=True, max_age_s=600)
        builds = 0

        async def build() -> Built:
            nonlocal builds
            builds += 1
            await asyncio.sleep(0.4)
            return built(b"build %d" % builds, "text/plain")

        async def until(body: bytes) -> None:
            deadline = time.monotonic() + 30
            while (await cache.get("list", build)).body != body:
                assert time.monotonic() < deadline, f"{body!r} was never served"
                await asyncio.sleep(0.02)

        assert (await cache.get("list", build)).body == b"build 1"
        cache.new_round()  # the first round for a while: built at once
        await until(b"build 2")
        for _ in range(20):  # the worker's next turns, sooner than the spacing allows
            cache.new_round()
            await asyncio.sleep(0.01)
        assert builds == 2  # they wait (without the spacing, each would start a build)
        assert (await cache.get("list", build)).body == b"build 2"
        await until(b"build 3")  # built together once the spacing has passed
        await asyncio.sleep(0.5)
        assert builds == 3

    asyncio.run(run())
