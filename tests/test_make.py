"""``make test`` on a machine without Debian's chromium and chromium-driver (the dashboard's
browser tests need them): as root it installs them with apt-get, otherwise it stops at once
with one line saying what to install, before any other work."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # A make running this suite passes its own flags down: this one starts clean.
    passed_down = ("MAKE", "MFLAGS", "DEBIAN_FRONTEND")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(passed_down)}
    return subprocess.run(
        ["make", "--no-print-directory", "-s", *args],
        cwd=ROOT,
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_test_asks_for_the_browser_in_one_line(tmp_path: Path) -> None:
    chromium, driver = tmp_path / "chromium", tmp_path / "chromedriver"
    # Were the browser not checked first, this make would fail at once making its .venv.
    elsewhere = [f"VENV={tmp_path / 'venv'}", "PYTHON=false"]
    done = _make("test", f"CHROMIUM={chromium}", f"CHROMEDRIVER={driver}", "AS_ROOT=", *elsewhere)
    assert done.returncode != 0
    assert done.stdout == ""  # stopped before lint, the install and the suite
    ours = [line for line in done.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(ours) == 1, done.stderr
    assert "chromium and chromium-driver" in ours[0]
    assert "apt-get install chromium chromium-driver" in ours[0]
    assert str(chromium) in ours[0]


def test_make_installs_the_browser_with_apt_get_as_root(tmp_path: Path) -> None:
    """apt-get itself cannot run in a test (it would install the packages for real): a
    stand-in records how make calls it and, on install, puts the two programs in place."""
    chromium, driver = tmp_path / "bin" / "chromium", tmp_path / "bin" / "chromedriver"
    calls = tmp_path / "calls"
    apt_get = tmp_path / "apt-get"
    apt_get.write_text(
        "#!/bin/sh\n"
        f'echo "$DEBIAN_FRONTEND $*" >> {calls}\n'
        'if [ "$1" = install ]; then\n'
        f"  mkdir -p {chromium.parent}\n"
        f"  printf '#!/bin/sh\\n' > {chromium}; cp {chromium} {driver}\n"
        f"  chmod +x {chromium} {driver}\n"
        "fi\n"
    )
    apt_get.chmod(0o755)
    args = [f"CHROMIUM={chromium}", f"CHROMEDRIVER={driver}", f"APT_GET={apt_get}"]
    done = _make("browser", *args, "AS_ROOT=yes")
    assert done.returncode == 0, done.stderr
    assert "installing Debian's chromium and chromium-driver" in done.stdout
    assert calls.read_text().splitlines() == [
        " update -qq",
        "noninteractive install -y -qq chromium chromium-driver",
    ]
    # Once they are there, make asks for nothing.
    calls.unlink()
    again = _make("browser", *args, "AS_ROOT=yes")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert not calls.exists()


def test_an_install_that_brings_nothing_still_stops_make(tmp_path: Path) -> None:
    apt_get = tmp_path / "apt-get"
    apt_get.write_text("#!/bin/sh\nexit 0\n")
    apt_get.chmod(0o755)
    chromium, driver = tmp_path / "chromium", tmp_path / "chromedriver"
    args = [f"CHROMIUM={chromium}", f"CHROMEDRIVER={driver}", f"APT_GET={apt_get}"]
    done = _make("browser", *args, "AS_ROOT=yes")
    assert done.returncode != 0
    assert "make test needs Debian's chromium and chromium-driver" in done.stderr
