"""The alert timeline of a drill against its truth (``larza drill report``).

The truth is what ``larza feed --scenario`` wrote (see :mod:`ingest.feed._scenario`): the
origin, the magnitude, each station's P and S, each target site's S, and the moment enough P
data physically existed for a network alert: P onsets at ``min_stations`` stations (for a
location) and the second of P a magnitude needs at one of them, whichever comes later. The
alerts are the database's, as the worker stored them: each version with the time it was sent
(stored, in the worker's clock).

Times are given after the origin (``T0 + x s``). The warning time at a site is its true S
arrival minus the first network alert's sending; the ideal is the S arrival minus the moment
enough P data existed, what a system that wasted no time (no telemetry, no processing) could
have left.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detection import distance_km
from stations.errors import ConfigurationError
from stations.models import Alert, AlertVersion

__all__ = [
    "AFTER_S",
    "Suppressed",
    "drill_report",
    "read_suppressed",
    "read_truth",
    "replay_report",
    "replay_text",
    "report_text",
]

AFTER_S = 10.0
"""The estimate ``AFTER_S`` after the first alert is reported too (the latest one by then)."""
_SUPPRESSED = re.compile(r"alert candidate suppressed \((\w+)\): (.*)$")
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")


@dataclass(frozen=True)
class Suppressed:
    """A candidate the worker turned down, as its log says."""

    reason: str
    detail: str
    at: datetime | None = None


def read_truth(path: Path) -> dict[str, Any]:
    """The truth file of ``larza feed --scenario``; a missing or broken one is an error
    naming it."""
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(
            str(path),
            f"cannot read the drill's truth: {e.strerror or e} (written by "
            "'larza feed --scenario FILE --truth PATH')",
        ) from e
    except ValueError as e:
        raise ConfigurationError(str(path), f"not a truth file (JSON): {e}") from e
    needed = ("origin_time", "latitude", "longitude", "depth_km", "magnitude", "stations")
    missing = [k for k in needed if not isinstance(truth, dict) or k not in truth]
    if missing:
        raise ConfigurationError(str(path), f"not a truth file: no {', '.join(missing)}")
    return dict(truth)


def read_suppressed(path: Path, since: datetime) -> list[Suppressed]:
    """The suppressed candidates a worker's log names, from ``since`` on (lines without a
    readable time are kept)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise ConfigurationError(str(path), f"cannot read the log: {e.strerror or e}") from e
    out = []
    for line in lines:
        found = _SUPPRESSED.search(line)
        if found is None:
            continue
        at = None
        stamp = _LOG_TIME.match(line)
        if stamp is not None:
            # the worker logs its local time, as logging's asctime does
            at = datetime.strptime(f"{stamp[1]}.{stamp[2]}", "%Y-%m-%d %H:%M:%S.%f").astimezone()
            if at < since:
                continue
        out.append(Suppressed(found[1], found[2].strip(), at))
    return out


def _t(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _version(v: AlertVersion, truth: dict[str, Any], origin: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "version": v.version,
        "action": v.action,
        "sent_at": v.sent_at.isoformat(),
        "after_origin_s": round(v.sent_at.timestamp() - origin, 3),
        "magnitude": v.magnitude,
        "magnitude_error": None,
        "latitude": v.latitude,
        "longitude": v.longitude,
        "epicentre_error_km": None,
        "depth_km": v.depth_km,
        "depth_error_km": None,
        "stations": len((v.content or {}).get("stations", [])),
        "exercise": (v.content or {}).get("exercise") is True,
    }
    if v.magnitude is not None:
        row["magnitude_error"] = round(v.magnitude - float(truth["magnitude"]), 3)
    if v.latitude is not None and v.longitude is not None:
        error = distance_km(v.latitude, v.longitude, truth["latitude"], truth["longitude"])
        row["epicentre_error_km"] = round(float(error), 2)
    if v.depth_km is not None:
        row["depth_error_km"] = round(v.depth_km - float(truth["depth_km"]), 2)
    return row


def drill_report(
    truth: dict[str, Any], alerts: Iterable[Alert], suppressed: Sequence[Suppressed] = ()
) -> dict[str, Any]:
    """The drill's figures: every network alert raised since the feed started, version by
    version, against the truth; the first alert and the estimate ``AFTER_S`` later; the
    warning time at each site against the ideal; on-site alerts; suppressed candidates."""
    origin = _t(truth["origin_time"])
    start = _t(truth.get("feed_start", truth["origin_time"]))
    enough = _t(truth["enough_p_data"]) if truth.get("enough_p_data") else None
    chosen = [a for a in alerts if a.created_at.timestamp() >= start]
    network = [a for a in chosen if a.kind == "network"]
    report: dict[str, Any] = {
        "scenario": truth.get("scenario"),
        "truth": {
            k: truth.get(k)
            for k in ("origin_time", "latitude", "longitude", "depth_km", "magnitude")
        }
        | {"velocity_model": truth.get("velocity_model")},
        "p_arrivals": [
            {"station": s["id"], "after_origin_s": round(_t(s["p"]) - origin, 3)}
            for s in truth["stations"]
        ],
        "enough_p_data_after_origin_s": None if enough is None else round(enough - origin, 3),
        "min_stations": truth.get("min_stations"),
        "alerted": bool(network),
        "network_alerts": [
            {
                "id": a.id,
                "status": a.status,
                "exercise": all((v.content or {}).get("exercise") is True for v in a.versions),
                "versions": [_version(v, truth, origin) for v in a.versions],
            }
            for a in network
        ],
        "first_alert": None,
        "after_first": None,
        "sites": [],
        "onsite_alerts": [
            {
                "id": a.id,
                "station": a.versions[0].station,
                "after_origin_s": round(a.versions[0].sent_at.timestamp() - origin, 3),
                "mmi": (a.versions[0].content or {}).get("mmi"),
            }
            for a in chosen
            if a.kind == "onsite" and a.versions
        ],
        "suppressed": [{"reason": s.reason, "detail": s.detail} for s in suppressed],
        "suppressed_by_reason": dict(Counter(s.reason for s in suppressed)),
    }
    if not network:
        return report
    first_alert = network[0]
    first = first_alert.versions[0]
    sent = first.sent_at.timestamp()
    report["first_alert"] = {"alert_id": first_alert.id, **_version(first, truth, origin)}
    by_then = [v for v in first_alert.versions if v.sent_at.timestamp() <= sent + AFTER_S]
    estimates = [v for v in by_then if v.magnitude is not None] or [first]
    report["after_first"] = {"seconds": AFTER_S, **_version(estimates[-1], truth, origin)}
    forecast = {s["name"]: s for s in (first.content or {}).get("sites", [])}
    for site in truth.get("sites", []):
        s_arrival = _t(site["s"])
        predicted = forecast.get(site["name"], {})
        report["sites"].append(
            {
                "name": site["name"],
                "distance_km": site.get("distance_km"),
                "s_after_origin_s": round(s_arrival - origin, 3),
                "warning_s": round(s_arrival - sent, 2),
                "ideal_s": None if enough is None else round(s_arrival - enough, 2),
                "predicted_mmi": predicted.get("mmi"),
                "warned": predicted.get("alert"),
            }
        )
    return report


def _num(value: float | None, fmt: str, missing: str = "-") -> str:
    return missing if value is None else format(value, fmt)


def _line(v: dict[str, Any]) -> str:
    where = (
        f"{v['latitude']:.3f}N {v['longitude']:.3f}E (epicentre error "
        f"{v['epicentre_error_km']:.1f} km)"
        if v["latitude"] is not None
        else "no location"
    )
    depth = (
        f"depth {v['depth_km']:.0f} km ({v['depth_error_km']:+.0f})"
        if v["depth_km"] is not None
        else ""
    )
    magnitude = (
        f"M {v['magnitude']:.1f} ({v['magnitude_error']:+.2f})"
        if v["magnitude"] is not None
        else "M -"
    )
    stations = f"{v['stations']} stations" if v["stations"] else ""
    return (
        f"  T0{v['after_origin_s']:+.1f} s  v{v['version']} {v['action']:<9} {magnitude:<15}"
        f" {where}  {depth}  {stations}".rstrip()
    )


def report_text(report: dict[str, Any]) -> str:
    """The report as an operator reads it."""
    t = report["truth"]
    out = [
        f"Drill: {report['scenario']}",
        f"Truth: origin {t['origin_time']} (T0), {t['latitude']:.3f}N {t['longitude']:.3f}E, "
        f"depth {t['depth_km']:.1f} km, M {t['magnitude']:.1f} "
        f"(travel times: {t['velocity_model']})",
        "P arrivals: "
        + ", ".join(f"{p['station']} T0+{p['after_origin_s']:.1f} s" for p in report["p_arrivals"]),
    ]
    enough = report["enough_p_data_after_origin_s"]
    if enough is not None:
        out.append(
            f"Enough P data for a network alert (P at {report['min_stations']} stations, 1 s of "
            f"it at one) at T0+{enough:.1f} s"
        )
    if not report["alerted"]:
        out.append("")
        out.append("NO NETWORK ALERT was raised for this drill.")
        out += _onsite_and_suppressed(report, explain=True)
        return "\n".join(out) + "\n"
    first, later = report["first_alert"], report["after_first"]
    out.append("")
    out.append(
        f"First alert at T0+{first['after_origin_s']:.1f} s"
        + (
            f" ({first['after_origin_s'] - enough:.1f} s after enough P data existed)"
            if enough is not None
            else ""
        )
        + f": M {_num(first['magnitude'], '.1f')} (error {_num(first['magnitude_error'], '+.2f')})"
        + f", epicentre error {_num(first['epicentre_error_km'], '.1f')} km"
        + f", depth {_num(first['depth_km'], '.0f')} km"
        + f" (error {_num(first['depth_error_km'], '+.0f')} km)"
    )
    out.append(
        f"{later['seconds']:.0f} s after it, the latest estimate (v{later['version']}, "
        f"T0+{later['after_origin_s']:.1f} s): M {_num(later['magnitude'], '.1f')} "
        f"(error {_num(later['magnitude_error'], '+.2f')}), epicentre error "
        f"{_num(later['epicentre_error_km'], '.1f')} km"
    )
    if report["sites"]:
        out.append("")
        out.append(
            "Warning time left at each site (S arrival minus the first alert; ideal: minus "
            "the moment enough P data existed):"
        )
        width = max(len(s["name"]) for s in report["sites"])
        for s in report["sites"]:
            blind = "  (blind zone: the S came first)" if s["warning_s"] < 0 else ""
            mmi = (
                f"  predicted MMI {s['predicted_mmi']:.1f}"
                + (", warned" if s["warned"] else ", below its threshold")
                if s["predicted_mmi"] is not None
                else ""
            )
            out.append(
                f"  {s['name']:<{width}}  S at T0+{s['s_after_origin_s']:.1f} s  warning "
                f"{s['warning_s']:.1f} s (ideal {_num(s['ideal_s'], '.1f')} s){mmi}{blind}"
            )
    for a in report["network_alerts"]:
        out.append("")
        drill = "exercise" if a["exercise"] else "NOT marked exercise (CAP status Actual)"
        out.append(
            f"Network alert {a['id']} ({a['status']}, {drill}), {len(a['versions'])} versions:"
        )
        out += [_line(v) for v in a["versions"]]
    out += _onsite_and_suppressed(report, explain=False)
    return "\n".join(out) + "\n"


def _onsite_and_suppressed(report: dict[str, Any], *, explain: bool) -> list[str]:
    out = []
    if report["onsite_alerts"]:
        out.append("")
        out.append("On-site (station) alerts:")
        out += [
            f"  {a['station']} at T0+{a['after_origin_s']:.1f} s, observed MMI "
            f"{_num(a['mmi'], '.1f')}"
            for a in report["onsite_alerts"]
        ]
    if report["suppressed"]:
        out.append("")
        counts = ", ".join(f"{k} {n}" for k, n in report["suppressed_by_reason"].items())
        out.append(f"Suppressed candidates (the worker's log): {counts}")
        out += [f"  {s['reason']}: {s['detail']}" for s in report["suppressed"][:20]]
        if len(report["suppressed"]) > 20:
            out.append(f"  ... and {len(report['suppressed']) - 20} more")
    elif explain:
        out.append(
            "The database keeps no suppressed candidates; the worker logs each with its "
            "reason: give its log (--worker-log FILE) to list them."
        )
    return out


def _data_time(v: AlertVersion) -> float | None:
    """The data time a message was made at (its forecast's S arrival minus the warning time
    it gave), or None when it forecasts no site."""
    for site in (v.content or {}).get("sites", []):
        if site.get("s_arrival") and site.get("warning_s") is not None:
            return _t(site["s_arrival"]) - float(site["warning_s"])
    return None


def replay_report(
    alerts: Iterable[Alert], since: datetime, suppressed: Sequence[Suppressed] = ()
) -> dict[str, Any]:
    """A replay's alert timeline, with no truth to hold it against (archived data played by
    ``larza feed --replay`` or ``--sds``): every network alert created since ``since``,
    version by version, each with its estimate; times after the first version's *estimated*
    origin, in data time where the message's forecast gives it (the data a replay carries
    are old: the worker's clock says when it sent, not where in the recording it was);
    on-site alerts and suppressed candidates as in a drill."""
    chosen = [a for a in alerts if a.created_at >= since]
    network = []
    for a in (a for a in chosen if a.kind == "network" and a.versions):
        first = a.versions[0]
        origin = first.origin_time.timestamp() if first.origin_time is not None else None
        rows = []
        for v in a.versions:
            made = _data_time(v)
            rows.append(
                {
                    "version": v.version,
                    "action": v.action,
                    "sent_at": v.sent_at.isoformat(),
                    "data_time": None
                    if made is None
                    else datetime.fromtimestamp(made, UTC).isoformat(),
                    "after_estimated_origin_s": None
                    if made is None or origin is None
                    else round(made - origin, 3),
                    "origin_time": None if v.origin_time is None else v.origin_time.isoformat(),
                    "magnitude": v.magnitude,
                    "latitude": v.latitude,
                    "longitude": v.longitude,
                    "depth_km": v.depth_km,
                    "stations": len((v.content or {}).get("stations", [])),
                    "reason": v.reason,
                    "sites": [
                        {k: s.get(k) for k in ("name", "mmi", "s_arrival", "warning_s", "alert")}
                        for s in (v.content or {}).get("sites", [])
                    ],
                }
            )
        network.append({"id": a.id, "status": a.status, "versions": rows})
    return {
        "replay": True,
        "since": since.isoformat(),
        "alerted": bool(network),
        "network_alerts": network,
        "onsite_alerts": [
            {
                "id": a.id,
                "station": a.versions[0].station,
                "sent_at": a.versions[0].sent_at.isoformat(),
                "mmi": (a.versions[0].content or {}).get("mmi"),
            }
            for a in chosen
            if a.kind == "onsite" and a.versions
        ],
        "suppressed": [{"reason": s.reason, "detail": s.detail} for s in suppressed],
        "suppressed_by_reason": dict(Counter(s.reason for s in suppressed)),
    }


def replay_text(report: dict[str, Any]) -> str:
    """A replay's report as an operator reads it: no truth, so no errors and no ideal."""
    out = [
        f"Replay: the alerts created since {report['since']} (no truth: estimates only)",
    ]
    if not report["alerted"]:
        out.append("")
        out.append("NO NETWORK ALERT was raised.")
    for a in report["network_alerts"]:
        out.append("")
        out.append(f"Network alert {a['id']} ({a['status']}), {len(a['versions'])} versions:")
        for v in a["versions"]:
            when = (
                f"T0'{v['after_estimated_origin_s']:+.1f} s"
                if v["after_estimated_origin_s"] is not None
                else f"sent {v['sent_at']}"
            )
            where = (
                f"{v['latitude']:.3f}N {v['longitude']:.3f}E  depth {_num(v['depth_km'], '.0f')} km"
                if v["latitude"] is not None and v["longitude"] is not None
                else "no location"
            )
            stations = f"  {v['stations']} stations" if v["stations"] else ""
            reason = f"  ({v['reason']})" if v["reason"] else ""
            out.append(
                f"  {when}  v{v['version']} {v['action']:<9} M {_num(v['magnitude'], '.1f'):<4}"
                f" {where}{stations}{reason}"
            )
            for s in v["sites"]:
                out.append(
                    f"      {s['name']}: predicted MMI {_num(s['mmi'], '.1f')}, S at "
                    f"{s['s_arrival']}, warning {_num(s['warning_s'], '.1f')} s"
                    + (", warned" if s["alert"] else "")
                )
    out.append("")
    out.append(
        "T0' is the first version's estimated origin time; times are data times (the "
        "forecast's S arrival minus its warning time)."
    )
    out += _onsite_and_suppressed(report, explain=not report["alerted"])
    return "\n".join(out) + "\n"
