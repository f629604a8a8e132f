"""State-of-health channels of the synthetic source: configured per station, plausible, slow."""

from __future__ import annotations

import io

import numpy as np
import obspy
import pytest

from ingest.feed import ChannelSpec, SohSpec, StationSpec, SyntheticSource, centaur_soh
from stations.errors import ConfigurationError

from ..conftest import T0

HHZ = (ChannelSpec("", "HHZ", 100.0),)


def make(soh: tuple[SohSpec, ...], span: float = 300.0, step: float = 1.0) -> obspy.Stream:
    station = StationSpec("XX", "SOH", 38.0, 72.0, 1000.0, HHZ, soh=soh)
    src = SyntheticSource([station], seed=9, start=T0)
    records: list[bytes] = []
    t = T0
    while t < T0 + span:
        t += step
        records += src.records_until(t)
    return obspy.read(io.BytesIO(b"".join(records)))


def test_centaur_channels_values_and_rates() -> None:
    st = make(centaur_soh())
    assert st.get_gaps() == []
    st.merge()
    data = {tr.stats.channel: tr.data for tr in st}
    assert set(data) == {"HHZ", "VEI", "VKI", "VM1", "VM2", "VM3", "GNS", "GST", "LCQ", "LCE"}
    for tr in st.select(channel="[VGL]*"):
        assert tr.stats.sampling_rate == 1.0
        assert tr.stats.mseed.encoding == "STEIM2"
        assert tr.stats.npts >= 296  # the newest seconds wait for the 4 s flush
    assert 11_000 < data["VEI"].min() <= data["VEI"].max() < 14_000  # mV
    assert 10_000 < data["VKI"].min() <= data["VKI"].max() < 26_000  # m°C
    for cha in ("VEI", "VKI", "VM1"):
        assert np.abs(np.diff(data[cha])).max() < 300  # slowly varying
        assert len(np.unique(data[cha])) > 3  # but not flat
    assert len({int(data[c].mean()) // 10_000 for c in ("VM1", "VM2", "VM3")}) > 1
    assert set(data["GST"]) == {2}
    assert set(data["LCQ"]) == {100}
    assert 7 <= data["GNS"].min() <= data["GNS"].max() <= 11
    assert np.abs(data["LCE"]).max() <= 1


def test_slow_int32_channels() -> None:
    soh = (SohSpec("VEI", "supply_voltage", 0.1, "", "INT32"), SohSpec("GST", "gps_status", 0.1))
    st = make(soh, span=200.0, step=7.0).select(channel="[VG]*")
    assert {tr.stats.mseed.encoding for tr in st.select(channel="VEI")} == {"INT32"}
    assert st.get_gaps() == []
    st.merge()
    assert [tr.stats.npts for tr in st] == [20, 20]  # 0..190 s; 200 s waits for the flush
    assert {tr.stats.sampling_rate for tr in st} == {0.1}


def test_soh_values_do_not_depend_on_call_pattern() -> None:
    a = make(centaur_soh(), span=120.0, step=0.5).merge()
    b = make(centaur_soh(), span=120.0, step=40.0).merge()
    for tr in a.select(channel="[VGL]*"):
        other = b.select(id=tr.id)[0]
        n = min(tr.stats.npts, other.stats.npts)
        assert n > 80
        np.testing.assert_array_equal(tr.data[:n], other.data[:n])


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda: SohSpec("VEI", "voltage"),  # type: ignore[arg-type]
        lambda: SohSpec("VEI", "supply_voltage", 0.0),
        lambda: SohSpec("VE", "supply_voltage"),
        lambda: SohSpec("VEI", "supply_voltage", encoding="FLOAT64"),  # type: ignore[arg-type]
        lambda: StationSpec("XX", "S", 0, 0, 0, HHZ, soh=(SohSpec("HHZ", "temperature"),)),
    ],
)
def test_bad_soh_configuration_is_refused(make_bad: object) -> None:
    with pytest.raises(ConfigurationError):
        make_bad()  # type: ignore[operator]
