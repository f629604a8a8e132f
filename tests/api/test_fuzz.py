"""Every operation of the OpenAPI schema fuzzed with schemathesis and judged by all its
checks: no server error, status codes, content types, headers and bodies as documented,
valid requests accepted and invalid ones refused. With data generated to fit the schema and
to break it, without a key and with a valid write key, on the suite's database (SQLite, or
PostgreSQL with ``LARZA_TEST_DATABASE_URL``).

One setting of the checks is Larza's: a request that fits the schema may still be answered
400 (or 413), as documented, where what is wrong lies between parameters, which a schema
cannot say: an end before its start, a page larger than the largest, a dataselect request
spanning more days than allowed, a StationXML document that is not valid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import BaseSchema, GenerationMode
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.settings import ApiSettings
from stations.apikeys import create_api_key
from stations.db import make_engine, make_session_factory, migrate
from stations.health import save_station_state
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import EventStatus, HealthState
from stations.queries import channel_index, get_station, store_detection, store_event

from ..conftest import own_database

NOW = datetime.now(UTC)
WRITE_KEY: dict[str, str] = {}  # the key the fixture made
EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 40}
CHECKS = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": [
                    *("2xx", "3xx", "401", "403", "404", "409", "429", "5xx"),  # the default
                    *("400", "413"),  # documented: what is wrong lies between parameters
                ]
            }
        }
    }
)


@pytest.fixture(scope="module")
def fuzz_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the module's own: SQLite, or a PostgreSQL database made for it."""
    with own_database(tmp_path_factory.mktemp("fuzz")) as url:
        yield url


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseSchema]:
    folder: Path = tmp_path_factory.mktemp("archive")
    engine = make_engine(fuzz_url, sqlite_begin="DEFERRED")
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
        for code in ("SAREZ", "MURGH"):  # states an operator can acknowledge
            station_id = get_station(s, network="TJ", station=code).id
            save_station_state(
                s, station_id=station_id, state=HealthState.DOWN, reason="drill", now=NOW
            )
        WRITE_KEY["secret"] = create_api_key(s, name="fuzz", now=NOW)[1]
    settings_ = ApiSettings(database_url=fuzz_url, archive_dir=str(folder), webhooks_enabled=False)
    app = create_app(settings_, engine=engine)
    with TestClient(app):  # runs the lifespan: the app's session factory and settings
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CHECKS)
        # The event stream never ends by design; it has tests of its own.
        yield schema.exclude(path="/api/v1/stream")
    engine.dispose()


def _fuzz(
    schema: BaseSchema,
    mode: GenerationMode,
    headers: dict[str, str],
    statuses: Counter[int],
) -> list[str]:
    """What every check of every operation found; answered statuses counted in ``statuses``."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            derandomize=True,  # the same cases every run: CI does not flip on luck
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call_and_validate(headers=headers)
            statuses[response.status_code] += 1

        try:
            fuzz()
        except Unsatisfiable:  # nothing to break in an operation without parameters
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (AssertionError, BaseExceptionGroup) as e:
            failures.append(f"{operation.label}: {str(e)[:2000]}")
    return failures


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_without_a_key(fuzz_schema: BaseSchema, mode: GenerationMode) -> None:
    assert len(list(fuzz_schema.get_all_operations())) >= 30  # every router is in the schema
    statuses: Counter[int] = Counter()
    failures = _fuzz(fuzz_schema, mode, {}, statuses)
    assert not failures, "\n".join(failures)
    assert not any(code >= 500 for code in statuses), statuses


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_with_a_write_key(fuzz_schema: BaseSchema, mode: GenerationMode) -> None:
    """Past the key check: what the writes do with arbitrary bodies and parameters."""
    statuses: Counter[int] = Counter()
    failures = _fuzz(fuzz_schema, mode, {"X-API-Key": WRITE_KEY["secret"]}, statuses)
    assert not failures, "\n".join(failures)
    assert not any(code >= 500 for code in statuses), statuses
    # The key was taken: the writes answered more than 401/403.
    assert sum(n for code, n in statuses.items() if code not in (401, 403)) > 100, statuses
