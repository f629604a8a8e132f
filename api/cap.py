"""Alerts as CAP 1.2 (Common Alerting Protocol, OASIS Standard 2010), which civil-protection
systems read.

One document a version: ``msgType`` Alert for the first, Update for an update and for the
end (``responseType`` AllClear), Cancel for a false alarm; ``references`` names every
earlier message of the alert (``sender,identifier,sent``). Times are written as the schema's
pattern wants them: seconds, with a numeric offset (``+00:00``), never ``Z``. Each target
site is an ``area`` (a circle of ``site_radius_km`` around it) with its predicted intensity
and warning time as parameters; the epicentre is an area too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from stations.models import Alert, AlertVersion

__all__ = ["CAP_NS", "cap_document"]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SENDER = "larza@geophysics.tj"
EXPIRES_S = 600
"""An alert message expires ten minutes after it was sent (the shaking is long over)."""
_MSG = {"created": "Alert", "updated": "Update", "ended": "Update", "cancelled": "Cancel"}


def _time(t: datetime) -> str:
    return t.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _identifier(v: AlertVersion) -> str:
    return f"larza.alert.{v.alert_id}.{v.version}"


def _severity(mmi: float | None) -> str:
    if mmi is None:
        return "Unknown"
    if mmi >= 8:
        return "Extreme"
    if mmi >= 6:
        return "Severe"
    if mmi >= 4:
        return "Moderate"
    return "Minor"


def cap_document(alert: Alert, version: AlertVersion, *, status: str | None = None) -> bytes:
    """One version of an alert as a CAP 1.2 document (UTF-8 bytes with declaration).

    ``status`` is CAP's: by default ``Exercise`` for a message of a drill (a worker with
    ``[alerts] exercise = true`` marks its messages ``content["exercise"]``), else
    ``Actual``."""
    if status is None:
        status = "Exercise" if (version.content or {}).get("exercise") is True else "Actual"
    ET.register_namespace("", CAP_NS)

    def sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
        if text is not None:
            element.text = text
        return element

    root = ET.Element(f"{{{CAP_NS}}}alert")
    sub(root, "identifier", _identifier(version))
    sub(root, "sender", SENDER)
    sub(root, "sent", _time(version.sent_at))
    sub(root, "status", status)
    sub(root, "msgType", _MSG[version.action])
    sub(root, "scope", "Public")
    earlier = [v for v in alert.versions if v.version < version.version]
    if version.action == "ended":
        sub(root, "note", "the alert has ended: the shaking is over")
    if version.action == "cancelled":
        sub(root, "note", f"cancelled: {version.reason or 'false alarm'}")
    if earlier:
        sub(
            root,
            "references",
            " ".join(f"{SENDER},{_identifier(v)},{_time(v.sent_at)}" for v in earlier),
        )
    content: dict[str, Any] = version.content or {}
    sites: list[dict[str, Any]] = list(content.get("sites", []))
    peak = max((float(s["mmi"]) for s in sites if s.get("mmi") is not None), default=None)
    if peak is None and content.get("mmi") is not None:
        peak = float(content["mmi"])
    info = sub(root, "info")
    sub(info, "language", "en-US")
    sub(info, "category", "Geo")
    sub(info, "event", "Earthquake")
    response = {"ended": "AllClear", "cancelled": "None"}.get(version.action, "Shelter")
    sub(info, "responseType", response)
    sub(info, "urgency", "Immediate" if version.action in ("created", "updated") else "Past")
    sub(info, "severity", _severity(peak))
    sub(info, "certainty", "Observed" if alert.kind == "onsite" else "Likely")
    if version.origin_time is not None:
        sub(info, "onset", _time(version.origin_time))
    sub(info, "expires", _time(version.sent_at + timedelta(seconds=EXPIRES_S)))
    sub(info, "senderName", "Larza, Geophysical Service of Tajikistan")
    sub(info, "headline", _headline(alert, version))
    sub(info, "description", _description(alert, version, sites))
    if version.action in ("created", "updated"):
        sub(info, "instruction", "Drop, cover and hold on until the shaking stops.")
    for name, value in _parameters(alert, version, peak):
        parameter = sub(info, "parameter")
        sub(parameter, "valueName", name)
        sub(parameter, "value", value)
    if version.latitude is not None and version.longitude is not None:
        area = sub(info, "area")
        sub(area, "areaDesc", "epicentre (estimated)")
        radius = float(content.get("epicentre_radius_km", 10.0))
        sub(area, "circle", f"{version.latitude:.4f},{version.longitude:.4f} {radius:.1f}")
    for site in sites:
        area = sub(info, "area")
        sub(area, "areaDesc", str(site["name"]))
        radius = float(content.get("site_radius_km", 5.0))
        lat, lon = float(site["latitude"]), float(site["longitude"])
        sub(area, "circle", f"{lat:.4f},{lon:.4f} {radius:.1f}")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _headline(alert: Alert, version: AlertVersion) -> str:
    what = {"created": "", "updated": "updated: ", "cancelled": "CANCELLED: ", "ended": "ended: "}
    if alert.kind == "onsite":
        return f"{what[version.action]}strong shaking at station {version.station}"
    mag = f"M {version.magnitude:.1f} " if version.magnitude is not None else ""
    return f"{what[version.action]}earthquake {mag}early warning"


def _description(alert: Alert, version: AlertVersion, sites: list[dict[str, Any]]) -> str:
    lines = [_headline(alert, version) + "."]
    if version.magnitude is not None:
        sigma = f" +/- {version.magnitude_sigma:.1f}" if version.magnitude_sigma else ""
        lines.append(f"Magnitude {version.magnitude:.1f}{sigma} (early estimate, may grow).")
    if version.depth_km is not None:
        lines.append(f"Depth {version.depth_km:.0f} km.")
    for site in sites:
        warning = site.get("warning_s")
        told = f", S waves in {warning:.0f} s" if warning is not None else ""
        lines.append(f"{site['name']}: intensity {float(site['mmi']):.1f} expected{told}.")
    if version.reason:
        lines.append(version.reason)
    return " ".join(lines)


def _parameters(alert: Alert, version: AlertVersion, peak: float | None) -> list[tuple[str, str]]:
    out = [("alert_id", str(alert.id)), ("version", str(version.version))]
    if version.magnitude is not None:
        out.append(("magnitude", f"{version.magnitude:.1f}"))
    if version.depth_km is not None:
        out.append(("depth_km", f"{version.depth_km:.1f}"))
    if peak is not None:
        out.append(("mmi_max", f"{peak:.1f}"))
    if version.station:
        out.append(("station", version.station))
    return out
