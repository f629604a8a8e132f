"""The ``larza`` command when the database or a port is not what it expects: one clear line
on stderr and exit status 1, never a traceback, never a document inside the message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.cli.main import app
from stations.inventory import default_inventory_path

from ..conftest import PG_URL, free_port

runner = CliRunner()

UNREACHABLE = "postgresql+psycopg://larza:secret-password@127.0.0.1:1/larza"
"""Nothing listens on port 1."""

# Every command that uses the database, with the arguments it needs.
COMMANDS = [
    ["stations", "import", str(default_inventory_path())],
    ["stations", "import", "--default"],
    ["stations", "list"],
    ["apikey", "create", "alerting"],
    ["apikey", "list"],
    ["apikey", "revoke", "1"],
    ["webhook", "list"],
    ["webhook", "remove", "1"],
    ["worker", "--seedlink", "127.0.0.1:1"],
    ["api", "--port", "1"],
]


def _one_clear_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in output
    assert len(line) < 300, line
    return line


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_before_migrate_says_to_migrate(command: list[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    result = runner.invoke(app, [*command, "--database-url", url])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    line = _one_clear_line(result.output)
    assert "larza db migrate" in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "not a database URL"),
        ("postgres://larza@127.0.0.1/larza", "postgresql+psycopg://"),
        ("mysql+nosuchdriver://x@h/db", "postgresql+psycopg://"),
        (UNREACHABLE, "cannot connect to the database"),
    ],
)
@pytest.mark.parametrize("command", [["db", "migrate"], *COMMANDS], ids=lambda c: " ".join(c[:2]))
def test_a_bad_or_unreachable_database_url(command: list[str], url: str, says: str) -> None:
    result = runner.invoke(app, [*command], env={"LARZA_DATABASE_URL": url})
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    line = _one_clear_line(result.output)
    assert says in line
    assert "secret-password" not in line


def test_a_database_error_never_prints_the_document(tmp_path: Path) -> None:
    """An import into a database whose schema is behind: refused in one line, without the
    StationXML the statement carried."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    assert runner.invoke(app, ["db", "migrate", "--database-url", url]).exit_code == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        db.execute("DROP TABLE channel_status")  # a schema broken by hand
    result = runner.invoke(app, ["stations", "import", "--default", "--database-url", url])
    assert result.exit_code == 0, result.output  # the import does not need that table
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        db.execute("DROP TABLE inventory_document")
    result = runner.invoke(app, ["stations", "import", "--default", "--database-url", url])
    assert result.exit_code == 1
    line = _one_clear_line(result.output)
    assert "<?xml" not in line
    assert "FDSNStationXML" not in line


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_feed_on_a_port_in_use(busy_port: int) -> None:
    result = runner.invoke(app, ["feed", "--port", str(busy_port)])
    assert result.exit_code == 1, result.output
    line = _one_clear_line(result.output)
    assert f"127.0.0.1:{busy_port}" in line
    assert "in use" in line


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one", "two workers"])
def test_api_on_a_port_in_use(busy_port: int, tmp_path: Path, workers: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'larza.sqlite'}"
    assert runner.invoke(app, ["db", "migrate", "--database-url", url]).exit_code == 0
    result = runner.invoke(app, ["api", "--port", str(busy_port), *workers, "--database-url", url])
    assert result.exit_code == 1, result.output
    line = _one_clear_line(result.output)
    assert f"127.0.0.1:{busy_port}" in line
    assert "in use" in line


@pytest.mark.parametrize(
    ("command", "env", "says"),
    [
        (["api"], {"LARZA_WEBHOOK_ALLOW_NETWORKS": "10.0.0.0/8,intranet"}, "'intranet'"),
        (["api"], {"LARZA_PAGE_SIZE_MAX": "0"}, "LARZA_PAGE_SIZE_MAX"),
        (["api", "--workers", "2"], {"LARZA_API_THREADS": "0"}, "LARZA_API_THREADS"),
        (["worker"], {"LARZA_SEEDLINK": "nowhere"}, "LARZA_SEEDLINK"),
    ],
)
def test_bad_settings_are_one_line(
    command: list[str], env: dict[str, str], says: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'larza.sqlite'}"
    result = runner.invoke(app, [*command, "--database-url", url], env=env)
    assert result.exit_code == 1, result.output
    assert says in _one_clear_line(result.output)


def test_demo_on_a_port_in_use(busy_port: int, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'larza.sqlite'}"
    for ports in (["--api-port", str(busy_port)], ["--seedlink-port", str(busy_port)]):
        result = runner.invoke(app, ["demo", *ports, "--database-url", url])
        assert result.exit_code == 1, result.output
        assert "in use" in _one_clear_line(result.output)
    assert not (tmp_path / "larza.sqlite").exists()  # refused before anything was done


def _larza(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.e2e
def test_real_processes_print_one_line(tmp_path: Path, busy_port: int) -> None:
    """The same, as an operator's shell sees it: stderr holds one line, the status is 1."""
    empty = {"LARZA_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}"}
    cases = [
        (["stations", "import", "--default"], empty, "larza db migrate"),
        (["stations", "list"], {"LARZA_DATABASE_URL": UNREACHABLE}, "cannot connect"),
        (["feed", "--port", str(busy_port)], {}, "in use"),
    ]
    if PG_URL:
        cases.append((["stations", "list"], {"LARZA_DATABASE_URL": PG_URL + "_nowhere"}, ""))
    for args, env, says in cases:
        done = _larza(*args, env=env)
        assert done.returncode == 1, (args, done.stderr)
        assert says in _one_clear_line(done.stderr), args
        assert done.stdout == ""


def test_port_probe_frees_the_port() -> None:
    """What ``larza feed`` and ``larza api`` check before starting leaves the port free."""
    from ingest.cli.ports import check_port_free

    port = free_port()
    check_port_free("127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
