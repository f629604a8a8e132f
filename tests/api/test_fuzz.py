"""Every operation of the OpenAPI schema fuzzed with schemathesis: whatever the parameters,
the API answers without a server error (malformed input gets 4xx naming the parameter)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import BaseSchema

from api.app import create_app
from api.settings import ApiSettings
from stations.apikeys import create_api_key
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import EventStatus
from stations.queries import channel_index, store_detection, store_event

NOW = datetime.now(UTC)
WRITE_KEY: dict[str, str] = {}  # the key the fixture made, for the writes' fuzz


@pytest.fixture(scope="module")
def fuzz_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseSchema]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'larza.sqlite'}"
    engine = make_engine(url, sqlite_begin="DEFERRED")
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
        channels = list(channel_index(s).values())
        ids = [
            store_detection(
                s,
                channel_id=c.id,
                on_time=NOW - timedelta(minutes=5),
                off_time=NOW - timedelta(minutes=4),
                onset_time=NOW - timedelta(minutes=5),
                peak_ratio=6.0,
                snr=8.0,
                peak_amplitude=1200.0,
                profile="default",
                now=NOW,
            ).id
            for c in channels[:3]
        ]
        store_event(
            s,
            event_id=None,
            time=NOW - timedelta(minutes=5),
            status=EventStatus.FINAL,
            n_stations=3,
            coincidence_sum=3.0,
            duration=4.0,
            detection_ids=ids,
            now=NOW,
        )
        WRITE_KEY["secret"] = create_api_key(s, name="fuzz", now=NOW)[1]
    settings_ = ApiSettings(
        database_url=url, archive_dir=str(folder / "archive"), webhooks_enabled=False
    )
    app = create_app(settings_, engine=engine)
    with TestClient(app):  # runs the lifespan: the app's session factory and settings
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        # The event stream never ends by design; it has tests of its own.
        yield schema.exclude(path="/api/v1/stream")
    engine.dispose()


def _fuzz(
    schema: BaseSchema,
    headers: dict[str, str],
    methods: set[str] | None,
    statuses: Counter[int] | None = None,
) -> list[str]:
    """Failures (a server error) of every operation, or of those with ``methods``; the
    status codes answered are counted in ``statuses``."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if methods is not None and operation.method.upper() not in methods:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=100,
            derandomize=True,  # the same cases every run: CI does not flip on luck
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            if statuses is not None:
                statuses[response.status_code] += 1
            assert response.status_code < 500, (case.as_curl_command(), response.text[:300])

        try:
            fuzz()
        except AssertionError as e:
            failures.append(f"{operation.label}: {e}")
    return failures


def test_no_operation_answers_a_server_error(fuzz_schema: BaseSchema) -> None:
    assert len(list(fuzz_schema.get_all_operations())) >= 15  # every router is in the schema
    failures = _fuzz(fuzz_schema, {}, None)
    assert not failures, "\n".join(failures)


def test_no_write_with_a_valid_key_answers_a_server_error(fuzz_schema: BaseSchema) -> None:
    """Past the key check: what the writes do with arbitrary bodies and parameters."""
    writes = {"POST", "PUT", "PATCH", "DELETE"}
    assert any(r.ok().method.upper() in writes for r in fuzz_schema.get_all_operations())
    statuses: Counter[int] = Counter()
    failures = _fuzz(fuzz_schema, {"X-API-Key": WRITE_KEY["secret"]}, writes, statuses)
    assert not failures, "\n".join(failures)
    # The key was taken: the writes answered more than 401/403.
    assert sum(n for code, n in statuses.items() if code not in (401, 403)) > 100, statuses
