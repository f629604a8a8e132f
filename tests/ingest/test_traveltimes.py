"""Travel-time tables built with TauP from the configured model, cached, checked against TauP.

Tolerance: the tables read each phase's sampled travel-time curve the way TauP's first
estimate does and skip its ray shooting; TauP samples its curves so that reading between
samples errs by at most ``max_interp_error`` (0.05 s by default, a few hundredths in practice),
and bilinear interpolation on the 1 km x 2 km grid adds at most a hundredth or two except
where two branches cross. 0.05 s is below any pick's uncertainty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from obspy.taup import TauPyModel

from detection import TravelTimeTable
from ingest.config import load_config
from ingest.quakes import traveltimes
from ingest.quakes.model import travel_time_table, velocity_model
from ingest.quakes.traveltimes import TableGrid, load_table
from ingest.quakes.velocity import Layer, layered_model, named_model, read_model_file
from stations.errors import ConfigurationError

from ..pamir import KM_PER_DEGREE, P_PHASES, S_PHASES

TOLERANCE_S = 0.05


@pytest.mark.parametrize("phase", ["P", "S"])
def test_table_matches_taup_at_random_points(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel, phase: str
) -> None:
    rng = np.random.default_rng(14)
    names = P_PHASES if phase == "P" else S_PHASES
    worst = 0.0
    for k in range(60):
        near = k % 3 == 0  # a third of the points within 20 km of the source, where it curves
        x = rng.uniform(0, 20) if near else rng.uniform(0, 1000)
        z = rng.uniform(0, 20) if k % 2 else rng.uniform(0, 300)
        expected = min(a.time for a in pamir_taup.get_travel_times(z, x / KM_PER_DEGREE, names))
        got = float(pamir_table.time(phase == "S", x, z))
        worst = max(worst, abs(got - expected))
    assert worst < TOLERANCE_S


def test_the_default_model_is_the_thick_pamir_crust_over_iasp91() -> None:
    model = named_model("pamir")
    assert model.rows[0][:3] == (0.0, 5.80, 3.36)
    moho = dict(model.names)["mantle"]
    assert model.rows[moho][0] == 70.0
    assert model.rows[moho][1] == 6.50
    assert model.rows[moho + 1][0] == 70.0
    assert model.rows[moho + 1][1] > 8.0
    assert model.rows[-1][0] == 6371.0
    assert {"outer-core", "inner-core"} <= dict(model.names).keys()


def test_a_thicker_crust_is_slower_than_iasp91_for_a_deep_source(table_cache: Path) -> None:
    grid = TableGrid(
        max_distance_km=200.0, max_depth_km=200.0, distance_step_km=5.0, depth_step_km=10.0
    )
    pamir = load_table(named_model("pamir"), grid, table_cache)
    iasp91 = load_table(named_model("iasp91"), grid, table_cache)
    # 35 more km of crust at 5.8-6.5 instead of 8 km/s: about a second later for P from 150 km
    late = float(pamir.time(False, 50.0, 150.0) - iasp91.time(False, 50.0, 150.0))
    assert 0.5 < late < 2.0


def test_the_cache_is_read_back_and_rebuilt_when_the_model_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = TableGrid(
        max_distance_km=100.0, max_depth_km=50.0, distance_step_km=10.0, depth_step_km=10.0
    )
    layers = (Layer(0.0, 6.0, 3.5),)
    first = load_table(layered_model("one", layers, 40.0), grid, tmp_path)
    assert len(list(tmp_path.glob("one-*.npz"))) == 1
    built: list[str] = []
    real = traveltimes.build_tau_model
    monkeypatch.setattr(
        traveltimes, "build_tau_model", lambda m, f: built.append(m.name) or real(m, f)
    )
    again = load_table(layered_model("one", layers, 40.0), grid, tmp_path)
    assert built == []
    assert again.digest == first.digest
    faster = load_table(layered_model("one", (Layer(0.0, 6.5, 3.7),), 40.0), grid, tmp_path)
    assert built == ["one"]
    assert len(list(tmp_path.glob("one-*.npz"))) == 2
    assert float(faster.time(False, 50.0, 10.0)) < float(first.time(False, 50.0, 10.0))


def test_an_unreadable_cache_file_is_rebuilt(tmp_path: Path) -> None:
    grid = TableGrid(
        max_distance_km=50.0, max_depth_km=20.0, distance_step_km=10.0, depth_step_km=10.0
    )
    model = layered_model("x", (Layer(0.0, 6.0, 3.5),), 30.0)
    load_table(model, grid, tmp_path)
    (path,) = tmp_path.glob("x-*.npz")
    path.write_bytes(b"not a table")
    table = load_table(model, grid, tmp_path)
    assert table.p.shape == (3, 6)


def test_layers_from_the_configuration(tmp_path: Path) -> None:
    config_file = tmp_path / "larza.toml"
    config_file.write_text(
        "[velocity_model]\n"
        "layers = [{ top_km = 0.0, vp = 6.0, vs = 3.5 },\n"
        "          { top_km = 20.0, vp = 6.6, vp_vs = 1.75 }]\n"
        'moho_km = 45.0\nbase = "ak135"\nmax_distance_km = 100.0\nmax_depth_km = 60.0\n'
        'distance_step_km = 5.0\ndepth_step_km = 5.0\ncache_dir = "cache"\n'
    )
    config = load_config(config_file)
    rows = velocity_model(config.velocity_model, config.base_dir).rows
    assert rows[2][:3] == (20.0, 6.6, pytest.approx(6.6 / 1.75))
    table = travel_time_table(config)
    assert list((tmp_path / "cache").glob("layers-*.npz"))
    assert float(table.time(False, 0.0, 10.0)) == pytest.approx(10.0 / 6.0, abs=1e-3)


def test_a_model_file_that_stops_above_the_core_is_completed(tmp_path: Path) -> None:
    path = tmp_path / "crust.nd"
    path.write_text(
        "0 5.5 3.2\n10 5.5 3.2\n10 6.2 3.6\n40 6.2 3.6\nmantle\n40 7.9 4.4\n100 8.0 4.45\n"
    )
    model = read_model_file(path, "ak135")
    assert model.rows[0][:3] == (0.0, 5.5, 3.2)
    assert model.rows[5][:3] == (100.0, 8.0, 4.45)
    assert model.rows[6][0] == 100.0  # ak135 continues below the file's last depth
    assert model.rows[-1][0] == 6371.0
    assert dict(model.names)["mantle"] == 3


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("0 5.8 3.4\n10 5.8\n", 2, "expected 'depth vp vs"),
        ("0 5.8 3.4\n10 5.8 3.4\nkrust\n", 3, "expected 'depth vp vs"),
        ("0 5.8 3.4\n20 6.5 3.7\n10 6.6 3.8\n", 3, "above the previous"),
        ("# a model\n0 5.8 6.0\n", 2, "vs < vp"),
        ("5 5.8 3.4\n10 5.8 3.4\n", 1, "first depth must be 0"),
        ("mantle\n0 5.8 3.4\n", 1, "before any depth"),
    ],
)
def test_a_bad_model_file_stops_start_up_naming_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    model = tmp_path / "tipage.nd"
    model.write_text(text)
    config = tmp_path / "larza.toml"
    config.write_text('[velocity_model]\nfile = "tipage.nd"\n')
    with pytest.raises(ConfigurationError) as caught:
        load_config(config)
    assert f"tipage.nd:{line}: " in str(caught.value)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{config}: [velocity_model]")


def test_a_tvel_file_skips_its_two_header_lines(tmp_path: Path) -> None:
    path = tmp_path / "local.tvel"
    path.write_text("local P\nlocal S\n0 6.0 3.5 2.7\n30 6.0 3.5 2.7\n30 8.0 4.5 3.3\n")
    model = read_model_file(path)
    assert model.rows[0][:3] == (0.0, 6.0, 3.5)
    path.write_text("local P\nlocal S\n0 6.0 x\n")
    with pytest.raises(
        ConfigurationError, match=r"local.tvel:3: expected 'depth vp vs \[density\]'"
    ):
        read_model_file(path)


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "larza.toml"
    config.write_text('[velocity_model]\nfile = "nowhere.nd"\n')
    with pytest.raises(ConfigurationError, match=r"nowhere\.nd: cannot read the velocity model"):
        load_config(config)


def test_tables_and_distances_share_one_sphere() -> None:
    from detection import distance_km

    assert float(distance_km(0.0, 0.0, 0.0, 1.0)) == pytest.approx(KM_PER_DEGREE, rel=1e-12)
    assert traveltimes.EARTH_RADIUS_KM == 6371.0
