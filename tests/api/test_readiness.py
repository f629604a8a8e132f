"""Liveness and readiness: ``/healthz`` says the process is up (whatever the database does),
``/readyz`` says whether it can serve: 503 with a reason while the database is away or its
schema is not this Larza's."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import anyio
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from stations.db import make_engine, migrate

from ..conftest import PG_URL, free_port

UNREACHABLE = "postgresql+psycopg://larza:secret-password@127.0.0.1:1/larza"


Answer = tuple[int, dict[str, str]]


def _probe(url: str, **settings: object) -> tuple[Answer, Answer]:
    app = create_app(ApiSettings(database_url=url, webhooks_enabled=False, **settings))  # type: ignore[arg-type]
    with TestClient(app) as client:
        live, ready = client.get("/healthz"), client.get("/readyz")
    return (live.status_code, live.json()), (ready.status_code, ready.json())


def test_ready_with_a_migrated_database(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    migrate(engine)
    engine.dispose()
    live, ready = _probe(fresh_database_url, read_requires_key=True)  # probes send no key
    assert live == (200, {"status": "ok"})
    assert ready == (200, {"status": "ready"})


def test_not_ready_while_the_database_is_unreachable() -> None:
    live, ready = _probe(UNREACHABLE)
    assert live == (200, {"status": "ok"})  # the process itself is fine: do not restart it
    assert ready[0] == 503
    assert ready[1]["status"] == "unavailable"
    assert ready[1]["reason"] == "cannot connect to the database"
    assert "secret-password" not in str(ready)
    assert "127.0.0.1" not in str(ready)


def test_not_ready_before_migrate(tmp_path: Path) -> None:
    _live, ready = _probe(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert ready[0] == 503
    assert "larza db migrate" in ready[1]["reason"]


def test_not_ready_when_the_database_does_not_exist() -> None:
    url = (PG_URL + "_never_created") if PG_URL else UNREACHABLE
    _live, ready = _probe(url)
    assert ready[0] == 503
    assert ready[1]["reason"] == "cannot connect to the database"


def test_liveness_answers_with_every_worker_thread_busy(fresh_database_url: str) -> None:
    """Long dataselect answers and plots hold the worker threads that synchronous routes
    run in; the liveness probe needs none of them (nor the database)."""
    engine = make_engine(fresh_database_url)
    migrate(engine)
    engine.dispose()
    app = create_app(ApiSettings(database_url=fresh_database_url, webhooks_enabled=False))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    holders: list[object] = []

    async def occupy_every_thread() -> int:
        limiter = anyio.to_thread.current_default_thread_limiter()
        for _ in range(int(limiter.total_tokens)):
            holders.append(object())
            await limiter.acquire_on_behalf_of(holders[-1])
        return len(holders)

    async def free_them() -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        for holder in holders:
            limiter.release_on_behalf_of(holder)

    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        busy = asyncio.run_coroutine_threadsafe(occupy_every_thread(), loop).result(10)
        assert busy >= 1
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as r:
            assert json.loads(r.read()) == {"status": "ready"}
        with pytest.raises((TimeoutError, urllib.error.URLError)):  # a synchronous route waits
            urllib.request.urlopen(f"{base}/api/v1/detections", timeout=0.5)
    finally:
        if holders:
            asyncio.run_coroutine_threadsafe(free_them(), loop).result(10)
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
