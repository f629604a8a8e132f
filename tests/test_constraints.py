"""constraints.txt is the tested set: it pins every package Larza and its dev tools need, to
versions inside pyproject's ranges, and the suite runs on exactly those versions; make (and so
CI) and the Dockerfile install from it."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!_-]+)", line.strip())
        assert match, f"constraints.txt: not a pin: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in pins, f"constraints.txt: {name} pinned twice"
        pins[name] = match[2]
    return pins


def _direct() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dependencies = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(r) for r in dependencies]


def _needed(requirement: Requirement, extras: set[str]) -> bool:
    """Whether ``requirement`` applies here, for a distribution installed with ``extras``."""
    marker = requirement.marker
    return marker is None or any(marker.evaluate({"extra": e}) for e in {"", *extras})


def _closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution these requirements bring, as installed here (markers evaluated)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [r for r in requirements if _needed(r, set())]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        for line in metadata.distribution(name).requires or []:
            child = Requirement(line)
            if _needed(child, requirement.extras):
                todo.append(child)
    return {name for name, _ in seen}


def test_every_needed_package_is_pinned_to_what_the_suite_runs_on() -> None:
    pins = _pins()
    assert "larza" not in pins
    needed = _closure(_direct())
    assert needed - set(pins) == set(), "not pinned: run make constraints"
    installed = {name: metadata.version(name) for name in needed}
    assert {n: v for n, v in installed.items() if pins[n] != v} == {}, (
        "the suite runs on other versions than constraints.txt pins"
    )
    # Nothing pinned that Larza does not need (a leftover of an upgrade).
    assert set(pins) - needed == set()


def test_pins_lie_inside_pyproject_ranges() -> None:
    pins = _pins()
    for requirement in _direct():
        version = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_make_and_ci_install_from_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^CONSTRAINTS \?= constraints\.txt$", makefile, re.M)
    assert re.search(r"^PIP_INSTALL = .*pip install .*-c \$\(CONSTRAINTS\)", makefile, re.M)
    installs = re.findall(r"^\t(.*pip install.*)$", makefile, re.M)
    assert installs
    for line in installs:
        assert line.startswith("$(PIP_INSTALL)") or "--upgrade pip" in line, line
    assert "make test" in (ROOT / ".ci" / "run").read_text()
