"""From metrics to states: a channel's state and reasons, and a station's roll-up.

A channel is UNKNOWN before any data, DOWN when its data latency passes ``latency_down_s``,
DEGRADED when any other threshold of ``[health]`` is crossed, OK otherwise. State-of-health
channels are at worst DEGRADED: a silent thermometer does not take a station down. A station's
state is its worst channel's; its reason names the channels in that state with their reasons
in words, each set of channels once ("HHE, HHN, HHZ: clock not locked (GPS), timing quality
20 %; HNZ: no data for 12 min"). No single reason holds a comma, so the list reads back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.config import HealthTable, SohChannel
from stations.models import ChannelKind, HealthState

_SILENT = "\x00silent"  # stands for "no data for ..." while channels are grouped
_RANK = {HealthState.OK: 0, HealthState.UNKNOWN: 1, HealthState.DEGRADED: 2, HealthState.DOWN: 3}


@dataclass(frozen=True)
class Verdict:
    state: HealthState
    reasons: tuple[str, ...] = ()
    silent_s: float | None = None
    """Set when the only reason is "no data for ...": for how long, so that a station's
    silent channels are named once, with the shortest silence."""

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def duration(seconds: float) -> str:
    """Seconds in words an operator reads at a glance: ``45 s``, ``12 min``, ``3.5 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def channel_verdict(
    metrics: dict[str, Any],
    kind: ChannelKind,
    limits: HealthTable,
    soh: SohChannel | None = None,
) -> Verdict:
    """The state of one channel from its metrics (see :class:`ingest.health.metrics.ChannelHealth`);
    ``soh`` describes a state-of-health channel (its name, unit, scale and limits)."""
    latency = metrics.get("data_latency_s")
    if latency is None:
        return Verdict(HealthState.UNKNOWN, ("no data yet",))
    if kind is ChannelKind.SOH:
        if latency > limits.soh_latency_s:
            return _silent(HealthState.DEGRADED, latency)
        reasons = _soh_reasons(metrics, soh) + _timing_reasons(metrics, limits)
        return Verdict(HealthState.DEGRADED if reasons else HealthState.OK, tuple(reasons))
    window = duration(metrics.get("window_s") or limits.window_s)
    if latency > limits.latency_down_s:
        return _silent(HealthState.DOWN, latency)
    reasons = []
    if latency > limits.latency_degraded_s:
        reasons.append(f"data {duration(latency)} late")
    reasons += _signal_reasons(metrics, limits, window, kind)
    reasons += _timing_reasons(metrics, limits)
    if metrics.get("future_records"):
        reasons.append(f"{metrics['future_records']} records stamped in the future")
    reasons += metrics.get("problems") or []
    return Verdict(HealthState.DEGRADED if reasons else HealthState.OK, tuple(reasons))


def _silent(state: HealthState, latency: float) -> Verdict:
    return Verdict(state, (f"no data for {duration(latency)}",), silent_s=latency)


def _signal_reasons(
    metrics: dict[str, Any], limits: HealthTable, window: str, kind: ChannelKind
) -> list[str]:
    reasons = []
    availability = metrics.get("availability_pct")
    if availability is not None and availability < limits.availability_pct:
        largest = metrics.get("largest_gap_s") or 0.0
        since = metrics.get("largest_gap_start")
        at = f" from {datetime.fromtimestamp(since, UTC):%H:%M:%S} UTC" if since is not None else ""
        gap = f" (largest gap {duration(largest)}{at})" if largest > 0 else ""
        reasons.append(f"availability {availability:.1f} % of the last {window}{gap}")
    if metrics.get("flat"):
        reasons.append(f"flat line (dead channel) for the last {window}")
    clipped = metrics.get("clipped_pct")
    if clipped is not None and clipped > limits.clipping_pct:
        reasons.append(f"clipping {clipped:.0f} % of the last {window}")
    spikes = metrics.get("spikes")
    if spikes is not None and spikes > limits.spikes:
        reasons.append(f"{spikes} spikes in the last {window}")
    # Accelerometers are not meant to resolve ambient noise: their level is only reported.
    above = metrics.get("noise_db_above_nhnm")
    if (
        kind is ChannelKind.SEISMOMETER
        and above is not None
        and limits.noise_above_nhnm_db is not None
        and above > limits.noise_above_nhnm_db
    ):
        low, high = limits.noise_band_hz
        reasons.append(f"noise {above:.0f} dB above the NHNM at {low:g}-{high:g} Hz")
    return reasons


def _timing_reasons(metrics: dict[str, Any], limits: HealthTable) -> list[str]:
    reasons = []
    if metrics.get("clock_locked") is False:
        reasons.append("clock not locked (GPS)")
    quality = metrics.get("timing_quality_min")
    if quality is not None and quality < limits.timing_quality_degraded:
        reasons.append(f"timing quality {quality} %")
    return reasons


def _soh_reasons(metrics: dict[str, Any], soh: SohChannel | None) -> list[str]:
    value = metrics.get("value")
    if soh is None or value is None:
        return []
    unit = f" {soh.unit}" if soh.unit else ""
    if soh.min is not None and value < soh.min:
        return [f"{soh.name} {value:g}{unit} (below {soh.min:g}{unit})"]
    if soh.max is not None and value > soh.max:
        return [f"{soh.name} {value:g}{unit} (above {soh.max:g}{unit})"]
    return []


def station_verdict(channels: dict[str, Verdict]) -> Verdict:
    """The worst channel's state. Its reasons: each reason of the channels in that state with
    the channels that have it, and the reasons that the same channels share together, so that
    a set of channels is named once ("HHE, HHN, HHZ: clock not locked (GPS), timing quality
    20 %"), the widest sets first. Silent channels are named together, with the shortest
    silence among them."""
    if not channels:
        return Verdict(HealthState.UNKNOWN, ("no channels in the inventory",))
    worst = max((v.state for v in channels.values()), key=_RANK.__getitem__)
    if worst is HealthState.OK:
        return Verdict(HealthState.OK)
    codes_of: dict[str, list[str]] = {}
    silent: list[float] = []
    for code, verdict in sorted(channels.items()):
        if verdict.state is not worst:
            continue
        if verdict.silent_s is not None:
            silent.append(verdict.silent_s)
        for reason in (_SILENT,) if verdict.silent_s is not None else verdict.reasons:
            codes_of.setdefault(reason, []).append(code)
    reasons_of: dict[tuple[str, ...], list[str]] = {}
    for reason, codes in codes_of.items():
        if reason == _SILENT:
            reason = f"no data for {duration(min(silent))}"
        reasons_of.setdefault(tuple(codes), []).append(reason)
    widest_first = sorted(reasons_of.items(), key=lambda item: -len(item[0]))
    return Verdict(worst, tuple(f"{', '.join(c)}: {', '.join(why)}" for c, why in widest_first))


def worse(a: HealthState, b: HealthState) -> bool:
    """Whether ``a`` is worse than ``b``."""
    return _RANK[a] > _RANK[b]
