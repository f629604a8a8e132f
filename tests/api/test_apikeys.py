"""API keys: ``larza apikey`` create, list and revoke, and keys required for reading."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from api.settings import ApiSettings
from ingest.cli.main import app
from stations.apikeys import verify_api_key
from stations.db import make_engine, make_session_factory

from .test_stream import Serving, prepared, serving

runner = CliRunner()
KEY = re.compile(r"^larza_[A-Za-z0-9_-]{43}$", re.MULTILINE)


@pytest.fixture
def database(fresh_database_url: str) -> str:
    return prepared(fresh_database_url)


def _verifies(database: str, key: str) -> str | None:
    """The name of the key if it is valid, else None."""
    engine = make_engine(database)
    with make_session_factory(engine)() as s:
        found = verify_api_key(s, key=key)
        name = None if found is None else found.name
    engine.dispose()
    return name


def _create(database: str, name: str) -> str:
    result = runner.invoke(app, ["apikey", "create", name, "--database-url", database])
    assert result.exit_code == 0, result.output
    found = KEY.search(result.output)
    assert found is not None, result.output
    return found.group(0)


def test_cli_creates_lists_and_revokes_keys(database: str) -> None:
    result = runner.invoke(app, ["apikey", "create", "alerting", "--database-url", database])
    assert result.exit_code == 0, result.output
    assert "not shown again" in result.output
    key = KEY.findall(result.output)
    assert len(key) == 1
    assert _verifies(database, key[0]) == "alerting"
    other = _create(database, "dashboard")
    assert _verifies(database, other) == "dashboard"
    assert _verifies(database, key[0][:-1] + ("A" if key[0][-1] != "A" else "B")) is None

    listed = runner.invoke(app, ["apikey", "list"], env={"LARZA_DATABASE_URL": database})
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split("\t") == ["id", "name", "prefix", "created", "revoked"]
    rows = [line.split("\t") for line in lines[1:]]
    assert [(r[0], r[1], r[4]) for r in rows] == [("1", "alerting", "-"), ("2", "dashboard", "-")]
    assert rows[0][2].startswith(key[0][:12])
    assert key[0] not in listed.output
    assert key[0][:13] not in listed.output  # no more than the 12-character prefix

    revoked = runner.invoke(app, ["apikey", "revoke", "1", "--database-url", database])
    assert revoked.exit_code == 0, revoked.output
    assert "alerting" in revoked.output
    assert _verifies(database, key[0]) is None
    assert _verifies(database, other) == "dashboard"
    listed = runner.invoke(app, ["apikey", "list", "--database-url", database])
    assert listed.output.splitlines()[1].split("\t")[4] != "-"

    missing = runner.invoke(app, ["apikey", "revoke", "99", "--database-url", database])
    assert missing.exit_code == 1
    assert "no API key '99'" in missing.output
    unnamed = runner.invoke(app, ["apikey", "create", " ", "--database-url", database])
    assert unnamed.exit_code == 1


@pytest.fixture
def guarded(database: str) -> Iterator[Serving]:
    settings = ApiSettings(database_url=database, read_requires_key=True, webhooks_enabled=False)
    with serving(settings) as s:
        yield s


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            r.read()
            return r.status, dict(r.headers.items())
    except urllib.error.HTTPError as e:
        e.read()
        e.close()
        return e.code, dict(e.headers.items())


def test_reading_can_require_a_key(database: str, guarded: Serving) -> None:
    key = _create(database, "grafana")
    stations = f"{guarded.url}/api/v1/stations"
    status, headers = _get(stations)
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert _get(stations, {"X-API-Key": key})[0] == 200
    assert _get(stations, {"Authorization": f"Bearer {key}"})[0] == 200
    assert _get(stations, {"X-API-Key": key + "x"})[0] == 403
    assert _get(f"{guarded.url}/api/v1/events")[0] == 401
    assert _get(f"{guarded.url}/fdsnws/station/1/query")[0] == 401
    dataselect = urllib.request.Request(
        f"{guarded.url}/fdsnws/dataselect/1/query", data=b"TJ SAREZ -- HHZ * *\n"
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(dataselect)  # a read by POST
    assert info.value.code == 401
    info.value.close()
    for open_path in ("/healthz", "/docs", "/openapi.json"):
        assert _get(f"{guarded.url}{open_path}")[0] == 200, open_path
    revoked = runner.invoke(app, ["apikey", "revoke", "1", "--database-url", database])
    assert revoked.exit_code == 0
    assert _get(stations, {"X-API-Key": key})[0] == 403


def test_reading_is_open_by_default(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(ApiSettings(database_url=database, webhooks_enabled=False)) as open_api:
        assert _get(f"{open_api.url}/api/v1/stations")[0] == 200
    monkeypatch.setenv("LARZA_READ_REQUIRES_KEY", "true")
    assert ApiSettings().read_requires_key is True
