"""Every operation of the OpenAPI schema fuzzed with schemathesis: whatever the parameters,
the API answers without a server error (malformed input gets 4xx naming the parameter)."""

from __future__ import annotations

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
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import EventStatus
from stations.queries import channel_index, store_detection, store_event

NOW = datetime.now(UTC)


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
    settings_ = ApiSettings(
        database_url=url, archive_dir=str(folder / "archive"), webhooks_enabled=False
    )
    app = create_app(settings_, engine=engine)
    with TestClient(app):  # runs the lifespan: the app's session factory and settings
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        # The event stream never ends by design; it has tests of its own.
        yield schema.exclude(path="/api/v1/stream")
    engine.dispose()


def test_no_operation_answers_a_server_error(fuzz_schema: BaseSchema) -> None:
    failures: list[str] = []
    operations = 0
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=100,
            derandomize=True,  # the same cases every run: CI does not flip on luck
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.as_curl_command(), response.text[:300])

        try:
            fuzz()
        except AssertionError as e:
            failures.append(f"{operation.label}: {e}")
    assert operations >= 15  # every router is in the schema
    assert not failures, "\n".join(failures)
