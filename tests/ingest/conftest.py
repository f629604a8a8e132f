"""The small SDS archive of the reprocessing tests, and ``larza detect``'s run over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from detection import StationCoordinates
from ingest.config import LarzaConfig
from ingest.detect.files import Results, run_detect, station_positions
from stations.inventory import default_inventory_path

from .sds_quakes import write_archive

MINUTES = 60.0


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
    root = tmp_path_factory.mktemp("reprocess") / "sds"
    first, last = write_archive(root, MINUTES)
    return root, first, last + 0.01


@pytest.fixture(scope="module")
def positions() -> dict[str, StationCoordinates]:
    return station_positions([default_inventory_path()])


@pytest.fixture(scope="module")
def continuous(
    archive: tuple[Path, float, float], positions: dict[str, StationCoordinates]
) -> Results:
    """``larza detect`` over the whole archive in one process: the reference."""
    return run_detect([archive[0]], LarzaConfig(), positions=positions)
