"""Webhooks against real receivers on loopback: registration with API keys, signed ordered
delivery, and nothing lost or repeated while a receiver is down or failing."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from api.settings import ApiSettings
from api.webhook_http import NO_ANSWER
from stations.apikeys import create_api_key, revoke_api_key
from stations.db import make_engine, make_session_factory
from stations.models import ChangeKind, HealthState
from stations.webhooks import create_webhook

from ..conftest import free_port
from .test_stream import Serving, Writer, get_json, prepared, serving


@dataclass(frozen=True)
class Delivery:
    path: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def ids(self) -> list[int]:
        return [c["id"] for c in json.loads(self.body)["changes"]]


class Receiver:
    """A webhook receiver on a loopback port; ``answers(path)`` gives the status to send."""

    def __init__(self, port: int, answers: Callable[[str], int] = lambda _path: 200) -> None:
        self.port = port
        self.deliveries: list[Delivery] = []
        self._answers = answers
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver._answers(self.path)
                receiver.deliveries.append(
                    Delivery(self.path, status, dict(self.headers.items()), body)
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def wrap(self, context: ssl.SSLContext) -> None:
        """Answer over TLS (HTTPS) instead."""
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def accepted(self, path: str) -> list[int]:
        """Change ids of the deliveries to ``path`` answered 2xx, in arrival order."""
        return [i for d in self.deliveries if d.path == path and d.status < 300 for i in d.ids]


def call(
    method: str, url: str, key: str | None = None, body: Any = None, bearer: bool = False
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization" if bearer else "X-API-Key"] = f"Bearer {key}" if bearer else key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request) as r:
            text = r.read()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        e.close()
        return e.code, json.loads(text) if text else None


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def database(fresh_database_url: str) -> str:
    return prepared(fresh_database_url)


@pytest.fixture
def keys(database: str) -> tuple[str, str]:
    """(a valid key, a revoked key)."""
    engine = make_engine(database)
    with make_session_factory(engine)() as s, s.begin():
        now = datetime.now(UTC)
        _, good = create_api_key(s, name="alerting", now=now)
        old, revoked = create_api_key(s, name="old laptop", now=now)
        revoke_api_key(s, key_id=old.id, now=now)
    engine.dispose()
    return good, revoked


@pytest.fixture
def writer(database: str) -> Iterator[Writer]:
    w = Writer(database)
    yield w
    w.close()


@pytest.fixture
def api(database: str) -> Iterator[Serving]:
    settings = ApiSettings(
        database_url=database,
        webhook_poll_s=0.05,
        webhook_timeout_s=2.0,
        webhook_backoff_max_s=0.3,
        webhook_allow_networks="127.0.0.0/8",  # the receivers here are on loopback
    )
    with serving(settings) as s:
        yield s


def test_registration_needs_a_valid_key_and_the_secret_is_shown_once(
    api: Serving, keys: tuple[str, str], writer: Writer
) -> None:
    good, revoked = keys
    hooks = f"{api.url}/api/v1/webhooks"
    body = {"url": "http://127.0.0.1:9/hook"}
    status, answer = call("POST", hooks, body=body)
    assert status == 401
    assert "X-API-Key" in answer["detail"]
    assert call("POST", hooks, revoked, body)[0] == 403
    assert call("POST", hooks, "larza_not-a-key", body)[0] == 403
    assert call("GET", hooks)[0] == 401

    before, _ = writer.detections("SAREZ")
    status, created = call("POST", hooks, good, body)
    assert status == 201
    assert created["kinds"] == ["event", "detection", "state", "alert"]
    assert created["cursor"] == before[0]  # only changes from now on
    assert len(created["secret"]) >= 32
    status, own = call(
        "POST",
        hooks,
        good,
        {"url": "https://alerts.example.org/larza?x=1", "kinds": ["state"], "secret": "s" * 20},
        bearer=True,
    )
    assert (status, own["secret"], own["kinds"]) == (201, "s" * 20, ["state"])

    status, listed = call("GET", hooks, good)
    assert status == 200
    assert [w["id"] for w in listed] == [created["id"], own["id"]]
    assert all("secret" not in w for w in listed)
    status, one = call("GET", f"{hooks}/{created['id']}", good)
    assert status == 200
    assert "secret" not in one
    assert created["secret"] not in json.dumps(one)
    assert one["failures"] == 0
    assert one["api_key_id"] is not None

    for bad_url in ("ftp://example.org/hook", "http:///nohost", "http://a..b/", "http://[::1/"):
        status, answer = call("POST", hooks, good, {"url": bad_url})
        assert status == 400, bad_url
        assert answer["detail"].startswith("url: "), answer
    for bad in (
        {"url": "http://example.org/hook", "kinds": ["quake"]},
        {"url": "http://example.org/hook", "kinds": []},
        {"url": "http://example.org/hook", "secret": "short"},
    ):
        status, answer = call("POST", hooks, good, bad)
        assert status == 422, bad
    assert call("DELETE", f"{hooks}/{own['id']}")[0] == 401
    assert call("DELETE", f"{hooks}/{own['id']}", good) == (204, None)
    assert call("GET", f"{hooks}/{own['id']}", good)[0] == 404
    assert call("DELETE", f"{hooks}/{own['id']}", good)[0] == 404


def _verify(delivery: Delivery, secret: str, webhook_id: int) -> None:
    expected = hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["X-Larza-Signature"] == f"sha256={expected}"
    assert delivery.headers["Content-Type"] == "application/json"
    ids = delivery.ids
    assert delivery.headers["X-Larza-Delivery"] == f"{ids[0]}-{ids[-1]}"
    assert json.loads(delivery.body)["webhook"] == webhook_id


def test_a_receiver_that_is_down_gets_everything_once_in_order_when_back(
    api: Serving, keys: tuple[str, str], writer: Writer
) -> None:
    good = keys[0]
    port = free_port()  # nothing listens there yet
    secret = "a shared secret of the receiver"
    status, hook = call(
        "POST",
        f"{api.url}/api/v1/webhooks",
        good,
        {"url": f"http://127.0.0.1:{port}/larza", "secret": secret},
    )
    assert status == 201
    url = f"{api.url}/api/v1/webhooks/{hook['id']}"
    written, detection_ids, event_id = writer.detections_and_event("SAREZ", "MURGH")
    written.append(writer.state("SAREZ", HealthState.DOWN))

    wait_for(lambda: call("GET", url, good)[1]["failures"] >= 2, "failed deliveries")
    down = call("GET", url, good)[1]
    assert down["cursor"] == hook["cursor"]
    assert down["next_attempt_at"] is not None
    assert down["last_error"] == NO_ANSWER  # refused, timed out or reset: one sentence
    written += writer.detections("MANEM")[0]  # written while down, after failures

    receiver = Receiver(port).start()
    try:
        wait_for(lambda: len(receiver.accepted("/larza")) >= len(written), "the deliveries")
        later = writer.state("SAREZ", HealthState.OK)
        written.append(later)
        wait_for(lambda: receiver.accepted("/larza")[-1:] == [later], "the newest change")
        time.sleep(0.3)  # a few more rounds: nothing is sent twice
    finally:
        receiver.stop()
    assert receiver.accepted("/larza") == written
    for delivery in receiver.deliveries:
        _verify(delivery, secret, hook["id"])
    first = json.loads(receiver.deliveries[0].body)["changes"]
    assert [c["kind"] for c in first[:4]] == ["detection", "detection", "event", "state"]
    assert (
        first[0]["data"]
        == get_json(f"{api.url}/api/v1/detections?after={detection_ids[0] - 1}&limit=1")["items"][0]
    )
    assert first[2]["data"] == get_json(f"{api.url}/api/v1/events/{event_id}")
    assert first[3]["data"]["to_state"] == "DOWN"
    up = call("GET", url, good)[1]
    assert (up["cursor"], up["failures"], up["last_error"]) == (later, 0, None)
    assert up["next_attempt_at"] is None


def test_a_failing_receiver_is_retried_and_kinds_are_filtered(
    api: Serving, keys: tuple[str, str], writer: Writer
) -> None:
    good = keys[0]
    answered: dict[str, int] = {}
    lock = threading.Lock()

    def answers(path: str) -> int:  # /all: 500 twice, then 200
        with lock:
            answered[path] = answered.get(path, 0) + 1
            return 500 if path == "/all" and answered[path] <= 2 else 200

    receiver = Receiver(free_port(), answers).start()
    try:
        base = f"http://127.0.0.1:{receiver.port}"
        hooks = f"{api.url}/api/v1/webhooks"
        _, every = call("POST", hooks, good, {"url": f"{base}/all"})
        _, states = call("POST", hooks, good, {"url": f"{base}/state", "kinds": ["state"]})
        written = writer.detections(*["SAREZ", "MURGH", "MANEM"] * 50)[0]  # 150: two bodies
        down = writer.state("MURGH", HealthState.DOWN)
        written.append(down)
        written += writer.detections("SAREZ")[0]
        wait_for(lambda: receiver.accepted("/all")[-1:] == written[-1:], "every change")
        wait_for(
            lambda: call("GET", f"{hooks}/{states['id']}", good)[1]["cursor"] == written[-1],
            "the state webhook's cursor to pass the other kinds",
        )
        time.sleep(0.3)
    finally:
        receiver.stop()
    assert receiver.accepted("/all") == written
    assert [d.status for d in receiver.deliveries if d.path == "/all"][:2] == [500, 500]
    assert max(len(d.ids) for d in receiver.deliveries) == 100
    assert receiver.accepted("/state") == [down]
    registered = {"/all": every, "/state": states}
    for d in receiver.deliveries:
        _verify(d, registered[d.path]["secret"], registered[d.path]["id"])
    status, final = call("GET", f"{hooks}/{every['id']}", good)
    assert status == 200
    assert (final["cursor"], final["failures"], final["last_error"]) == (written[-1], 0, None)


def test_a_key_sees_and_deletes_only_its_own_webhooks(
    api: Serving, database: str, keys: tuple[str, str]
) -> None:
    good = keys[0]
    engine = make_engine(database)
    with make_session_factory(engine)() as s, s.begin():
        now = datetime.now(UTC)
        _, other = create_api_key(s, name="another team", now=now)
        legacy = create_webhook(  # registered before webhooks had owners
            s,
            url="http://127.0.0.1:9/legacy",
            secret="s" * 20,
            kinds=[ChangeKind.STATE],
            api_key_id=None,
            now=now,
        ).id
    engine.dispose()
    hooks = f"{api.url}/api/v1/webhooks"
    _, mine = call("POST", hooks, good, {"url": "http://127.0.0.1:9/mine"})
    _, theirs = call("POST", hooks, other, {"url": "http://127.0.0.1:9/theirs"})
    assert [w["id"] for w in call("GET", hooks, good)[1]] == [legacy, mine["id"]]
    assert [w["id"] for w in call("GET", hooks, other)[1]] == [legacy, theirs["id"]]

    # Another key's webhook answers exactly as one that does not exist.
    nowhere = call("GET", f"{hooks}/{theirs['id'] + 1000}", good)
    for method in ("GET", "DELETE"):
        status, answer = call(method, f"{hooks}/{theirs['id']}", good)
        assert (status, answer["detail"]) == (404, f"no webhook '{theirs['id']}'")
        assert nowhere == (404, {"detail": f"no webhook '{theirs['id'] + 1000}'"})
    assert call("GET", f"{hooks}/{theirs['id']}", other)[0] == 200  # still there
    assert call("GET", f"{hooks}/{mine['id']}", other)[0] == 404
    assert call("GET", f"{hooks}/{legacy}", other)[0] == 200
    assert call("DELETE", f"{hooks}/{legacy}", good) == (204, None)
    assert call("GET", f"{hooks}/{legacy}", other)[0] == 404
    assert call("DELETE", f"{hooks}/{theirs['id']}", other) == (204, None)
    assert [w["id"] for w in call("GET", hooks, good)[1]] == [mine["id"]]
