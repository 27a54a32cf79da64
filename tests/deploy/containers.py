"""Podman for the image test: a local Debian base image, an offline build, containers.

No image registry is reachable where the tests run, so the base image is made here:
``debootstrap`` (Debian's minimal system plus Python 3 and its venv module) from the mirror
that apt already uses, imported with ``podman import`` and kept (the root file system as a
tarball under ``~/.cache/hanami-test/``, the image in podman's store). The build itself gets
its Python packages from a wheel folder mounted into it, made with the host's pip.

What this machine needs, in ``containers.conf`` given by ``CONTAINERS_CONF``: the ``runc``
runtime, cgroupfs (no systemd), and explicit ``nofile``/``nproc`` limits that stay under the
hard limits this process has (larger ones make runc fail with "operation not permitted").
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hanami-test"
BASE_PACKAGES = ("python3", "python3-venv")
BASE_IMAGE = "localhost/hanami-test-base"
TOOLS = ("podman", "runc", "catatonit", "debootstrap")


class Unavailable(Exception):
    """Containers cannot be built or run on this machine; the message says why."""


def _run(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    **kwargs: object,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), env=env, timeout=timeout, capture_output=True, text=True, **kwargs
    )


def _tail(process: subprocess.CompletedProcess[str], lines: int = 15) -> str:
    return "\n".join((process.stdout + process.stderr).strip().splitlines()[-lines:])


def _limit(kind: int, most: int) -> int:
    hard = resource.getrlimit(kind)[1]
    return most if hard == resource.RLIM_INFINITY else min(hard, most)


def containers_conf(folder: Path) -> Path:
    """Write the ``containers.conf`` this machine needs into ``folder``."""
    nofile = _limit(resource.RLIMIT_NOFILE, 65536)
    nproc = _limit(resource.RLIMIT_NPROC, 4096)
    path = folder / "containers.conf"
    path.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )
    return path


def _debian_release() -> tuple[str, str]:
    """(codename, mirror URL) of the host's own Debian sources."""
    release = Path("/etc/os-release").read_text()
    codename = re.search(r"^VERSION_CODENAME=(\w+)", release, re.M)
    if not re.search(r"^ID=debian$", release, re.M) or codename is None:
        raise Unavailable("the base image is made with debootstrap, which needs a Debian host")
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    text = "\n".join(p.read_text() for p in sources if p.is_file())
    mirror = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or re.search(
        r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s+" + codename.group(1) + r"\s", text, re.M
    )
    if mirror is None:
        raise Unavailable("no Debian mirror found in the apt sources for debootstrap")
    return codename.group(1), mirror.group(1)


class Podman:
    """``podman`` with this machine's ``containers.conf``."""

    def __init__(self, conf: Path) -> None:
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            raise Unavailable(f"not installed: {', '.join(missing)} (make test installs them)")
        if os.geteuid() != 0:
            raise Unavailable("debootstrap and podman's networking need root")
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def __call__(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        process = _run(["podman", *args], env=self.env, timeout=timeout)
        if check and process.returncode != 0:
            raise AssertionError(f"podman {args[0]} failed:\n{_tail(process)}")
        return process

    def base_image(self) -> str:
        """The local Debian + Python image (made once, then reused)."""
        codename, mirror = _debian_release()
        tag = f"{BASE_IMAGE}:{codename}-{'-'.join(BASE_PACKAGES)}"
        if self("image", "exists", tag, check=False).returncode != 0:
            tarball = CACHE / f"{tag.rsplit('/', 1)[1].replace(':', '-')}.tar"
            if not tarball.exists():
                _debootstrap(codename, mirror, tarball)
            self("import", str(tarball), tag)
        probe = self("run", "--rm", "--init", tag, "python3", "-c", "import venv", check=False)
        if probe.returncode != 0:
            raise Unavailable(f"podman cannot run a container here:\n{_tail(probe)}")
        return tag

    def build(self, tag: str, base: str, wheels: Path) -> None:
        """Build ``deploy/Dockerfile`` offline (no network, packages from ``wheels``)."""
        self(
            "build", "--format", "docker", "--layers=false", "--network", "none",
            "-f", str(ROOT / "deploy" / "Dockerfile"),
            "--build-arg", f"PYTHON_IMAGE={base}",
            "--build-arg", "PIP_NO_INDEX=1",
            "--build-arg", "PIP_FIND_LINKS=/wheels",
            "-v", f"{wheels}:/wheels:ro",
            "-t", tag, str(ROOT),
            timeout=1200,
        )  # fmt: skip


def _debootstrap(codename: str, mirror: str, tarball: Path) -> None:
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent) as tmp:
        rootfs = Path(tmp) / "rootfs"
        process = _run([
            "debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
            codename, str(rootfs), mirror,
        ], timeout=1200)  # fmt: skip
        if process.returncode != 0:
            raise Unavailable(f"debootstrap {codename} failed:\n{_tail(process)}")
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        process = _run(["tar", "-C", str(rootfs), "-cf", str(partial), "."])
        if process.returncode != 0:
            raise AssertionError(f"tar of the base system failed:\n{_tail(process)}")
        partial.rename(tarball)


def wheelhouse(folder: Path) -> Path:
    """Wheels of the package's runtime dependencies and build requirements, made with this
    machine's pip (so with its index settings), for a build without network."""
    build_requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    process = _run([
        sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(folder),
        f"{ROOT}[postgres]", *build_requires["requires"],
    ])  # fmt: skip
    if process.returncode != 0:
        raise AssertionError(f"pip wheel failed:\n{_tail(process)}")
    return folder
