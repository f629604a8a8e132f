"""StationXML as operators really have it: what ObsPy reads is imported, whatever its
encoding, and kept byte for byte; what Larza cannot use is refused whole, naming the element."""

from __future__ import annotations

from pathlib import Path

import obspy
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stations.errors import InventoryError
from stations.inventory import (
    current_inventory,
    default_inventory_path,
    import_stationxml,
    import_stationxml_bytes,
)
from stations.models import Channel, ChannelKind, InventoryDocument, Station
from stations.queries import get_station

OBSPY_DATA = Path(obspy.__file__).parent / "io" / "stationxml" / "tests" / "data"
BERKELEY = OBSPY_DATA / "stationxml_BK.CMB.__.LKS.xml"
"""IRIS's StationXML of BK.CMB..LKS: an InstrumentSensitivity without a Value."""

SITE = "Lac de Sarez, près du barrage d'Usoï"  # every character is in Latin-1
CYRILLIC_SITE = "Сарез, у Усойского завала"  # noqa: RUF001


def _document(site: str = SITE, encoding: str = "UTF-8") -> str:
    """The shipped inventory under another network code, with a site name and declaration
    of our choosing."""
    text = default_inventory_path().read_text(encoding="utf-8")
    text = text.replace('code="TJ"', 'code="XX"')
    text = text.replace("Sarez, near the Usoi dam of Lake Sarez", site, 1)
    return text.replace("encoding='UTF-8'", f"encoding='{encoding}'", 1)


def _stations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Station)) or 0


def test_a_sensitivity_without_a_value_is_imported(session: Session) -> None:
    summary = import_stationxml(session, BERKELEY)
    assert (summary.networks, summary.stations, summary.channels) == (1, 1, 1)
    cmb = get_station(session, network="BK", station="CMB")
    (lks,) = cmb.channels
    assert (lks.location, lks.code, lks.sampling_rate) == ("", "LKS", 1.0)
    assert lks.kind is ChannelKind.SOH
    assert lks.sensitivity is None
    assert lks.sensitivity_unit == "C"


@pytest.mark.parametrize(
    ("encoding", "site"),
    [("UTF-16", CYRILLIC_SITE), ("ISO-8859-1", SITE), ("UTF-8", CYRILLIC_SITE)],
)
def test_a_document_is_kept_byte_for_byte_in_its_encoding(
    session: Session, encoding: str, site: str
) -> None:
    data = _document(site, encoding).encode(encoding)
    import_stationxml_bytes(session, data, name="xx.xml")
    document = session.scalars(select(InventoryDocument)).one()
    assert document.content == data
    assert document.encoding == encoding
    assert get_station(session, network="XX", station="SAREZ").site_name == site
    # Read back (as /fdsnws/station does), the text is the text imported.
    inventory = current_inventory(session)
    assert inventory.select(network="XX", station="SAREZ")[0][0].site.name == site


def test_a_utf16_document_leaves_the_others_readable(inventory: Session) -> None:
    data = _document(CYRILLIC_SITE, "UTF-16").encode("utf-16")
    import_stationxml_bytes(inventory, data, name="x")
    merged = current_inventory(inventory)
    assert sorted(net.code for net in merged) == ["TJ", "XX"]


def _bad(replace: str, by: str, count: int = 1) -> bytes:
    text = default_inventory_path().read_text(encoding="utf-8")
    assert replace in text
    return text.replace(replace, by, count).encode()


RATE = "<SampleRate>100.0</SampleRate>"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (_bad(RATE, "<SampleRate>1e-300</SampleRate>"), "TJ.SAREZ..HHZ: SampleRate 1e-300"),
        (_bad(RATE, "<SampleRate>INF</SampleRate>"), "TJ.SAREZ..HHZ: SampleRate inf"),
        (_bad(RATE, "<SampleRate>NaN</SampleRate>"), "SampleRate"),  # ObsPy warns, skips it
        (_bad(RATE, "<SampleRate>0</SampleRate>"), "TJ.SAREZ..HHZ: SampleRate 0"),
        (_bad(RATE, "<SampleRate>-100</SampleRate>"), "TJ.SAREZ..HHZ: SampleRate -100"),
        (_bad(RATE, ""), "TJ.SAREZ..HHZ: SampleRate is missing"),
        (_bad('<Network code="TJ"', '<Network code="../../e"'), "network code '../../e'"),
        (_bad('<Station code="SAREZ"', '<Station code="a/b"'), "station code 'a/b' in TJ"),
        (_bad('<Station code="SAREZ"', '<Station code="sarez"'), "station code 'sarez' in TJ"),
        (_bad('<Channel code="HHZ"', '<Channel code="H/Z"'), "channel code 'H/Z' in TJ.SAREZ"),
        (_bad('<Channel code="HHZ"', '<Channel code="HHZZ"'), "channel code 'HHZZ' in TJ.SAREZ"),
        (
            _bad('locationCode=""', 'locationCode="../"'),
            "location code '../' in TJ.SAREZ",
        ),
        (
            _bad('<Latitude unit="DEGREES">38.27</Latitude>', "<Latitude>91</Latitude>"),
            "Latitude",
        ),
        (
            _bad('<Longitude unit="DEGREES">72.6</Longitude>', "<Longitude>INF</Longitude>"),
            "Longitude",
        ),
        (
            _bad('<Latitude unit="DEGREES">38.27</Latitude>', "<Latitude>NaN</Latitude>"),
            "Latitude",
        ),
        (
            _bad('<Elevation unit="METERS">3300.0</Elevation>', "<Elevation>INF</Elevation>"),
            "TJ.SAREZ: Elevation inf",
        ),
        (
            _bad("<Value>299999999.27771586</Value>", "<Value>NaN</Value>"),
            "TJ.SAREZ..HHZ: InstrumentSensitivity Value",
        ),
    ],
)
def test_what_larza_cannot_use_is_refused_naming_the_element(
    session: Session, data: bytes, named: str
) -> None:
    with pytest.raises(InventoryError) as info, session.begin_nested():
        import_stationxml_bytes(session, data, name="operator.xml")
    message = str(info.value)
    assert message.startswith("operator.xml: "), message
    assert named in message, message
    assert len(message) < 400, message  # one line, never the document
    assert "\n" not in message
    assert _stations(session) == 0
    assert session.scalar(select(func.count()).select_from(InventoryDocument)) == 0


def test_accepted_rates_at_the_ends_of_the_range(session: Session) -> None:
    text = default_inventory_path().read_text(encoding="utf-8")
    text = text.replace(RATE, "<SampleRate>1e-6</SampleRate>", 1)
    text = text.replace(RATE, "<SampleRate>1e6</SampleRate>", 1)
    import_stationxml_bytes(session, text.encode(), name="ends.xml")
    rates = sorted(c.sampling_rate for c in session.scalars(select(Channel)))
    assert (rates[0], rates[-1]) == (1e-6, 1e6)
