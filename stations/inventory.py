"""Station metadata from StationXML, read with ObsPy.

``import_stationxml`` upserts networks, stations and channels in the caller's
transaction: a file that fails to parse or validate raises ``InventoryError``
before anything is written, and a failure part-way leaves the caller's
transaction to roll back, so nothing is half-imported.
"""

from __future__ import annotations

import io
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
    "ImportSummary",
    "channel_kind",
    "current_inventory",
    "default_inventory_path",
    "import_stationxml",
    "import_stationxml_bytes",
    "parse_stationxml",
]

_SEISMOMETER_CODES = frozenset("HLM")  # SEED instrument codes: high/low gain seismometer
_ACCELEROMETER_CODES = frozenset("NG")  # accelerometer (and gravimeter)


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
    """Parse StationXML bytes with ObsPy; any failure is an ``InventoryError`` naming ``source``."""
    if not data.strip():
        raise InventoryError(source, "the file is empty")
    try:
        inventory = read_inventory(io.BytesIO(data), format="STATIONXML")
    except Exception as e:  # ObsPy raises many unrelated types for bad XML
        raise InventoryError(source, f"not valid StationXML: {e}") from e
    if not inventory.networks:
        raise InventoryError(source, "the StationXML holds no network")
    return inventory


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
    _check_lengths(inventory, source)
    document = InventoryDocument(
        source=name,
        imported_at=now or datetime.now(UTC),
        xml=data.decode("utf-8", "replace"),
        api_key_id=api_key_id,
    )
    session.add(document)
    session.flush()
    n_sta = n_cha = 0
    station_ids: list[str] = []
    for net in inventory.networks:
        network = _upsert_network(session, net.code, net.description)
        for sta in _latest_epochs(net.stations):
            station = _upsert_station(session, network, sta, source)
            n_sta += 1
            station_ids.append(f"{network.code}.{station.code}")
            for cha in _latest_epochs(sta.channels, key=lambda c: (c.location_code, c.code)):
                _upsert_channel(session, station, cha, document.id, source)
                n_cha += 1
    session.flush()
    return ImportSummary(source, len(inventory.networks), n_sta, n_cha, tuple(station_ids))


def _check_lengths(inventory: Any, source: str) -> None:
    """Refuse a code or text longer than its column, before anything is written (PostgreSQL
    would refuse it part-way; SQLite would keep it)."""
    for net in inventory.networks:
        _fits(source, "network code", net.code, Network, "code")
        _fits(source, f"description of {net.code}", net.description, Network, "description")
        for sta in net.stations:
            _fits(source, f"station code in {net.code}", sta.code, Station, "code")
            name = f"{net.code}.{sta.code}"
            site = sta.site.name if sta.site is not None else None
            _fits(source, f"site name of {name}", site, Station, "site_name")
            for cha in sta.channels:
                _fits(source, f"location code in {name}", cha.location_code, Channel, "location")
                sensitivity = cha.response.instrument_sensitivity if cha.response else None
                unit = None if sensitivity is None else sensitivity.input_units
                _fits(source, f"unit of {name}.{cha.code}", unit, Channel, "sensitivity_unit")


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


def _upsert_station(session: Session, network: Network, sta: Any, source: str) -> Station:
    if sta.latitude is None or sta.longitude is None:
        raise InventoryError(source, f"station {network.code}.{sta.code} has no coordinates")
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


def _upsert_channel(
    session: Session, station: Station, cha: Any, inventory_id: int, source: str
) -> Channel:
    if not cha.sample_rate or cha.sample_rate <= 0:
        raise InventoryError(
            source, f"channel {station.code}.{cha.location_code}.{cha.code} has no sample rate"
        )
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
    channel.sensitivity = None if sensitivity is None else float(sensitivity.value)
    channel.sensitivity_unit = None if sensitivity is None else sensitivity.input_units
    channel.inventory_id = inventory_id
    return channel


def current_inventory(session: Session) -> Any:
    """The ObsPy ``Inventory`` of every StationXML file as last imported (one per file name)."""
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
        merged += parse_stationxml(doc.xml.encode("utf-8"), doc.source)
    return merged
