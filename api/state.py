"""A station's state from its channels' data latency (the health issue refines this)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.schemas import ChannelOut, StationState

_RANK: dict[StationState, int] = {"OK": 0, "UNKNOWN": 1, "DEGRADED": 2, "DOWN": 3}


@dataclass(frozen=True)
class Verdict:
    state: StationState
    reason: str


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def channel_verdict(channel: ChannelOut, *, ok_s: float, down_s: float) -> Verdict:
    latency = channel.data_latency_s
    if latency is None:
        return Verdict("UNKNOWN", f"{channel.code}: no data received yet")
    if latency > down_s:
        return Verdict("DOWN", f"{channel.code}: no data for {_age(latency)}")
    if latency > ok_s:
        return Verdict("DEGRADED", f"{channel.code}: data {_age(latency)} late")
    return Verdict("OK", "")


def station_verdict(channels: Sequence[ChannelOut], *, ok_s: float, down_s: float) -> Verdict:
    """The worst channel's state, with every channel in that state named in the reason."""
    watched = [c for c in channels if c.kind != "soh"]
    if not watched:
        return Verdict("UNKNOWN", "no seismometer or accelerometer channel in the inventory")
    verdicts = [channel_verdict(c, ok_s=ok_s, down_s=down_s) for c in watched]
    worst = max((v.state for v in verdicts), key=_RANK.__getitem__)
    if worst == "OK":
        return Verdict("OK", "all channels within latency")
    return Verdict(worst, "; ".join(v.reason for v in verdicts if v.state == worst))
