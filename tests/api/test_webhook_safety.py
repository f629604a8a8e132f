"""Webhooks against hostile or broken receivers and hostile key holders: a slow receiver
delays only itself, the API stops at once whatever receivers do, a bad URL fails only its
own webhook, deliveries never reach loopback, private or link-local addresses unless the
operator allows them, and failures do not tell open ports from closed ones."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.app import create_app
from api.deps import get_session
from api.settings import ApiSettings
from api.webhook_delivery import WebhookDelivery
from api.webhook_http import NO_ANSWER, post
from api.webhook_targets import parse_networks, parse_webhook_url
from ingest.cli.main import app as larza
from stations.apikeys import create_api_key, revoke_api_key
from stations.db import make_engine, make_session_factory
from stations.models import ChangeKind, Webhook
from stations.webhooks import create_webhook

from ..conftest import free_port
from .test_stream import Serving, Writer, _drain, get_json, serving, sse
from .test_webhooks import Receiver, call, wait_for

LOOPBACK = parse_networks("127.0.0.0/8")


class Trickle:
    """A receiver that reads the request, then answers one byte every ``interval_s`` for
    ever: a delivery waiting on it byte by byte never ends."""

    def __init__(self, interval_s: float = 0.3) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.interval_s = interval_s
        self.requests = 0
        self.reading = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> Trickle:
        self._thread.start()
        return self

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            self.reading.set()
            try:
                for byte in b"HTTP/1.1 200 OK\r\n" * 1000:
                    if self._stop.wait(self.interval_s):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:  # the client gave up: as it should
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    t = Trickle().start()
    yield t
    t.stop()


@pytest.fixture
def key(database: str) -> str:
    engine = make_engine(database)
    with make_session_factory(engine)() as s, s.begin():
        _, secret = create_api_key(s, name="alerting", now=datetime.now(UTC))
    engine.dispose()
    return secret


def _hook(database: str, url: str, api_key_id: int | None = None) -> int:
    """A webhook stored as it is, as one registered before URLs were checked."""
    engine = make_engine(database)
    with make_session_factory(engine)() as s, s.begin():
        webhook_id = create_webhook(
            s,
            url=url,
            secret="s" * 20,
            kinds=list(ChangeKind),
            api_key_id=api_key_id,
            now=datetime.now(UTC),
        ).id
    engine.dispose()
    return webhook_id


def _webhooks(database: str) -> dict[int, Webhook]:
    engine = make_engine(database)
    with make_session_factory(engine)() as s:
        found = {w.id: w for w in s.scalars(select(Webhook))}
    engine.dispose()
    return found


def _delivery(engine: Engine, **options: object) -> WebhookDelivery:
    settings = {"poll_s": 0.05, "timeout_s": 1.0, "backoff_max_s": 0.1, **options}
    return WebhookDelivery(make_session_factory(engine), **settings)  # type: ignore[arg-type]


@pytest.fixture
def db_engine(database: str) -> Iterator[Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


def test_a_slow_receiver_delays_no_other_webhook(
    database: str, writer: Writer, key: str, trickle: Trickle
) -> None:
    settings = ApiSettings(
        database_url=database,
        webhook_poll_s=0.05,
        webhook_timeout_s=1.0,  # the whole delivery; the receiver answers a byte every 0.3 s
        webhook_backoff_max_s=0.2,
        webhook_allow_networks="127.0.0.0/8",
    )
    receiver = Receiver(free_port()).start()
    try:
        with serving(settings) as api:
            hooks = f"{api.url}/api/v1/webhooks"
            _, slow = call("POST", hooks, key, {"url": f"http://127.0.0.1:{trickle.port}/slow"})
            _, fast = call("POST", hooks, key, {"url": f"http://127.0.0.1:{receiver.port}/fast"})
            assert slow["id"] < fast["id"]  # the slow one comes first in every round
            written = writer.detections("SAREZ")[0]
            written += writer.detections("MURGH")[0]
            wait_for(lambda: receiver.accepted("/fast") == written, "the other webhook")
            wait_for(trickle.reading.is_set, "the slow receiver to be reached")

            def cut_off() -> bool:
                one = call("GET", f"{hooks}/{slow['id']}", key)[1]
                return bool(one["failures"] >= 1 and one["last_error"] == NO_ANSWER)

            wait_for(cut_off, "the slow delivery to be cut off at its deadline")
    finally:
        receiver.stop()


@pytest.mark.e2e
def test_the_api_stops_at_once_while_a_receiver_trickles(
    database: str, writer: Writer, key: str, trickle: Trickle
) -> None:
    _hook(database, f"http://127.0.0.1:{trickle.port}/slow")
    writer.detections("SAREZ")
    port = free_port()
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": database,
        "LARZA_WEBHOOK_POLL_S": "0.05",
        "LARZA_WEBHOOK_TIMEOUT_S": "120",
        "LARZA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app_from_env"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert trickle.reading.wait(30), "the API never delivered"
        deadline = time.monotonic() + 30
        while True:  # the API answers meanwhile
            try:
                assert get_json(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)  # not the delivery's 120 s, nor for ever
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
    (webhook,) = _webhooks(database).values()
    assert webhook.next_attempt_at is None  # given back: due at once after a restart


@pytest.mark.e2e
def test_larza_api_workers_stop_at_once_with_a_stream_open_and_a_receiver_trickling(
    database: str, writer: Writer, trickle: Trickle
) -> None:
    """``larza api --workers 2`` on SIGTERM: each process ends its SSE streams (its change
    hub) and its webhook deliveries (a receiver that never finishes answering), and shuts
    down; none waits on its clients or on a receiver."""
    _hook(database, f"http://127.0.0.1:{trickle.port}/slow")
    writer.detections("SAREZ")
    port = free_port()
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": database,
        "LARZA_STREAM_POLL_S": "0.05",
        "LARZA_WEBHOOK_POLL_S": "0.05",
        "LARZA_WEBHOOK_TIMEOUT_S": "120",
        "LARZA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", "api", "--port", str(port), "--workers", "2"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert trickle.reading.wait(30), "the API never delivered"
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get_json(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
        with sse(port, "/api/v1/stream") as client:
            assert client.next().retry == 2000
            process.send_signal(signal.SIGTERM)
            with pytest.raises(EOFError):
                _drain(client)
        _, log = process.communicate(timeout=20)  # not the delivery's 120 s, nor for ever
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode in (0, -signal.SIGTERM)
    assert log.count("Application shutdown complete") == 2, log
    assert "Traceback" not in log
    (webhook,) = _webhooks(database).values()
    assert webhook.next_attempt_at is None  # given back: due at once after a restart


def test_stopping_while_a_webhook_is_being_claimed_gives_it_back(
    database: str, writer: Writer, trickle: Trickle
) -> None:
    """Stop asked while a claim is under way in its thread (another process holds the row;
    with several API processes stopping together, one takes up what another gave back):
    the claim is committed all the same, so it is given back, not left leased."""
    webhook_id = _hook(database, f"http://127.0.0.1:{trickle.port}/slow")
    writer.detections("SAREZ")
    engine = make_engine(database, sqlite_begin="DEFERRED")  # as the API's
    locking = make_engine(database)
    locker = locking.connect()
    delivery = _delivery(engine, allow_networks=LOOPBACK)
    stopper = threading.Thread(target=delivery.stop)
    try:
        locker.exec_driver_sql(
            f"UPDATE webhook SET failures = failures WHERE id = {webhook_id}"
        )  # the row (on SQLite the database) is locked until the rollback
        delivery.start()
        deadline = time.monotonic() + 20
        while not delivery._tasks:  # the claim has begun and waits for the lock
            assert time.monotonic() < deadline, "no delivery started"
            time.sleep(0.01)
        time.sleep(0.2)
        stopper.start()
        time.sleep(0.2)
    finally:
        locker.rollback()  # the claim goes through now
        locker.close()
        locking.dispose()
        if stopper.ident is None:
            delivery.stop()
        stopper.join(timeout=30)
        engine.dispose()
    assert not stopper.is_alive()
    assert trickle.requests == 0  # stopped before sending
    assert _webhooks(database)[webhook_id].next_attempt_at is None


def test_a_bad_url_fails_only_its_own_webhook(
    database: str, db_engine: Engine, writer: Writer
) -> None:
    receiver = Receiver(free_port()).start()
    try:
        bad = [_hook(database, "http://[::1/"), _hook(database, "http://a..b/")]
        good = _hook(database, f"http://127.0.0.1:{receiver.port}/good")
        written = writer.detections("SAREZ")[0]
        assert _delivery(db_engine, allow_networks=LOOPBACK).run_once() == 3
    finally:
        receiver.stop()
    assert receiver.accepted("/good") == written
    hooks = _webhooks(database)
    assert hooks[good].cursor == written[-1]
    for webhook_id in bad:
        assert hooks[webhook_id].failures == 1
        assert (hooks[webhook_id].last_error or "").startswith("the URL is not valid")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "127.1"])
def test_deliveries_never_reach_loopback_unless_allowed(
    database: str, db_engine: Engine, writer: Writer, host: str
) -> None:
    receiver = Receiver(free_port()).start()
    try:
        webhook_id = _hook(database, f"http://{host}:{receiver.port}/in")
        written = writer.detections("SAREZ")[0]
        _delivery(db_engine).run_once()
        assert receiver.deliveries == []
        refused = _webhooks(database)[webhook_id]
        assert "a loopback address: not allowed" in (refused.last_error or "")
        assert refused.cursor < written[0]
        time.sleep(0.15)  # past the backoff
        _delivery(db_engine, allow_networks=LOOPBACK).run_once()
        assert receiver.accepted("/in") == written
    finally:
        receiver.stop()


def test_failures_do_not_tell_open_ports_from_closed(
    database: str, db_engine: Engine, writer: Writer
) -> None:
    with socket.socket() as black_hole:  # accepts connections (the backlog), never answers
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        closed = _hook(database, f"http://127.0.0.1:{free_port()}/")
        silent = _hook(database, f"http://127.0.0.1:{black_hole.getsockname()[1]}/")
        writer.detections("SAREZ")
        _delivery(db_engine, timeout_s=0.5, allow_networks=LOOPBACK).run_once()
    hooks = _webhooks(database)
    assert hooks[closed].last_error == hooks[silent].last_error == NO_ANSWER
    assert hooks[closed].failures == hooks[silent].failures == 1


@pytest.fixture
def registering(engine: Engine, inventory: Session) -> tuple[Engine, Session, str]:
    _, secret = create_api_key(inventory, name="anyone", now=datetime.now(UTC))
    return engine, inventory, secret


@contextmanager
def _client(engine: Engine, session: Session, allow: str) -> Iterator[TestClient]:
    """The API over the test's session, allowing deliveries to the networks ``allow``."""
    app = create_app(
        ApiSettings(database_url="sqlite://", webhook_allow_networks=allow), engine=engine
    )
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app) as client:
        app.state.session_factory = sessionmaker(
            bind=session.connection(), join_transaction_mode="create_savepoint"
        )
        yield client


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://a..b/", "not a valid host name"),
        ("http://[::1/", "not a URL"),
        ("ftp://example.org/", "http:// or https://"),
        ("http://example.org:99999/", "not a URL"),
        ("http://example.org:0/", "port"),
        ("http://user:password@example.org/", "user name or password"),
        ("http://example.org/#top", "fragment"),
        ("http://exa mple.org/", "spaces"),
        ("http://example.org/caf\u00e9", "ASCII"),
        ("http://-bad-.example.org/", "not a valid host name"),
        ("http://127.0.0.1:22/", "loopback address: not allowed"),
        ("http://localhost:8080/", "loopback address: not allowed"),
        ("http://2130706433/", "loopback address: not allowed"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address: not allowed"),
        ("http://10.0.0.1/", "private address: not allowed"),
        ("http://192.168.1.1/", "private address: not allowed"),
        ("http://[::1]:8080/", "loopback address: not allowed"),
        ("http://[::ffff:127.0.0.1]/", "loopback address: not allowed"),
        ("http://[fe80::1]/", "link-local address: not allowed"),
        ("http://224.0.0.1/", "multicast address: not allowed"),
        ("http://0.0.0.0/", "address: not allowed"),
        ("http://100.64.0.1/", "address: not allowed"),
    ],
)
def test_registration_refuses_bad_urls_and_inner_addresses(
    registering: tuple[Engine, Session, str], url: str, says: str
) -> None:
    engine, session, secret = registering
    with _client(engine, session, "") as client:
        answer = client.post("/api/v1/webhooks", json={"url": url}, headers={"X-API-Key": secret})
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["detail"], answer.json()


def test_an_operator_allows_a_network(registering: tuple[Engine, Session, str]) -> None:
    engine, session, secret = registering
    with _client(engine, session, "127.0.0.0/8, 10.1.0.0/16") as client:
        for url, status in [
            ("http://127.0.0.1:9/hook", 201),
            ("http://10.1.2.3/hook", 201),
            ("http://10.2.0.1/hook", 400),
            ("http://169.254.169.254/", 400),
            ("https://alerts.example.org/larza", 201),  # does not resolve here: checked later
            ("http://93.184.215.14/hook", 201),  # a public address
        ]:
            answer = client.post(
                "/api/v1/webhooks", json={"url": url}, headers={"X-API-Key": secret}
            )
            assert answer.status_code == status, (url, answer.text)


def test_settings_refuse_a_network_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="not a network"):
        ApiSettings(webhook_allow_networks="127.0.0.0/8,localhost")


def test_a_revoked_keys_webhooks_stop_and_operators_administer_every_webhook(
    database: str, db_engine: Engine, writer: Writer
) -> None:
    runner = CliRunner()
    url = ["--database-url", database]
    with make_session_factory(db_engine)() as s, s.begin():
        row, _ = create_api_key(s, name="old laptop", now=datetime.now(UTC))
        key_id = row.id
    receiver = Receiver(free_port()).start()
    try:
        mine = _hook(database, f"http://127.0.0.1:{receiver.port}/mine", api_key_id=key_id)
        legacy = _hook(database, f"http://127.0.0.1:{receiver.port}/legacy")
        revoked = runner.invoke(larza, ["apikey", "revoke", str(key_id), *url])
        assert revoked.exit_code == 0, revoked.output
        written = writer.detections("SAREZ")[0]
        _delivery(db_engine, allow_networks=LOOPBACK).run_once()
    finally:
        receiver.stop()
    assert receiver.accepted("/mine") == []
    assert receiver.accepted("/legacy") == written
    assert _webhooks(database)[mine].active is False

    listed = runner.invoke(larza, ["webhook", "list", *url])
    assert listed.exit_code == 0, listed.output
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.output.splitlines()[1:]}
    assert rows[str(mine)][1:3] == [f"{key_id} (old laptop, revoked)", "no"]
    assert rows[str(legacy)][1:3] == ["-", "yes"]
    assert rows[str(mine)][4].endswith("/mine")

    removed = runner.invoke(larza, ["webhook", "remove", str(mine), *url])
    assert removed.exit_code == 0, removed.output
    assert f"removed webhook {mine}" in removed.output
    assert set(_webhooks(database)) == {legacy}
    again = runner.invoke(larza, ["webhook", "remove", str(mine), *url])
    assert again.exit_code == 1
    assert f"no webhook '{mine}'" in again.output


def test_revoking_through_the_api_keys_module_disables_webhooks(
    api_serving: Serving, database: str, key: str
) -> None:
    hooks = f"{api_serving.url}/api/v1/webhooks"
    status, created = call("POST", hooks, key, {"url": "http://127.0.0.1:9/hook"})
    assert status == 201
    engine = make_engine(database)
    with make_session_factory(engine)() as s, s.begin():
        webhook = s.get(Webhook, created["id"])
        assert webhook is not None
        assert webhook.api_key_id is not None
        revoke_api_key(s, key_id=webhook.api_key_id, now=datetime.now(UTC))
    engine.dispose()
    assert _webhooks(database)[created["id"]].active is False
    assert call("GET", hooks, key)[0] == 403


@pytest.fixture
def api_serving(database: str) -> Iterator[Serving]:
    settings = ApiSettings(
        database_url=database, webhooks_enabled=False, webhook_allow_networks="127.0.0.0/8"
    )
    with serving(settings) as s:
        yield s


def _certificate(folder: Path, names: str) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for ``names``, made with openssl."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=larza-test", "-addext", f"subjectAltName={names}"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.mark.parametrize(
    ("names", "delivered"),
    [("DNS:localhost,IP:127.0.0.1", True), ("DNS:elsewhere.example.org", False)],
)
def test_https_receivers_are_checked_against_their_certificate(
    tmp_path: Path, names: str, delivered: bool
) -> None:
    key, cert = _certificate(tmp_path, names)
    receiver = Receiver(free_port())
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    receiver.wrap(served)
    receiver.start()
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        outcome = asyncio.run(
            post(
                parse_webhook_url(f"https://localhost:{receiver.port}/tls"),
                b'{"changes": []}',
                {"Content-Type": "application/json"},
                deadline_s=5.0,
                allowed=LOOPBACK,
                tls=trusted,
            )
        )
    finally:
        receiver.stop()
    assert outcome.delivered is delivered, outcome
    if delivered:
        assert [d.body for d in receiver.deliveries] == [b'{"changes": []}']
        assert receiver.deliveries[0].headers["Host"] == f"localhost:{receiver.port}"
    else:
        assert outcome.reason == NO_ANSWER
        assert "certificate" in (outcome.detail or "").lower()
        assert receiver.deliveries == []
