"""A station's reason in words: each set of channels named once, with what they share."""

from __future__ import annotations

from ingest.config import HealthTable, SohChannel
from ingest.health.verdict import Verdict, channel_verdict, station_verdict
from stations.models import ChannelKind, HealthState

LIMITS = HealthTable()
SIX = ("HHE", "HHN", "HHZ", "HNE", "HNN", "HNZ")


def _healthy(**changes: object) -> dict[str, object]:
    metrics: dict[str, object] = {
        "data_latency_s": 3.0,
        "window_s": 600.0,
        "availability_pct": 100.0,
        "clock_locked": True,
        "timing_quality_min": 100,
    }
    return metrics | changes


def test_channels_with_the_same_reasons_are_named_once() -> None:
    # A digitizer that lost its GPS lock: every channel says the same two things.
    lost = _healthy(clock_locked=False, timing_quality_min=20)
    verdicts = {c: channel_verdict(lost, ChannelKind.SEISMOMETER, LIMITS) for c in SIX}
    verdict = station_verdict(verdicts)
    assert verdict.state is HealthState.DEGRADED
    assert verdict.reason == (
        "HHE, HHN, HHZ, HNE, HNN, HNZ: clock not locked (GPS), timing quality 20 %"
    )


def test_shared_reasons_once_and_the_rest_per_channel() -> None:
    verdicts = {
        "HHZ": channel_verdict(
            _healthy(clock_locked=False, timing_quality_min=20),
            ChannelKind.SEISMOMETER,
            LIMITS,
        ),
        "HHN": channel_verdict(
            _healthy(clock_locked=False, timing_quality_min=30),
            ChannelKind.SEISMOMETER,
            LIMITS,
        ),
        "HHE": channel_verdict(
            _healthy(clock_locked=False, availability_pct=90.0, largest_gap_s=60.0),
            ChannelKind.SEISMOMETER,
            LIMITS,
        ),
        "HNZ": channel_verdict(_healthy(), ChannelKind.ACCELEROMETER, LIMITS),
    }
    reason = station_verdict(verdicts).reason
    assert reason == (
        "HHE, HHN, HHZ: clock not locked (GPS); "
        "HHE: availability 90.0 % of the last 10 min (largest gap 60 s); "
        "HHN: timing quality 30 %; HHZ: timing quality 20 %"
    )
    # Each channel list is written once: the reason splits back into its parts.
    groups = [part.split(": ", 1) for part in reason.split("; ")]
    assert len({codes for codes, _ in groups}) == len(groups)


def test_silent_channels_named_once_with_the_shortest_silence() -> None:
    # Records of different channels end at different times: the silences differ by seconds.
    verdicts = {
        code: channel_verdict(
            _healthy(data_latency_s=700.0 + 2 * i), ChannelKind.SEISMOMETER, LIMITS
        )
        for i, code in enumerate(SIX)
    }
    verdicts["HNZ"] = channel_verdict(
        _healthy(data_latency_s=3000.0), ChannelKind.SEISMOMETER, LIMITS
    )
    verdict = station_verdict(verdicts)
    assert verdict.state is HealthState.DOWN
    assert verdict.reason == "HHE, HHN, HHZ, HNE, HNN, HNZ: no data for 12 min"


def test_only_the_worst_state_is_told() -> None:
    verdicts = {
        "HHZ": channel_verdict(_healthy(data_latency_s=900.0), ChannelKind.SEISMOMETER, LIMITS),
        "HNZ": channel_verdict(_healthy(clock_locked=False), ChannelKind.ACCELEROMETER, LIMITS),
        "VEI": Verdict(HealthState.OK),
    }
    assert station_verdict(verdicts).reason == "HHZ: no data for 15 min"
    assert station_verdict({"HHZ": Verdict(HealthState.OK)}) == Verdict(HealthState.OK)
    assert station_verdict({}).reason == "no channels in the inventory"


def test_no_single_reason_holds_a_comma() -> None:
    soh = SohChannel(name="Supply voltage", unit="V", min=11.0)
    below = channel_verdict({"data_latency_s": 3.0, "value": 10.5}, ChannelKind.SOH, LIMITS, soh)
    assert below.reasons == ("Supply voltage 10.5 V (below 11 V)",)
    gap = channel_verdict(
        _healthy(availability_pct=95.0, largest_gap_s=30.0), ChannelKind.SEISMOMETER, LIMITS
    )
    assert gap.reasons == ("availability 95.0 % of the last 10 min (largest gap 30 s)",)
