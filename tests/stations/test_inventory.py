"""StationXML import: the default inventory, updates, and files that must be refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stations.errors import InventoryError
from stations.inventory import channel_kind, default_inventory_path, import_stationxml
from stations.models import Channel, ChannelKind, Station
from stations.queries import get_station, list_stations


def test_default_inventory_has_the_three_pamir_stations(inventory: Session) -> None:
    found = {f"{s.network.code}.{s.code}": s for s in list_stations(inventory)}
    assert sorted(found) == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"]
    sarez = found["TJ.SAREZ"]
    assert (sarez.latitude, sarez.longitude, sarez.elevation) == (38.27, 72.60, 3300.0)
    codes = sorted(c.code for c in sarez.channels)
    assert codes == ["HHE", "HHN", "HHZ", "HNE", "HNN", "HNZ"]
    kinds = {c.code: c.kind for c in sarez.channels}
    assert kinds["HHZ"] is ChannelKind.SEISMOMETER
    assert kinds["HNZ"] is ChannelKind.ACCELEROMETER
    hhz = next(c for c in sarez.channels if c.code == "HHZ")
    assert hhz.sensitivity == pytest.approx(3.0e8, rel=1e-6)
    assert hhz.sensitivity_unit == "M/S"


def test_reimport_updates_in_place(inventory: Session) -> None:
    summary = import_stationxml(inventory, default_inventory_path())
    assert (summary.networks, summary.stations, summary.channels) == (1, 3, 18)
    assert inventory.scalar(select(func.count()).select_from(Station)) == 3
    assert inventory.scalar(select(func.count()).select_from(Channel)) == 18


def test_a_moved_station_is_updated(inventory: Session, tmp_path: Path) -> None:
    moved = tmp_path / "moved.xml"
    text = default_inventory_path().read_text()
    moved.write_text(
        text.replace(
            '<Latitude unit="DEGREES">38.27</Latitude>',
            '<Latitude unit="DEGREES">38.30</Latitude>',
            1,
        )
    )
    import_stationxml(inventory, moved)
    assert get_station(inventory, network="TJ", station="SAREZ").latitude == 38.30


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"<html><body>not station xml</body></html>", "not valid StationXML"),
        (b"<?xml version='1.0'?><FDSNStationXML", "not valid StationXML"),
    ],
)
def test_malformed_file_names_itself(
    session: Session, tmp_path: Path, content: bytes, reason: str
) -> None:
    bad = tmp_path / "broken-inventory.xml"
    bad.write_bytes(content)
    with pytest.raises(InventoryError, match=reason) as info:
        import_stationxml(session, bad)
    assert "broken-inventory.xml" in str(info.value)
    assert session.scalar(select(func.count()).select_from(Station)) == 0


def test_missing_file_is_a_clear_error(session: Session, tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read the file"):
        import_stationxml(session, tmp_path / "nowhere.xml")


def test_a_bad_channel_leaves_nothing(session: Session, tmp_path: Path) -> None:
    # The third station's last channel has no sample rate: the document is checked whole
    # before anything is written.
    text = default_inventory_path().read_text()
    head, _sep, tail = text.rpartition("<SampleRate>100.0</SampleRate>")
    bad = tmp_path / "half.xml"
    bad.write_text(head + "<SampleRate>0.0</SampleRate>" + tail)
    with pytest.raises(InventoryError, match=r"MANEM\.\.HNE: SampleRate 0 is outside"):
        import_stationxml(session, bad)
    assert session.scalar(select(func.count()).select_from(Station)) == 0


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("HHZ", ChannelKind.SEISMOMETER),
        ("BHN", ChannelKind.SEISMOMETER),
        ("HNE", ChannelKind.ACCELEROMETER),
        ("VM1", ChannelKind.SOH),
        ("LCE", ChannelKind.SOH),
        ("GST", ChannelKind.SOH),
    ],
)
def test_channel_kind_from_seed_codes(code: str, kind: ChannelKind) -> None:
    assert channel_kind(code) is kind
