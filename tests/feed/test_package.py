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
