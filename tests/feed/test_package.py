"""The feed's public names."""

from __future__ import annotations

import ingest.feed


def test_all_names_exist_and_are_public() -> None:
    assert sorted(ingest.feed.__all__) == ingest.feed.__all__
    for name in ingest.feed.__all__:
        assert getattr(ingest.feed, name) is not None
    assert {"ChannelSpec", "StationSpec", "SyntheticSource", "SeedLinkServer", "serve"} <= set(
        ingest.feed.__all__
    )


def test_synthetic_source_is_a_record_source() -> None:
    source = ingest.feed.SyntheticSource(ingest.feed.default_stations(), seed=1)
    assert isinstance(source, ingest.feed.RecordSource)
    assert isinstance(ingest.feed.ListSource([]), ingest.feed.RecordSource)


def test_replay_and_faulty_sources_are_record_sources() -> None:
    replay = ingest.feed.ReplaySource(_one_record(), "fast")
    assert isinstance(replay, ingest.feed.RecordSource)
    faulty = ingest.feed.FaultySource(replay, [ingest.feed.Gap(start=0.0, end=1.0)])
    assert isinstance(faulty, ingest.feed.RecordSource)


def _one_record() -> list[bytes]:
    station = ingest.feed.default_stations()[0]
    src = ingest.feed.SyntheticSource([station], seed=1, start=1_750_000_000.0)
    return src.records_until(1_750_000_010.0)[:1]
