"""StationXML through the API as operators have it: IRIS's documents, other encodings,
and what must be refused with a 400 that names the element."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from obspy import read_inventory
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.deps import get_session
from api.settings import ApiSettings
from stations.apikeys import create_api_key
from stations.inventory import default_inventory_path

from ..stations.test_inventory_input import BERKELEY, CYRILLIC_SITE, SITE, _document

XML = {"Content-Type": "application/xml"}


@pytest.fixture
def api(engine: Engine, inventory: Session) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(ApiSettings(database_url="sqlite://"), engine=engine)
    app.dependency_overrides[get_session] = lambda: inventory
    _, key = create_api_key(inventory, name="importer", now=datetime.now(UTC))
    with TestClient(app) as client:
        app.state.session_factory = sessionmaker(
            bind=inventory.connection(), join_transaction_mode="create_savepoint"
        )
        yield client, {"X-API-Key": key, **XML}


def test_irisdmc_document_without_a_sensitivity_value(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = api
    answer = client.post(
        "/api/v1/stations", content=BERKELEY.read_bytes(), headers=headers, params={"name": "bk"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["station_ids"] == ["BK.CMB"]
    channels = client.get("/api/v1/stations/BK.CMB").json()["channels"]
    assert [(c["id"], c["kind"]) for c in channels] == [("BK.CMB..LKS", "soh")]


@pytest.mark.parametrize(("encoding", "site"), [("UTF-16", CYRILLIC_SITE), ("ISO-8859-1", SITE)])
def test_other_encodings_are_served_back_as_written(
    api: tuple[TestClient, dict[str, str]], encoding: str, site: str
) -> None:
    client, headers = api
    data = _document(site, encoding).encode(encoding)
    answer = client.post("/api/v1/stations", content=data, headers=headers, params={"name": "x"})
    assert answer.status_code == 200, answer.text
    assert client.get("/api/v1/stations/XX.SAREZ").json()["site_name"] == site
    for level in ("station", "response"):
        served = client.get(f"/fdsnws/station/1/query?level={level}")
        assert served.status_code == 200, served.text
        inventory = read_inventory(io.BytesIO(served.content), format="STATIONXML")
        assert sorted(net.code for net in inventory) == ["TJ", "XX"]
        assert inventory.select(network="XX", station="SAREZ")[0][0].site.name == site
    text = client.get("/fdsnws/station/1/query?network=XX&format=text")
    assert text.status_code == 200
    assert site in text.text


@pytest.mark.parametrize(
    ("replace", "by", "named"),
    [
        ("<SampleRate>100.0</SampleRate>", "<SampleRate>1e-300</SampleRate>", "SampleRate"),
        ("<SampleRate>100.0</SampleRate>", "<SampleRate>INF</SampleRate>", "SampleRate"),
        ('<Network code="TJ"', '<Network code="../../e"', "network code '../../e'"),
        ('<Station code="SAREZ"', '<Station code="a/b"', "station code 'a/b'"),
        ('<Latitude unit="DEGREES">38.27</Latitude>', "<Latitude>91</Latitude>", "Latitude"),
    ],
)
def test_unusable_values_are_a_400_naming_the_element(
    api: tuple[TestClient, dict[str, str]], replace: str, by: str, named: str
) -> None:
    client, headers = api
    data = default_inventory_path().read_text().replace(replace, by, 1).encode()
    answer = client.post("/api/v1/stations", content=data, headers=headers)
    assert answer.status_code == 400
    assert named in answer.json()["detail"]
    assert "<?xml" not in answer.text
    # Nothing was kept: every reader of the inventory still answers.
    assert client.get("/fdsnws/station/1/query").status_code == 200
    assert client.get("/fdsnws/dataselect/1/query?start=2025-01-01&end=2025-01-02").status_code in (
        204,
        200,
    )
