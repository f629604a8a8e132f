"""Station alerts from observed shaking: one sensor alone never alerts; a second sensor of the
station or a second station within the agreement window does; each station once an episode."""

from __future__ import annotations

import pytest

from detection import ShakingCandidate, ShakingVote


def shake(station: str, sensor: str, t: float, mmi: float = 6.0) -> ShakingCandidate:
    return ShakingCandidate(station, sensor, t, mmi)


def test_one_sensor_alone_is_suppressed() -> None:
    vote = ShakingVote(mmi_level=5.0, agree_s=5.0)
    assert vote.add(shake("TJ.SAREZ", ".HH", 100.0)) == []
    assert vote.expire(104.0) == []
    gone = vote.expire(105.5)
    assert [c.station for c in gone] == ["TJ.SAREZ"]


def test_co_located_sensors_agree() -> None:
    vote = ShakingVote(mmi_level=5.0, agree_s=5.0)
    assert vote.add(shake("TJ.SAREZ", ".HN", 100.0)) == []
    alerts = vote.add(shake("TJ.SAREZ", ".HH", 101.0))
    assert len(alerts) == 1
    assert alerts[0].candidate.station == "TJ.SAREZ"
    assert alerts[0].agreed == "sensor .HN"
    # the same station again within the episode: nothing new
    assert vote.add(shake("TJ.SAREZ", ".HN", 102.0)) == []
    assert vote.expire(110.0) == []


def test_a_second_station_confirms_both() -> None:
    vote = ShakingVote(mmi_level=5.0, agree_s=5.0)
    vote.add(shake("TJ.SAREZ", ".HN", 100.0))
    alerts = vote.add(shake("TJ.MURGH", ".HN", 103.0))
    assert {(a.candidate.station, a.agreed) for a in alerts} == {
        ("TJ.MURGH", "station TJ.SAREZ"),
        ("TJ.SAREZ", "station TJ.MURGH"),
    }


def test_too_far_apart_in_time_or_below_the_level() -> None:
    vote = ShakingVote(mmi_level=5.0, agree_s=5.0)
    assert vote.add(shake("TJ.SAREZ", ".HN", 100.0, mmi=4.9)) == []
    vote.add(shake("TJ.SAREZ", ".HN", 100.0))
    assert vote.add(shake("TJ.MURGH", ".HN", 106.0)) == []
    assert [c.station for c in vote.expire(106.0)] == ["TJ.SAREZ"]


def test_a_station_alerts_again_after_rearm() -> None:
    vote = ShakingVote(mmi_level=5.0, agree_s=5.0, rearm_s=30.0)
    vote.add(shake("TJ.SAREZ", ".HN", 100.0))
    assert vote.add(shake("TJ.SAREZ", ".HH", 100.5))
    vote.expire(200.0)
    vote.add(shake("TJ.SAREZ", ".HN", 200.0))
    assert vote.add(shake("TJ.SAREZ", ".HH", 200.5))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="mmi_level"):
        ShakingVote(mmi_level=0.5)
    with pytest.raises(ValueError, match="agree_s"):
        ShakingVote(mmi_level=5.0, agree_s=0.0)
