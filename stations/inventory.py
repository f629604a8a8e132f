"""Station metadata from StationXML, read with ObsPy.

``import_stationxml`` upserts networks, stations and channels in the caller's
transaction: a file that fails to parse or validate raises ``InventoryError``
before anything is written, and a failure part-way leaves the caller's
transaction to roll back, so nothing is half-imported.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from obspy import read_inventory
from sqlalchemy import String, func, select
from sqlalchemy.orm import Session

from stations.errors import InventoryError
from stations.models import Channel, ChannelKind, InventoryDocument, Network, Station

__all__ = [
    "RATE_MAX",
    "RATE_MIN",
    "ImportSummary",
    "channel_kind",
    "current_inventory",
    "default_inventory_path",
    "import_stationxml",
    "import_stationxml_bytes",
    "parse_stationxml",
    "xml_encoding",
]

_SEISMOMETER_CODES = frozenset("HLM")  # SEED instrument codes: high/low gain seismometer
_ACCELEROMETER_CODES = frozenset("NG")  # accelerometer (and gravimeter)

log = logging.getLogger(__name__)

RATE_MIN = 1e-6
"""Slowest sampling rate imported (a sample every 11.6 days), in samples per second."""
RATE_MAX = 1e6
"""Fastest sampling rate imported."""

# FDSN source identifiers, without the dash (Larza's API paths, SeedLink v3 and the SDS
# archive's file names carry letters and digits only): upper case, at most 8 characters.
_NETWORK_CODE = re.compile(r"[A-Z0-9]{1,8}")
_STATION_CODE = _NETWORK_CODE
_LOCATION_CODE = re.compile(r"[A-Z0-9]{0,8}")
_CHANNEL_CODE = re.compile(r"[A-Z0-9]{3}")  # band, instrument, orientation (SEED)
_MESSAGE_MAX = 300


@dataclass(frozen=True)
class ImportSummary:
    source: str
    networks: int
    stations: int
    channels: int
    station_ids: tuple[str, ...] = ()
    """``NET.STA`` of each station imported, in document order."""


def default_inventory_path() -> Path:
    """The StationXML of TJ.SAREZ, TJ.MURGH and TJ.MANEM that ships with Larza."""
    return Path(str(resources.files("stations") / "data" / "default_inventory.xml"))


def channel_kind(code: str) -> ChannelKind:
    """Seismometer, accelerometer or state of health, from the SEED instrument code.

    ``M`` is mass position when the band is ``V``/``U``/``L``... in practice mass
    positions are sent as ``VM?`` / ``LM?``, so ``M`` with a slow band is SOH.
    """
    if len(code) != 3:
        raise InventoryError(code, f"channel code must have 3 characters, got {code!r}")
    band, instrument = code[0], code[1]
    if instrument == "M" and band in "VULR":
        return ChannelKind.SOH
    if instrument in _SEISMOMETER_CODES:
        return ChannelKind.SEISMOMETER
    if instrument in _ACCELEROMETER_CODES:
        return ChannelKind.ACCELEROMETER
    return ChannelKind.SOH


def parse_stationxml(data: bytes, source: str) -> Any:
    """Parse StationXML bytes with ObsPy; any failure is an ``InventoryError`` naming ``source``
    and, where the StationXML schema can tell, the element and line at fault."""
    if not data.strip():
        raise InventoryError(source, "the file is empty")
    try:
        inventory = read_inventory(io.BytesIO(data), format="STATIONXML")
    except Exception as e:  # ObsPy raises many unrelated types for bad XML
        why = _schema_error(data) or _first_warning(data) or f"{type(e).__name__}: {e}"
        raise InventoryError(source, f"not valid StationXML: {_one_line(why)}") from e
    if not inventory.networks:
        raise InventoryError(source, "the StationXML holds no network")
    return inventory


def _one_line(text: str) -> str:
    text = re.sub(r"\{[^}]*\}", "", " ".join(text.split()))  # no namespaces, one line
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 3] + "..."


def _first_warning(data: bytes) -> str | None:
    """What ObsPy warned of while failing to read ``data`` (``Tag 'Latitude' has a value of
    NaN``, say). Read again to hear it: recording warnings swaps the process's warning
    state, which concurrent readers of documents that parse must not see."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the failure is known already: only its warnings are wanted here
        with contextlib.suppress(Exception):
            read_inventory(io.BytesIO(data), format="STATIONXML")
    return str(caught[0].message) if caught else None


def _schema_error(data: bytes) -> str | None:
    """The first error of the document against its StationXML schema version (which
    names the element and line), or None when the schema finds none or cannot be used."""
    from obspy.io.stationxml.core import validate_stationxml

    try:
        valid, errors = validate_stationxml(io.BytesIO(data))
    except Exception:  # an unknown schema version, say: ObsPy's own message is all there is
        return None
    if valid or not errors:
        return None
    first = next(iter(errors))
    line = getattr(first, "line", None)
    message = str(getattr(first, "message", first))
    return f"line {line}: {message}" if line else message


_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\x00<\x00?", "utf-16-be", "UTF-16BE"),  # no byte order mark: the first "<?"
    (b"<\x00?\x00", "utf-16-le", "UTF-16LE"),
)
_DECLARED = re.compile(r"""<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]{0,39})["']""")


def xml_encoding(data: bytes) -> str:
    """The encoding of an XML document, as its parser finds it (XML 1.0, appendix F): the
    declared one, else the byte order mark's, else UTF-8."""
    codec, found = "latin-1", "UTF-8"  # the declaration itself is ASCII
    for mark, mark_codec, name in _BOMS:
        if data.startswith(mark):
            codec, found = mark_codec, name
            break
    head = data[:400].decode(codec, errors="ignore").lstrip("\ufeff")
    declared = _DECLARED.match(head)
    return declared.group(1) if declared else found


def import_stationxml(
    session: Session, path: Path, *, now: datetime | None = None
) -> ImportSummary:
    """Import (insert or update) every network, station and channel of a StationXML file.

    Of several epochs of one station or channel, the one starting last is kept.
    Flushes, never commits.
    """
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InventoryError(source, f"cannot read the file: {e.strerror or e}") from e
    return _import(session, data, source=source, name=path.name, now=now, api_key_id=None)


def import_stationxml_bytes(
    session: Session,
    data: bytes,
    *,
    name: str,
    api_key_id: int | None = None,
    now: datetime | None = None,
) -> ImportSummary:
    """:func:`import_stationxml` of a document received whole (an upload) from the holder of
    API key ``api_key_id``. ``name`` stands for the file name: errors name it, and the
    document is kept under it (the newest document of each name is the one re-exported)."""
    return _import(session, data, source=name, name=name, now=now, api_key_id=api_key_id)


def _import(
    session: Session,
    data: bytes,
    *,
    source: str,
    name: str,
    now: datetime | None,
    api_key_id: int | None,
) -> ImportSummary:
    inventory = parse_stationxml(data, source)
    _check(inventory, source)
    document = InventoryDocument(
        source=name,
        imported_at=now or datetime.now(UTC),
        content=data,
        encoding=xml_encoding(data),
        api_key_id=api_key_id,
    )
    session.add(document)
    session.flush()
    n_sta = n_cha = 0
    station_ids: list[str] = []
    for net in inventory.networks:
        network = _upsert_network(session, net.code, net.description)
        for sta in _latest_epochs(net.stations):
            station = _upsert_station(session, network, sta)
            n_sta += 1
            station_ids.append(f"{network.code}.{station.code}")
            for cha in _latest_epochs(sta.channels, key=lambda c: (c.location_code, c.code)):
                _upsert_channel(session, station, cha, document.id)
                n_cha += 1
    session.flush()
    return ImportSummary(source, len(inventory.networks), n_sta, n_cha, tuple(station_ids))


def _check(inventory: Any, source: str) -> None:
    """Refuse, before anything is written, what Larza cannot use: codes outside the FDSN's
    letters and digits, coordinates and rates out of range, numbers that are not finite,
    text longer than its column (PostgreSQL would refuse it part-way; SQLite would keep it).
    """
    for net in inventory.networks:
        _code(source, "network code", net.code, _NETWORK_CODE, "", "1 to 8")
        _fits(source, f"description of {net.code}", net.description, Network, "description")
        for sta in net.stations:
            _code(source, "station code", sta.code, _STATION_CODE, net.code, "1 to 8")
            name = f"{net.code}.{sta.code}"
            _number(source, name, "Latitude", sta.latitude, -90.0, 90.0)
            _number(source, name, "Longitude", sta.longitude, -180.0, 180.0)
            if sta.elevation is not None:
                _number(source, name, "Elevation", sta.elevation, -math.inf, math.inf)
            site = sta.site.name if sta.site is not None else None
            _fits(source, f"site name of {name}", site, Station, "site_name")
            for cha in sta.channels:
                _check_channel(source, name, cha)


def _check_channel(source: str, station: str, cha: Any) -> None:
    _code(source, "location code", cha.location_code, _LOCATION_CODE, station, "0 to 8")
    _code(source, "channel code", cha.code, _CHANNEL_CODE, station, "3")
    stream = f"{station}.{cha.location_code}.{cha.code}"
    _number(source, stream, "SampleRate", cha.sample_rate, RATE_MIN, RATE_MAX, " samples/s")
    for element, value in (("Azimuth", cha.azimuth), ("Dip", cha.dip)):
        if value is not None:
            _number(source, stream, element, value, -math.inf, math.inf)
    sensitivity = cha.response.instrument_sensitivity if cha.response else None
    if sensitivity is not None and sensitivity.value is not None:
        element = "InstrumentSensitivity Value"
        _number(source, stream, element, sensitivity.value, -math.inf, math.inf)
    unit = None if sensitivity is None else sensitivity.input_units
    _fits(source, f"unit of {stream}", unit, Channel, "sensitivity_unit")


def _code(
    source: str, what: str, code: str | None, pattern: re.Pattern[str], within: str, length: str
) -> None:
    if code is None or not pattern.fullmatch(code):
        where = f" in {within}" if within else ""
        raise InventoryError(
            source,
            f"{what} {(code or '')[:60]!r}{where} is not {length} upper-case letters A-Z or "
            "digits (FDSN source identifiers)",
        )


def _number(
    source: str, name: str, element: str, value: Any, low: float, high: float, unit: str = ""
) -> None:
    """``value`` of ``element`` must be a finite number within ``[low, high]``."""
    if value is None:
        raise InventoryError(source, f"{name}: {element} is missing or not a number")
    number = float(value)
    if not math.isfinite(number):
        raise InventoryError(source, f"{name}: {element} {number:g} is not a finite number")
    if not low <= number <= high:
        raise InventoryError(
            source, f"{name}: {element} {number:g} is outside {low:g} to {high:g}{unit}"
        )


def _fits(source: str, what: str, value: str | None, table: Any, column: str) -> None:
    kind = table.__table__.c[column].type
    length = kind.length if isinstance(kind, String) else None
    if value is not None and length is not None and len(value) > length:
        raise InventoryError(source, f"{what} {value[:60]!r} is longer than {length} characters")


def _latest_epochs(items: list[Any], key: Any = None) -> list[Any]:
    key = key or (lambda item: item.code)
    latest: dict[Any, Any] = {}
    for item in items:
        k = key(item)
        start = item.start_date.timestamp if item.start_date is not None else float("-inf")
        prev = latest.get(k)
        if prev is None or start >= (
            prev.start_date.timestamp if prev.start_date is not None else float("-inf")
        ):
            latest[k] = item
    return list(latest.values())


def _to_datetime(value: Any) -> datetime | None:
    return None if value is None else value.datetime.replace(tzinfo=UTC)


def _upsert_network(session: Session, code: str, description: str | None) -> Network:
    network = session.scalars(select(Network).where(Network.code == code)).one_or_none()
    if network is None:
        network = Network(code=code, description=description)
        session.add(network)
    else:
        network.description = description
    session.flush()
    return network


def _upsert_station(session: Session, network: Network, sta: Any) -> Station:
    station = session.scalars(
        select(Station).where(Station.network_id == network.id, Station.code == sta.code)
    ).one_or_none()
    if station is None:
        station = Station(network_id=network.id, code=sta.code)
        session.add(station)
    station.latitude = float(sta.latitude)
    station.longitude = float(sta.longitude)
    station.elevation = float(sta.elevation or 0.0)
    station.site_name = sta.site.name if sta.site is not None else None
    station.start_date = _to_datetime(sta.start_date)
    station.end_date = _to_datetime(sta.end_date)
    session.flush()
    return station


def _upsert_channel(session: Session, station: Station, cha: Any, inventory_id: int) -> Channel:
    channel = session.scalars(
        select(Channel).where(
            Channel.station_id == station.id,
            Channel.location == cha.location_code,
            Channel.code == cha.code,
        )
    ).one_or_none()
    if channel is None:
        channel = Channel(station_id=station.id, location=cha.location_code, code=cha.code)
        session.add(channel)
    channel.kind = channel_kind(cha.code)
    channel.sampling_rate = float(cha.sample_rate)
    channel.azimuth = None if cha.azimuth is None else float(cha.azimuth)
    channel.dip = None if cha.dip is None else float(cha.dip)
    sensitivity = cha.response.instrument_sensitivity if cha.response is not None else None
    value = None if sensitivity is None else sensitivity.value
    channel.sensitivity = None if value is None or value == 0 else float(value)
    channel.sensitivity_unit = None if sensitivity is None else sensitivity.input_units
    channel.inventory_id = inventory_id
    return channel


def current_inventory(session: Session) -> Any:
    """The ObsPy ``Inventory`` of every StationXML file as last imported (one per file name).

    A stored document that no longer parses (kept by an older Larza) is left out and logged:
    the others are still served."""
    from obspy import Inventory

    latest = (
        select(InventoryDocument.source, func.max(InventoryDocument.id).label("id"))
        .group_by(InventoryDocument.source)
        .subquery()
    )
    docs = session.scalars(
        select(InventoryDocument).join(latest, InventoryDocument.id == latest.c.id)
    ).all()
    merged = Inventory(networks=[], source="Larza")
    for doc in docs:
        try:
            merged += parse_stationxml(doc.content, doc.source)
        except InventoryError as e:
            log.error("inventory document %d left out: %s", doc.id, e)
    return merged
