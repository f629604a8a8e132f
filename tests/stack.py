"""The feed, worker and API of an end-to-end test, run as real processes on loopback, the way
an operator starts them: ``larza db migrate``, ``larza stations import --default``, then
``larza feed``, ``larza worker`` and ``larza api``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .conftest import free_port


@dataclass
class Stack:
    base: str  # the API's http://127.0.0.1:port
    logs: Path  # the folder of feed.log, worker.log, api.log
    feed_started: float  # time.monotonic() when the feed was started
    api: subprocess.Popen[bytes]


def larza(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``larza ARGS...`` with its output in ``log``."""
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


@contextmanager
def running_stack(
    database_url: str,
    folder: Path,
    feed_args: Sequence[str],
    *,
    archive: bool = False,
    config: str | None = None,
    inventory: Path | None = None,
) -> Iterator[Stack]:
    """Migrate, import the default stations (or ``inventory``), start the feed (``feed_args``
    added), the worker and the API; stop them all afterwards. ``config``: the text of a
    larza.toml."""
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": database_url,
        "LARZA_ARCHIVE_DIR": str(folder / "archive") if archive else "",
    }
    if config is not None:
        (folder / "larza.toml").write_text(config)
        env["LARZA_CONFIG"] = str(folder / "larza.toml")
    stations = [str(inventory)] if inventory is not None else ["--default"]
    for step in (["db", "migrate"], ["stations", "import", *stations]):
        subprocess.run(
            [sys.executable, "-m", "ingest", *step], env=env, check=True, capture_output=True
        )
    sl_port, api_port = free_port(), free_port()
    started = time.monotonic()
    feed = ["feed", "--port", str(sl_port), *feed_args]
    procs = [larza(*feed, env=env, log=folder / "feed.log")]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", sl_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    worker = ["worker", "--seedlink", f"127.0.0.1:{sl_port}"]
    procs.append(larza(*worker, env=env, log=folder / "worker.log"))
    api = larza("api", "--port", str(api_port), env=env, log=folder / "api.log")
    procs.append(api)
    try:
        yield Stack(f"http://127.0.0.1:{api_port}", folder, started, api)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def get_json(base: str, path: str) -> object:
    """The JSON at ``base + path``; None if the API is not up yet or answers an error."""
    try:
        with urllib.request.urlopen(base + path, timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def tail(logs: Path) -> str:
    """The last lines of every log, for a failing assertion's message."""
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
        for p in sorted(logs.glob("*.log"))
    )
