"""Station leases: a fair partition among live workers, taken over when one dies."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from stations.db import make_engine, make_session_factory, migrate
from stations.leases import acquire_leases, held_leases, release_leases

STATIONS = [("TJ", "MANEM"), ("TJ", "MURGH"), ("TJ", "SAREZ"), ("TJ", "KHOR"), ("TJ", "DUSH")]
TTL = timedelta(seconds=30)
T0 = datetime(2025, 6, 1, 12, tzinfo=UTC)


def _acquire(session: Session, worker: str, at: datetime) -> set[tuple[str, str]]:
    return acquire_leases(session, worker=worker, stations=STATIONS, now=at, ttl=TTL)


def test_a_lone_worker_takes_every_station(session: Session) -> None:
    assert _acquire(session, "a", T0) == set(STATIONS)
    assert held_leases(session, worker="a", now=T0 + timedelta(seconds=29)) == set(STATIONS)
    assert held_leases(session, worker="a", now=T0 + timedelta(seconds=31)) == set()


def test_a_second_worker_gets_its_share_and_none_is_held_twice(session: Session) -> None:
    assert _acquire(session, "a", T0) == set(STATIONS)
    t = T0 + timedelta(seconds=5)
    assert _acquire(session, "b", t) == set()  # all taken: b announces itself
    a = _acquire(session, "a", t + timedelta(seconds=1))  # a sees b alive, keeps its share
    assert len(a) == 3
    b = _acquire(session, "b", t + timedelta(seconds=2))
    assert len(b) == 2
    assert a.isdisjoint(b)
    assert a | b == set(STATIONS)


def test_a_dead_workers_stations_are_taken_over(session: Session) -> None:
    _acquire(session, "a", T0)
    _acquire(session, "b", T0 + timedelta(seconds=1))
    a = _acquire(session, "a", T0 + timedelta(seconds=2))
    b = _acquire(session, "b", T0 + timedelta(seconds=3))
    assert a
    assert b
    # a stops renewing (killed); b keeps renewing every 10 s.
    for k in range(1, 5):
        b = _acquire(session, "b", T0 + timedelta(seconds=3 + 10 * k))
    assert b == set(STATIONS)


def test_a_clean_shutdown_hands_over_at_once(session: Session) -> None:
    _acquire(session, "a", T0)
    _acquire(session, "b", T0 + timedelta(seconds=1))
    _acquire(session, "a", T0 + timedelta(seconds=2))
    release_leases(session, worker="a", now=T0 + timedelta(seconds=3))
    assert _acquire(session, "b", T0 + timedelta(seconds=4)) == set(STATIONS)


def test_stations_no_longer_wanted_are_handed_back(session: Session) -> None:
    _acquire(session, "a", T0)
    fewer = acquire_leases(session, worker="a", stations=STATIONS[:2], now=T0, ttl=TTL)
    assert fewer == set(STATIONS[:2])
    assert _acquire(session, "b", T0 + timedelta(seconds=1)) == set(STATIONS[2:])


def test_workers_racing_never_hold_a_station_twice(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url, pool_size=8)
    migrate(engine)
    factory = make_session_factory(engine)
    held: dict[str, set[tuple[str, str]]] = {}
    errors: list[BaseException] = []
    now = datetime.now(UTC)

    def run(name: str) -> None:
        try:
            for i in range(15):
                with factory() as s, s.begin():
                    held[name] = acquire_leases(
                        s, worker=name, stations=STATIONS, now=now + timedelta(seconds=i), ttl=TTL
                    )
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with factory() as s:
        final = {w: held_leases(s, worker=w, now=now + timedelta(seconds=14)) for w in held}
    engine.dispose()
    seen: set[tuple[str, str]] = set()
    for stations in final.values():
        assert seen.isdisjoint(stations)
        seen |= stations
