"""``larza seedlink info`` against a running feed (real loopback sockets), over v4 and v3."""

from __future__ import annotations

from collections import Counter

import pytest
from typer.testing import CliRunner

from ingest.cli.main import app
from ingest.cli.seedlink import seedlink_app

from ..conftest import Made, ServerThread, free_port

runner = CliRunner()


@pytest.mark.parametrize("protocol", ["auto", "3"])
def test_info_lists_the_stations(loaded: ServerThread, made: Made, protocol: str) -> None:
    address = f"127.0.0.1:{loaded.port}"
    result = runner.invoke(seedlink_app, ["info", address, "--protocol", protocol])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    version = "4" if protocol == "auto" else "3"
    assert (
        lines[0] == f"SeedLink v4.0 (Larza feed) at {address}, SeedLink v{version}: Larza test feed"
    )
    assert lines[1].split() == ["NET", "STA", "DESCRIPTION", "FIRST", "SEQ", "LAST", "SEQ"]
    counts = Counter(i.station for i in made.infos)
    rows = [line.split() for line in lines[2:-1]]
    assert rows == [["TJ", s, s.title(), "1", str(counts[s])] for s in ("MANEM", "MURGH", "SAREZ")]
    assert lines[-1] == "3 stations"


@pytest.mark.parametrize("protocol", ["4", "3"])
def test_info_lists_the_streams(loaded: ServerThread, protocol: str) -> None:
    address = f"127.0.0.1:{loaded.port}"
    args = ["seedlink", "info", address, "--level", "streams", "--protocol", protocol]
    result = runner.invoke(app, args)  # through the ``larza`` command
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[1].split() == ["NET", "STA", "LOC", "CHA", "START", "END"]
    rows = [line.split() for line in lines[2:-1]]
    assert len(rows) == 18
    assert {r[2] for r in rows} == {"--"}  # the empty location
    sarez = [r[3] for r in rows if r[:2] == ["TJ", "SAREZ"]]
    assert sarez == ["HHE", "HHN", "HHZ", "HNE", "HNN", "HNZ"]
    assert all(r[4].startswith("2025-06-15T15:06:40") for r in rows)
    assert all(r[5] > r[4] for r in rows)
    assert lines[-1] == "18 streams"


def test_info_id_and_an_unreachable_server(loaded: ServerThread) -> None:
    result = runner.invoke(seedlink_app, ["info", f"127.0.0.1:{loaded.port}", "--level", "id"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("SeedLink v4: Larza test feed")
    result = runner.invoke(seedlink_app, ["info", f"127.0.0.1:{free_port()}", "--timeout", "2"])
    assert result.exit_code == 1
    assert "error: 127.0.0.1:" in result.output
