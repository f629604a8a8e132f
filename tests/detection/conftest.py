"""Fixtures for the detection tests: a seeded generator and real recordings shipped with ObsPy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import obspy
import pytest

OBSPY_DATA = Path(obspy.__file__).parent / "signal" / "tests" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def real_recordings() -> dict[str, tuple[np.ndarray, float]]:
    """Name -> (samples, sampling rate) of local-event recordings that ship with ObsPy."""
    out: dict[str, tuple[np.ndarray, float]] = {}
    for tr in obspy.read():  # the default stream: a local event at BW.RJOB, 100 Hz
        out[f"default-{tr.stats.channel}"] = (tr.data.astype(np.float64), tr.stats.sampling_rate)
    manz = np.loadtxt(OBSPY_DATA / "manz_waldk.a01.gz", dtype=np.float64)
    out["manz_waldk"] = (manz, 200.0)  # ObsPy's own trigger test data
    for name in ("BW.UH2._.SHZ.D.2010.147.cut.slist.gz", "CRLZ.HHZ.10.NZ.SAC"):
        tr = obspy.read(str(OBSPY_DATA / name))[0]
        out[name.split(".")[1]] = (tr.data.astype(np.float64), tr.stats.sampling_rate)
    return out


@pytest.fixture(scope="session")
def recordings() -> dict[str, tuple[np.ndarray, float]]:
    return real_recordings()
