"""What the API works out itself from the stored health: a station's state from its
channels' data latency when no worker evaluates it (stale), and a channel's availability
over the window ending now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


def _channel_state(latency: float | None, *, ok_s: float, down_s: float) -> StationState:
    if latency is None:
        return "UNKNOWN"
    if latency > down_s:
        return "DOWN"
    return "DEGRADED" if latency > ok_s else "OK"


def station_verdict(channels: Sequence[ChannelOut], *, ok_s: float, down_s: float) -> Verdict:
    """The worst channel's state, the channels in it named once, with the shortest latency
    among them ("HHE, HHN, HHZ: no data for 12 min")."""
    watched = [c for c in channels if c.kind != "soh"]
    if not watched:
        return Verdict("UNKNOWN", "no seismometer or accelerometer channel in the inventory")
    states = [_channel_state(c.data_latency_s, ok_s=ok_s, down_s=down_s) for c in watched]
    worst = max(states, key=_RANK.__getitem__)
    if worst == "OK":
        return Verdict("OK", "all channels within latency")
    named = [c for c, state in zip(watched, states, strict=True) if state == worst]
    codes = ", ".join(sorted({c.code for c in named}))
    if worst == "UNKNOWN":
        return Verdict(worst, f"{codes}: no data received yet")
    latency = min(c.data_latency_s or 0.0 for c in named)
    words = f"no data for {_age(latency)}" if worst == "DOWN" else f"data {_age(latency)} late"
    return Verdict(worst, f"{codes}: {words}")


def availability_now(
    metrics: Mapping[str, Any], *, silent: bool, latency_s: float | None
) -> float | None:
    """A channel's availability in % over the health window ending now; None when the worker
    has not reported one.

    The worker's ``availability_pct`` covers the window ending at the channel's newest sample
    (data still in transit is not a gap), so a silent channel keeps the figure of its last
    window: a DOWN station would show "100 %". When the channel is ``silent`` (DOWN: no data
    for longer than the worker allows), the silence since its newest sample counts as
    missing: with window ``W``, the worker's figure ``A`` and the silence ``S``, at least
    ``A·W - S`` seconds of the window ending now hold data (the silence moved ``S`` seconds
    of the old window out of it). That lower bound is the figure: exact when the last window
    was complete (``A = 100``) and when the silence is longer than the window (0 %), and
    never higher than the truth otherwise.
    """
    availability = metrics.get("availability_pct")
    window = metrics.get("window_s")
    if not isinstance(availability, int | float):
        return None
    if not silent or latency_s is None or not isinstance(window, int | float) or window <= 0:
        return float(availability)
    covered = availability / 100.0 * window - min(latency_s, window)
    return max(0.0, 100.0 * covered / window)
