"""The Docker image and docker-compose.yml, tried without Docker (these machines have none).

The test reads the Dockerfile and the compose file and runs the compose services' commands
the way the image would: as an unprivileged user, from a read-only application directory,
with the image's and the compose file's environment. The user: ``nobody`` when the test
runs as root and ``nobody`` can run the project's Python; where it cannot (a Python
installed under ``/root``), root without any capability (``setpriv --bounding-set=-all``),
for whom file modes hold as for any user; the test's own user otherwise. Each container
gets a folder standing in for its file system, and each named volume a folder shared by the
services that mount it; every
absolute path in the environment is moved into them. The directories the Dockerfile makes
for its user (``install -d -o larza``) are made for the test's user, and a volume starts
with the owner of the image's directory it is mounted on, as Docker does. Only the
database is the test's own (the compose file's ``db`` service stands for it).

It then checks what ``docker compose up`` must do: the worker archives the feed's records
into the volume, and the API serves them from the same volume (FDSN dataselect, a waveform
plot that matplotlib draws with a cache directory it can write).
"""

from __future__ import annotations

import io
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import PG_URL, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"


# ---- reading the two files -------------------------------------------------------------


@dataclass
class Image:
    user: str
    home: str
    workdir: str
    entrypoint: list[str]
    env: dict[str, str]
    runs: list[str]  # the RUN commands, continuation lines joined
    copies: list[list[str]]
    user_dirs: dict[str, str] = field(default_factory=dict)  # made for a user: path -> user


def read_dockerfile(path: Path) -> Image:
    text = re.sub(r"\\\n", " ", path.read_text())
    image = Image(user="root", home="/root", workdir="/", entrypoint=[], env={}, runs=[], copies=[])
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        match word.upper():
            case "ENV":
                for pair in shlex.split(rest):
                    key, _, value = pair.partition("=")
                    image.env[key] = value
            case "WORKDIR":
                image.workdir = rest
            case "USER":
                image.user = rest
            case "ENTRYPOINT":
                image.entrypoint = json.loads(rest)
            case "COPY":
                image.copies.append(shlex.split(rest))
            case "RUN":
                image.runs.append(rest)
    for run in image.runs:
        for command in (shlex.split(c) for c in run.split("&&")):
            if command[:1] == ["useradd"] and "--home-dir" in command:
                image.home = command[command.index("--home-dir") + 1]
            if command[:1] == ["install"] and "-d" in command:
                owner, paths, args = "root", [], iter(command[1:])
                for arg in args:
                    if arg in ("-o", "--owner"):
                        owner = next(args)
                    elif arg in ("-g", "--group", "-m", "--mode"):
                        next(args)
                    elif not arg.startswith("-"):
                        paths.append(arg)
                image.user_dirs.update(dict.fromkeys(paths, owner))
    return image


@dataclass
class Service:
    name: str
    command: list[str]
    env: dict[str, str]
    mounts: dict[str, str]  # container path -> volume name
    one_shot: bool
    depends_on: dict[str, str]  # service -> condition
    ours: bool  # built from the Dockerfile


def read_compose(path: Path) -> tuple[dict[str, Service], set[str]]:
    document = yaml.safe_load(path.read_text())  # resolves the <<: *larza merges
    volumes = set(document.get("volumes") or {})
    services = {}
    for name, spec in document["services"].items():
        mounts = {}
        for entry in spec.get("volumes", []):
            source, target, *_ = entry.split(":")
            mounts[target] = source
        depends = spec.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        services[name] = Service(
            name=name,
            command=[str(c) for c in spec.get("command", [])],
            env={k: str(v) for k, v in (spec.get("environment") or {}).items()},
            mounts=mounts,
            one_shot=str(spec.get("restart", "no")) == "no",
            depends_on={d: c.get("condition", "service_started") for d, c in depends.items()},
            ours="build" in spec,
        )
    return services, volumes


def start_order(services: dict[str, Service]) -> list[Service]:
    """Services built from the Dockerfile, each after what it depends on."""
    done: list[Service] = []
    while len(done) < sum(s.ours for s in services.values()):
        for service in services.values():
            if service.ours and service not in done:
                needs = [services[d] for d in service.depends_on]
                if all(d in done or not d.ours for d in needs):
                    done.append(service)
                    break
        else:
            raise AssertionError("docker-compose.yml: depends_on has a cycle")
    return done


# ---- what the files promise --------------------------------------------------------------


def test_the_image_and_compose_agree_on_paths_users_and_volumes() -> None:
    image = read_dockerfile(DOCKERFILE)
    services, volumes = read_compose(COMPOSE)
    assert image.user not in ("", "root", "0"), "the image must not run as root"
    assert image.entrypoint == ["larza"]
    # Versions as tested: the image installs with the constraints file it copies.
    assert any("constraints.txt" in c for c in image.copies)
    assert any(re.search(r"pip install .*-c constraints\.txt", r) for r in image.runs)
    ours = {n: s for n, s in services.items() if s.ours}
    assert {"worker", "api"} <= set(ours)
    for service in ours.values():
        env = image.env | service.env
        for key in ("LARZA_ARCHIVE_DIR", "MPLCONFIGDIR"):
            assert env.get(key, "").startswith("/"), f"{service.name}: {key} must be absolute"
        # What the processes write is made for the image's user.
        for key in ("LARZA_ARCHIVE_DIR", "MPLCONFIGDIR"):
            assert image.user_dirs.get(env[key]) == image.user, (
                f"the Dockerfile must make {env[key]} for {image.user} (install -d -o)"
            )
        for volume in service.mounts.values():
            assert volume in volumes, f"{service.name}: volume {volume!r} is not declared"
    # The worker and the API see the same archive: one named volume, mounted where
    # LARZA_ARCHIVE_DIR points, in both.
    archive = {n: (image.env | ours[n].env)["LARZA_ARCHIVE_DIR"] for n in ("worker", "api")}
    mounted = {n: ours[n].mounts.get(archive[n]) for n in archive}
    assert mounted["worker"] is not None, "the worker's archive must be a named volume"
    assert mounted["worker"] == mounted["api"], "the API must read the worker's archive volume"


# ---- running the services as the image would -------------------------------------------------


@dataclass
class Machine:
    """Folders standing in for the containers' file systems and the named volumes, and the
    user the processes run as (``uid``, ``gid``, and how to start a process as it)."""

    root: Path
    image: Image
    uid: int
    gid: int
    prefix: list[str] = field(default_factory=list)  # put before each command
    popen: dict[str, Any] = field(default_factory=dict)  # passed to Popen

    def container(self, service: str) -> Path:
        return self.root / "containers" / service

    def volume(self, name: str) -> Path:
        return self.root / "volumes" / name

    def where(self, service: Service, path: str) -> Path:
        """The host folder behind ``path`` in ``service``'s container."""
        for target in sorted(service.mounts, key=len, reverse=True):
            if path == target or path.startswith(target.rstrip("/") + "/"):
                rest = path[len(target) :].lstrip("/")
                return self.volume(service.mounts[target]) / rest
        return self.container(service.name) / path.lstrip("/")

    def create(self, service: Service) -> None:
        """Make ``service``'s container: the image's directories, a read-only application
        directory, and its volumes (a new one takes its owner from the image's directory)."""
        for path, owner in self.image.user_dirs.items():
            self._directory(self.container(service.name) / path.lstrip("/"), owner)
        app = self.container(service.name) / self.image.workdir.lstrip("/")
        app.mkdir(parents=True, exist_ok=True)
        app.chmod(0o555)
        for target, name in service.mounts.items():
            if not self.volume(name).exists():
                self._directory(self.volume(name), self.image.user_dirs.get(target, "root"))

    def _directory(self, path: Path, owner: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if owner == self.image.user:
            os.chown(path, self.uid, self.gid)
            path.chmod(0o755)
        else:  # root's: not writable by the processes, whoever they run as
            path.chmod(0o555)

    def environment(self, service: Service, database_url: str) -> dict[str, str]:
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8"}
        env["HOME"] = str(self.where(service, self.image.home))
        for key, value in (self.image.env | service.env).items():
            if value.startswith("postgresql"):
                value = database_url  # the compose file's db service
            elif value.startswith("sqlite:///") and value[len("sqlite:///") :].startswith("/"):
                value = f"sqlite:///{self.where(service, value[len('sqlite:///') :])}"
            elif value.startswith("/"):
                value = str(self.where(service, value))
            env[key] = value
        return env


def _on_loopback(command: list[str], ports: dict[tuple[str, str], int], name: str) -> list[str]:
    """The command with its listening host on loopback, its ports free ones, and other
    services' ``name:port`` pointing at them."""
    out = []
    for i, arg in enumerate(command):
        before = command[i - 1] if i else ""
        if before == "--host":
            arg = "127.0.0.1"
        elif before == "--port":
            arg = str(ports[(name, arg)])
        elif re.fullmatch(r"[a-z][a-z0-9_-]*:\d+", arg):
            host, port = arg.split(":")
            arg = f"127.0.0.1:{ports[(host, port)]}"
        out.append(arg)
    return out


def _runs_python(popen: dict[str, Any]) -> bool:
    try:
        done = subprocess.run([sys.executable, "-c", "import ingest"], capture_output=True, **popen)
    except OSError:
        return False
    return done.returncode == 0


@pytest.fixture
def machine() -> Iterator[Machine]:
    root = Path(tempfile.mkdtemp(prefix="larza-image-"))
    root.chmod(0o755)  # the processes' user must reach the folders inside
    image = read_dockerfile(DOCKERFILE)
    if os.geteuid() != 0:
        found = Machine(root, image, os.getuid(), os.getgid())
    else:
        nobody = pwd.getpwnam("nobody")
        as_nobody = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        if _runs_python(as_nobody):
            found = Machine(root, image, nobody.pw_uid, nobody.pw_gid, popen=as_nobody)
        else:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.fail("running as root, this test needs util-linux's setpriv")
            drop = [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--"]
            found = Machine(root, image, 0, 0, prefix=drop)
    try:
        yield found
    finally:
        for path in root.rglob("*"):  # read-only folders, for rmtree
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(root)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def _wait(what: str, timeout: float, probe: Any, logs: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    tails = "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-20:])
        for p in sorted(logs.glob("*.log"))
    )
    pytest.fail(f"waited {timeout:.0f} s for {what}\n{tails}")


def test_compose_services_run_as_the_image_runs_them(
    machine: Machine, fresh_database_url: str
) -> None:
    services, _ = read_compose(COMPOSE)
    order = start_order(services)
    logs = machine.root / "logs"
    logs.mkdir()
    if PG_URL:
        database_url = fresh_database_url
    else:  # a file the processes' user can write, standing in for the db service
        folder = machine.volume("_database")
        folder.mkdir(parents=True)
        os.chown(folder, machine.uid, machine.gid)
        database_url = f"sqlite:///{folder / 'larza.sqlite'}"
    ports = {
        (s.name, s.command[s.command.index("--port") + 1]): free_port()
        for s in order
        if "--port" in s.command
    }
    running: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in order:
            machine.create(service)
            command = [
                *machine.prefix,
                *machine.image.entrypoint,
                *_on_loopback(service.command, ports, service.name),
            ]
            env = machine.environment(service, database_url)
            cwd = machine.container(service.name) / machine.image.workdir.lstrip("/")
            with (logs / f"{service.name}.log").open("wb") as log:
                proc = subprocess.Popen(
                    command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, **machine.popen
                )
            if service.one_shot:
                assert proc.wait(timeout=120) == 0, (logs / f"{service.name}.log").read_text()
            else:
                running[service.name] = proc
                if "--port" in service.command:
                    port = ports[
                        (service.name, service.command[service.command.index("--port") + 1])
                    ]
                    _wait(f"{service.name} listening", 30, lambda p=port: _listening(p), logs)
        worker, api = services["worker"], services["api"]
        # The worker's archive (its default, var/archive, is relative to the working dir).
        archive_dir = (machine.image.env | worker.env).get("LARZA_ARCHIVE_DIR", "var/archive")
        archive = machine.where(worker, os.path.join(machine.image.workdir, archive_dir))

        # The worker archives the feed's records into the volume, and keeps running.
        def archived() -> list[Path]:
            return [p for p in archive.rglob("TJ.SAREZ..HHZ.D.*") if p.stat().st_size > 0]

        _wait("TJ.SAREZ..HHZ in the archive volume", 60, archived, logs)
        assert running["worker"].poll() is None, (logs / "worker.log").read_text()

        # The API answers from the same volume.
        api_port = ports[("api", api.command[api.command.index("--port") + 1])]
        base = f"http://127.0.0.1:{api_port}"

        def newest_sample() -> str | None:
            status, body = _get(f"{base}/api/v1/stations/TJ.SAREZ")
            if status != 200:
                return None
            hhz = next(c for c in json.loads(body)["channels"] if c["code"] == "HHZ")
            return hhz["last_sample_time"]  # type: ignore[no-any-return]

        newest = datetime.fromisoformat(_wait("the API", 30, newest_sample, logs))
        start = (newest - timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S")
        end = newest.strftime("%Y-%m-%dT%H:%M:%S")
        query = f"net=TJ&sta=SAREZ&loc=--&cha=HHZ&starttime={start}&endtime={end}"
        status, body = _get(f"{base}/fdsnws/dataselect/1/query?{query}")
        assert status == 200, (status, body[:300], (logs / "api.log").read_text()[-2000:])
        from obspy import read

        traces = read(io.BytesIO(body))
        assert {tr.id for tr in traces} == {"TJ.SAREZ..HHZ"}
        assert sum(tr.stats.npts for tr in traces) > 100
        # Byte for byte the records the worker wrote into the volume.
        written = b"".join(p.read_bytes() for p in archived())
        records = [body[i : i + 512] for i in range(0, len(body), 512)]
        assert all(record in written for record in records)

        # A plot: matplotlib keeps its cache where the image says, and does not complain.
        status, png = _get(f"{base}/api/v1/stations/TJ.SAREZ/waveforms.png?minutes=2")
        assert status == 200
        assert png.startswith(b"\x89PNG")
        api_log = (logs / "api.log").read_text()
        assert "Matplotlib" not in api_log, api_log
        assert "not a writable" not in api_log, api_log
        cache = machine.where(api, (machine.image.env | api.env).get("MPLCONFIGDIR", "/"))
        assert list(cache.glob("fontlist-*.json")), "matplotlib wrote no font cache"
    finally:
        for proc in running.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in running.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
