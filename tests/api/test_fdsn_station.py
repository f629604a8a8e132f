"""The FDSN station service, used by ObsPy's own FDSN client against a real server on
loopback, as a researcher would."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import uvicorn
from obspy import UTCDateTime
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import FDSNNoDataException

from api.app import create_app
from api.settings import ApiSettings
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml

from ..conftest import free_port


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fdsn') / 'larza.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    engine.dispose()
    port = free_port()
    app = create_app(ApiSettings(database_url=url))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_obspy_client_gets_stations(base_url: str) -> None:
    client = Client(base_url)
    assert "station" in client.services
    inv = client.get_stations(network="TJ", level="station")
    assert sorted(s.code for s in inv[0]) == ["MANEM", "MURGH", "SAREZ"]
    assert len(inv[0][0].channels) == 0


def test_channel_and_response_levels(base_url: str) -> None:
    client = Client(base_url)
    inv = client.get_stations(station="SAREZ", channel="HN?", level="response")
    channels = inv[0][0].channels
    assert sorted(c.code for c in channels) == ["HNE", "HNN", "HNZ"]
    assert channels[0].response.instrument_sensitivity.value == pytest.approx(8.0e4)
    plain = client.get_stations(station="SAREZ,MURGH", channel="HHZ", level="channel")
    assert sorted(s.code for s in plain[0]) == ["MURGH", "SAREZ"]
    assert plain[0][0][0].response is None


def test_region_and_time_filters(base_url: str) -> None:
    client = Client(base_url)
    near_khorugh = client.get_stations(latitude=37.5, longitude=71.5, maxradius=0.5)
    assert [s.code for s in near_khorugh[0]] == ["MANEM"]
    box = client.get_stations(minlongitude=73.0, maxlongitude=75.0)
    assert [s.code for s in box[0]] == ["MURGH"]
    with pytest.raises(FDSNNoDataException):
        client.get_stations(starttime=UTCDateTime(2000, 1, 1), endtime=UTCDateTime(2001, 1, 1))


def test_text_format(base_url: str) -> None:
    with urllib.request.urlopen(
        f"{base_url}/fdsnws/station/1/query?format=text&level=channel&cha=HHZ"
    ) as r:
        lines = r.read().decode().strip().splitlines()
    assert lines[0].startswith("#Network|Station|Location|Channel")
    assert len(lines) == 4


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("level=everything", "Bad value for level"),
        ("minlatitude=north", "Bad value for minlatitude"),
        ("starttime=yesterday", "Bad value for starttime"),
        ("colour=red", "Unsupported parameter: colour"),
        ("format=text&level=response", "no response level"),
    ],
)
def test_bad_parameters_get_the_fdsn_error_document(base_url: str, query: str, needle: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{base_url}/fdsnws/station/1/query?{query}")
    assert info.value.code == 400
    body = info.value.read().decode()
    info.value.close()
    assert body.startswith("Error 400: Bad Request")
    assert needle in body


def test_nodata_404_and_version(base_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{base_url}/fdsnws/station/1/query?network=XX&nodata=404")
    assert info.value.code == 404
    info.value.close()
    with urllib.request.urlopen(f"{base_url}/fdsnws/station/1/version") as r:
        assert r.read().decode() == "1.1.0"
