"""larza.toml: detector profiles with overrides, association, health thresholds, and the
errors an operator sees for a bad file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from detection import DetectorConfig
from ingest.config import DetectorTable, LarzaConfig, load_config, parse_config
from stations.errors import ConfigurationError
from stations.queries import ChannelKey

SAREZ_Z = ChannelKey("TJ", "SAREZ", "", "HHZ")
SAREZ_N = ChannelKey("TJ", "SAREZ", "", "HNN")
MURGH_Z = ChannelKey("TJ", "MURGH", "", "HHZ")

EXAMPLE = """
[detector]
method = "classic"
trigger_on = 3.0
[detector."TJ.SAREZ..HHZ"]
trigger_on = 4.0
[detector."TJ.SAREZ"]
freqmin = 2.0
trigger_on = 5.0
[association]
min_stations = 2
window = 10.0
weights = { "TJ.SAREZ" = 2.0 }
[health]
latency_degraded_s = 30
[health."TJ.*..HN?"]
clip_level = 1000
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "larza.toml"
    path.write_text(text)
    return path


def test_no_file_means_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config == LarzaConfig()
    detector, profile = config.detector_for(SAREZ_Z)
    assert detector == DetectorConfig()
    assert profile == "default"


def test_overrides_station_then_channel(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, EXAMPLE))
    detector, profile = config.detector_for(SAREZ_Z)
    # The channel override beats the station one whatever their order in the file.
    assert (detector.method, detector.freqmin, detector.trigger_on) == ("classic", 2.0, 4.0)
    assert profile == "TJ.SAREZ+TJ.SAREZ..HHZ"
    detector, profile = config.detector_for(SAREZ_N)
    assert (detector.freqmin, detector.trigger_on, profile) == (2.0, 5.0, "TJ.SAREZ")
    detector, profile = config.detector_for(MURGH_Z)
    assert (detector.trigger_on, profile) == (3.0, "default")
    assert config.association.min_stations == 2
    assert config.association.weights == {"TJ.SAREZ": 2.0}


def test_health_overrides_with_wildcards(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, EXAMPLE))
    assert config.health_for(SAREZ_N).clip_level == 1000
    assert config.health_for(SAREZ_N).latency_degraded_s == 30
    assert config.health_for(SAREZ_Z).clip_level == config.health.clip_level


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[detector]\ntriger_on = 3\n", "[detector]: unknown key 'triger_on'"),
        ('[detector."TJ.SAREZ"]\nsta = "x"\n', '[detector."TJ.SAREZ"]: sta'),
        ("[detector]\nsta = 20.0\n", "need 0 < sta < lta"),
        ('[detector."TJ.SAREZ"]\nlta = 0.1\n', '[detector."TJ.SAREZ"]'),
        ('[detector."SAREZ"]\nsta = 1.0\n', "NET.STA or NET.STA.LOC.CHA"),
        ("[detectors]\n", "unknown table [detectors]"),
        ("[association]\nmin_stations = 0\n", "[association]: min_stations"),
        ("[health]\nlatency_down_s = 10\n", "latency_degraded_s < latency_down_s"),
        ("[detector\n", "not valid TOML"),
        ('[soh."TJ.SAREZ"]\nVEI = { unit = "V" }\n', '[soh."TJ.SAREZ"].VEI: name'),
        ('[soh."TJ.SAREZ"]\nVEI = { name = "v", colour = 1 }\n', "unknown key 'colour'"),
        ('[soh."SAREZ"]\nVEI = { name = "v" }\n', "name a station NET.STA"),
        ('[soh."TJ.SAREZ"]\nVOLTS = { name = "v" }\n', "3-character channel code"),
        ('[stations."TJ.SAREZ"]\nserver = "nohost"\n', "server must be host:port"),
        ('[stations."TJ.SAREZ"]\nport = 18000\n', "unknown key 'port'"),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(_write(tmp_path, text))
    assert message in str(caught.value)
    assert "larza.toml" in str(caught.value)


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_parse_config_accepts_a_document() -> None:
    config = parse_config({"detector": {"sta": 1.0, "lta": 20.0}})
    assert config.detector_for(MURGH_Z)[0].lta == 20.0


def test_the_documented_example_is_valid() -> None:
    example = Path(__file__).parents[2] / "docs" / "larza.example.toml"
    config = load_config(example)
    # Every detector key is there, with its default value.
    written = tomllib.loads(example.read_text(encoding="utf-8"))["detector"]
    defaults = DetectorConfig()
    documented = {k: v for k, v in written.items() if not isinstance(v, dict)}
    assert set(documented) == set(DetectorTable.model_fields)
    assert all(getattr(defaults, k) == v for k, v in documented.items())
    assert not config.detector_for(ChannelKey("TJ", "MANEM", "", "HHE"))[0].enabled
    assert config.detector_for(SAREZ_Z)[0].freqmin == 2.0
    assert config.detector_for(SAREZ_N)[0].trigger_on == 5.0
    assert config.health_for(SAREZ_N).clip_level == 4194303
    vei = config.soh_for(ChannelKey("TJ", "SAREZ", "", "VEI"))
    assert vei is not None
    assert (vei.name, vei.unit, vei.scale, vei.min) == ("supply voltage", "V", 0.001, 11.5)
    assert set(config.soh_channels("TJ", "MANEM")) >= {"VEI", "GST", "VM1"}
    assert config.soh_channels("XX", "OTHER") == {}
    server, selectors = config.source_of("TJ", "MANEM", server="hub:18000", selectors="HH?")
    assert (server, selectors) == ("khorugh-digitizer.example:18000", "HH? HN?")
    assert config.source_of("TJ", "SAREZ", server="hub:18000", selectors="HH?") == (
        "hub:18000",
        "HH?",
    )
    # Apart from its overrides, the example shows the defaults.
    assert config.health == LarzaConfig().health
    assert config.association.window == LarzaConfig().association.window
    assert config.association.weights == {"TJ.MANEM": 1.0}


def test_every_earthquake_key_is_in_the_example() -> None:
    from ingest.config import LocationTable, MagnitudeTable, VelocityModelTable

    text = (Path(__file__).parents[2] / "docs" / "larza.example.toml").read_text()
    for table in (VelocityModelTable, LocationTable, MagnitudeTable):
        for key in table.model_fields:
            assert f"{key} =" in text or f"{key} = " in text, f"{key} not documented"
    config = load_config(Path(__file__).parents[2] / "docs" / "larza.example.toml")
    assert config.velocity_model.model == "pamir"
    assert config.location.min_phases == 7
    assert config.magnitude.wood_anderson_gain == 2080.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[velocity_model]\nmodel = "prem"\n', "[velocity_model]: model"),
        ('[velocity_model]\nmodel = "ak135"\nfile = "x.nd"\n', "give one of model, file or layers"),
        ("[velocity_model]\nlayers = [{ top_km = 0.0, vp = 6.0 }]\n", "layers need moho_km"),
        ("[velocity_model]\nmoho_km = 50.0\n", "moho_km goes with layers"),
        (
            "[velocity_model]\nlayers = [{ top_km = 0.0, vp = 6.0, vs = 3.5, vp_vs = 1.7 }]\n"
            "moho_km = 40.0\n",
            "give vs or vp_vs, not both",
        ),
        (
            "[velocity_model]\nlayers = [{ top_km = 5.0, vp = 6.0 }]\nmoho_km = 40.0\n",
            "first layer's top_km must be 0",
        ),
        (
            "[velocity_model]\nlayers = [{ top_km = 0.0, vp = 6.0 }]\nmoho_km = 40.0\n"
            "vp_vs = 0.9\n",
            "[velocity_model]: vp_vs",
        ),
        ("[velocity_model]\nmax_distance_km = 1000.5\n", "whole number of distance_step_km"),
        ("[location]\nmin_phases = 4\n", "[location]: min_phases"),
        ("[location]\nmin_stations = 8\nmin_phases = 7\n", "min_phases >= min_stations"),
        ("[magnitude]\nstation_corrections = { SAREZ = 0.1 }\n", "need NET.STA"),
        ("[magnitude]\nlog_a0 = [[100, -3.0], [50, -2.5]]\n", "increasing distances"),
        ('[magnitude]\ndistance = "slant"\n', "[magnitude]: distance"),
    ],
)
def test_bad_earthquake_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(_write(tmp_path, text))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"max_gap": -1.0}, "max_gap"),
        ({"s_window": 0}, "s_window"),
        ({"s_ratio": -2}, "s_ratio"),
        ({"enabled": "perhaps"}, "enabled"),
        ({"despike": 3}, "despike"),
    ],
)
def test_the_pick_keys_are_checked(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_config({"detector": table})


def test_per_channel_pick_keys() -> None:
    config = parse_config(
        {"detector": {"s_ratio": 4.0, "TJ.SAREZ..HHE": {"enabled": False, "max_gap": 0.0}}}
    )
    east = config.detector_for(ChannelKey("TJ", "SAREZ", "", "HHE"))[0]
    assert (east.enabled, east.max_gap, east.s_ratio) == (False, 0.0, 4.0)
    assert config.detector_for(SAREZ_Z)[0].enabled


def test_every_alerts_key_is_in_the_example() -> None:
    from ingest.alerts.config import AlertsTable, IntensityTable, SensorsTable, SiteEntry

    example = Path(__file__).parents[2] / "docs" / "larza.example.toml"
    text = example.read_text()
    for table in (AlertsTable, IntensityTable, SensorsTable, SiteEntry):
        for key in table.model_fields:
            found = f"{key} =" in text or f"alerts.{key}]" in text
            assert found, f"{key} not documented"
    config = load_config(example)
    assert not config.alerts.enabled
    assert [s.name for s in config.alerts.sites] == ["Usoi dam", "Khorugh"]
    assert config.alerts.intensity == IntensityTable()
    for key, value in SensorsTable().model_dump().items():
        assert getattr(config.alerts.sensors, key) == pytest.approx(value, rel=1e-6), key
    with pytest.raises(ConfigurationError, match=r"\[alerts\]: sites.0.latitude"):
        parse_config({"alerts": {"sites": [{"name": "x", "latitude": 91.0, "longitude": 0.0}]}})


@pytest.mark.parametrize(
    ("sensors", "message"),
    [
        ({"min_ratio": 1.5}, r"sensors.min_ratio: Input should be less than 1 \(got 1.5\)"),
        ({"max_sigma": 0}, r"\[alerts\]: sensors.max_sigma: Input should be greater than 0"),
        ({"max_lag": 0.1}, r"\[alerts\]: unknown key 'sensors.max_lag'"),
        ({"min_noise_s": 12.0}, r"sensors: .*need min_noise_s <= noise_s - 0.5 .*min_noise_s=12.0"),
    ],
)
def test_the_sensors_settings_are_checked(sensors: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_config({"alerts": {"sensors": sensors}})
