"""The ``larza`` command, tried as a new user would: migrate, import, list; and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from ingest.cli.main import app
from stations.db import alembic_config

from ..stations.test_inventory_input import BERKELEY

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_migrate_import_and_list(fresh_database_url: str) -> None:
    url = ["--database-url", fresh_database_url]
    migrated = runner.invoke(app, ["db", "migrate", *url])
    assert migrated.exit_code == 0, migrated.output
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert f"database at revision {head}" in migrated.output
    imported = runner.invoke(app, ["stations", "import", "--default", *url])
    assert imported.exit_code == 0, imported.output
    assert "1 networks, 3 stations, 18 channels" in imported.output
    listed = runner.invoke(app, ["stations", "list", *url])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"]
    assert "HHZ" in lines[0]
    assert "HNZ" in lines[0]


def test_malformed_stationxml_is_named_and_nothing_is_imported(
    fresh_database_url: str, tmp_path: Path
) -> None:
    url = ["--database-url", fresh_database_url]
    assert runner.invoke(app, ["db", "migrate", *url]).exit_code == 0
    bad = tmp_path / "sarez-2026.xml"
    bad.write_text("<FDSNStationXML><Network code='TJ'>")
    result = runner.invoke(app, ["stations", "import", str(bad), *url])
    assert result.exit_code == 1
    assert "sarez-2026.xml" in result.output
    assert "not valid StationXML" in result.output
    listed = runner.invoke(app, ["stations", "list", *url])
    assert listed.output.strip() == ""


def test_import_without_files_says_what_to_do() -> None:
    result = runner.invoke(app, ["stations", "import"])
    assert result.exit_code == 1
    assert "--default" in result.output


def _compose_commands() -> list[tuple[str, list[str]]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return [
        (name, service["command"])
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("larza") or "build" in service
    ]


def test_compose_runs_every_process() -> None:
    names = {name for name, _ in _compose_commands()}
    assert {"migrate", "inventory", "feed", "worker", "api"} <= names


@pytest.mark.parametrize(("service", "command"), _compose_commands())
def test_every_compose_command_exists_in_the_cli(service: str, command: list[str]) -> None:
    # Options are parsed before --help is acted on: an unknown command or option fails here.
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, f"{service}: {result.output}"


def test_import_of_an_iris_document_without_a_sensitivity_value(fresh_database_url: str) -> None:
    url = ["--database-url", fresh_database_url]
    assert runner.invoke(app, ["db", "migrate", *url]).exit_code == 0
    imported = runner.invoke(app, ["stations", "import", str(BERKELEY), *url])
    assert imported.exit_code == 0, imported.output
    assert "1 networks, 1 stations, 1 channels" in imported.output
    listed = runner.invoke(app, ["stations", "list", *url])
    assert listed.output.startswith("BK.CMB\t")
