"""Wood-Anderson amplitudes and ground motion from counts and a StationXML response (ObsPy),
checked against closed forms: a sine of known ground motion, passed through the channel's
own response to counts, comes back as the analytic Wood-Anderson amplitude and peaks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from obspy import Inventory, Trace, UTCDateTime, read_inventory

from ingest.quakes.amplitudes import wood_anderson_amplitude_mm
from ingest.quakes.motion import ground_motion
from ingest.quakes.sensors import choose_sensor, is_clipped
from stations.inventory import default_inventory_path

START = UTCDateTime(2024, 6, 1)
FS = 100.0


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return read_inventory(str(default_inventory_path()))


def counts_of(inventory: Inventory, channel: str, ground: np.ndarray, output: str = "VEL") -> Trace:
    """What the channel records of a ground motion (``output``: the motion's kind)."""
    response = inventory.select(station="SAREZ", channel=channel)[0][0][0].response
    nfft = 2 * ground.size
    r, _ = response.get_evalresp_response(1 / FS, nfft, output=output)
    data = np.fft.irfft(np.fft.rfft(ground, nfft) * r, nfft)[: ground.size]
    header = {
        "network": "TJ",
        "station": "SAREZ",
        "channel": channel,
        "sampling_rate": FS,
        "starttime": START,
    }
    return Trace(data, header=header)


def wood_anderson_gain(freq: float, gain: float = 2080.0) -> float:
    """|WA displacement / ground velocity| at ``freq`` (ObsPy's poles, one zero)."""
    s = 2j * math.pi * freq
    return abs(gain * s / ((s - (-6.283 + 4.7124j)) * (s - (-6.283 - 4.7124j))))


def sine(freq: float, amplitude: float, seconds: float = 120.0) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    ramp = np.minimum(t / 10.0, 1.0) * np.minimum((seconds - t) / 10.0, 1.0)
    return amplitude * np.sin(2 * math.pi * freq * t) * ramp


@pytest.mark.parametrize("channel", ["HHN", "HNE"])
@pytest.mark.parametrize("freq", [0.5, 2.0, 8.0])
def test_wood_anderson_amplitude_of_a_sine_is_the_closed_form(
    inventory: Inventory, channel: str, freq: float
) -> None:
    velocity = sine(freq, 1e-5)  # m/s
    trace = counts_of(inventory, channel, velocity)
    amp = wood_anderson_amplitude_mm(trace, inventory, START + 30, START + 90)
    assert amp == pytest.approx(1e-5 * wood_anderson_gain(freq) * 1000, rel=5e-3)


def test_the_gain_2800_reads_0_13_magnitudes_higher(inventory: Inventory) -> None:
    trace = counts_of(inventory, "HHE", sine(2.0, 1e-5))
    low = wood_anderson_amplitude_mm(trace, inventory, START + 30, START + 90)
    response = inventory.select(station="SAREZ", channel="HHE")[0][0][0].response
    high = wood_anderson_amplitude_mm(trace, response, START + 30, START + 90, gain=2800.0)
    assert math.log10(high / low) == pytest.approx(math.log10(2800 / 2080), abs=1e-6)
    assert round(math.log10(2800 / 2080), 2) == 0.13


def test_a_trace_without_a_response_is_named(inventory: Inventory) -> None:
    trace = counts_of(inventory, "HHE", sine(2.0, 1e-5))
    trace.stats.station = "NOWHR"
    with pytest.raises(ValueError, match=r"TJ\.NOWHR\.\.HHE: cannot remove the instrument"):
        wood_anderson_amplitude_mm(trace, inventory)


def test_ground_motion_of_the_accelerometer_and_the_seismometer_agree(
    inventory: Inventory,
) -> None:
    freq, a0 = 2.0, 0.3  # 0.3 m/s^2 at 2 Hz
    acc = sine(freq, a0)
    vel = sine(freq, a0 / (2 * math.pi * freq))  # the same motion as velocity (phase apart)
    by_accelerometer = ground_motion(
        [counts_of(inventory, c, acc, "ACC") for c in ("HNN", "HNE", "HNZ")],
        inventory,
        START + 30,
        START + 90,
    )
    by_seismometer = ground_motion(
        [counts_of(inventory, c, vel) for c in ("HHN", "HHE", "HHZ")],
        inventory,
        START + 30,
        START + 90,
    )
    for motion in (by_accelerometer, by_seismometer):
        assert motion.pga_cms2 == pytest.approx(100 * a0, rel=0.01)
        assert motion.pgv_cms == pytest.approx(100 * a0 / (2 * math.pi * freq), rel=0.01)
    assert by_accelerometer.mmi == pytest.approx(by_seismometer.mmi, abs=0.02)
    assert by_accelerometer.vertical is not None


def test_a_clipped_seismometer_gives_way_to_the_accelerometer(inventory: Inventory) -> None:
    have = ["HHZ", "HHN", "HHE", "HNZ", "HNN", "HNE"]
    assert choose_sensor(have) == ("HHE", "HHN")
    assert choose_sensor(have, clipped=["HHZ"]) == ("HNE", "HNN")
    assert choose_sensor(["HHZ", "HHN", "HHE"], clipped=["HHN"]) == ()
    assert choose_sensor(["HN1", "HN2", "HNZ"]) == ("HN1", "HN2")
    trace = counts_of(inventory, "HHN", sine(2.0, 1e-3))
    level = float(np.abs(trace.data).max())
    assert is_clipped(trace, level)
    assert not is_clipped(trace, 2 * level)
    assert not is_clipped(trace, None)
