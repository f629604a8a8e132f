"""The curated namespace: every name in ``__all__`` exists, and the package stays pure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import detection

REPO = Path(__file__).resolve().parents[2]


def test_all_names_exist() -> None:
    missing = [name for name in detection.__all__ if not hasattr(detection, name)]
    assert missing == []


def test_all_is_sorted_and_unique() -> None:
    assert list(detection.__all__) == sorted(set(detection.__all__))


def test_imported_from_this_repository() -> None:
    assert Path(detection.__file__).resolve().parent == REPO / "detection"
    assert (REPO / "detection" / "py.typed").is_file()


def test_importing_detection_pulls_in_no_service_packages() -> None:
    code = (
        "import sys, detection; "
        "bad = [m for m in ('obspy', 'sqlalchemy', 'fastapi', 'stations', 'ingest', 'api') "
        "if m in sys.modules]; print(','.join(bad))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == ""
