"""The functions' pinned Python dependencies, built for their runtime, shipped as layers of our own.

Powertools publishes a public layer per release, runtime and region, found
through a public SSM parameter at deploy time. That lookup fails wherever
the parameter was not published (it happened for earlier releases in some
regions; China and GovCloud have none at all), and it ties a deployment to
an artifact nobody here has seen. Instead the function's requirements file
(``lambdas/analyze_image/requirements.txt``: every package pinned, its
dependencies included) is installed with pip for the function's platform
(CPython of the runtime's version on Amazon Linux, wheels only, so nothing
is compiled for the wrong machine) and shipped as a layer in the stack's
own assets.

The install happens once per requirements file and target: it lands in a
cache folder named by their hash (``SHOPPER_SENTIMENT_CACHE``, else
``$XDG_CACHE_HOME/shopper-sentiment`` or ``~/.cache/shopper-sentiment``),
and later synths reuse it without the network. The same hash is the
layer's asset hash, so the layer changes exactly when a pin or the target
does, whatever machine built it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: The folder a Python layer's packages go in (Lambda adds /opt/python to sys.path).
LAYER_PYTHON_DIR = "python"
CACHE_ENV = "SHOPPER_SENTIMENT_CACHE"
#: Bump when the way the folder is built changes, so old cache entries are not reused.
_BUILD_FORMAT = "1"
#: What pip writes that a layer does not need and that would differ from machine to
#: machine (console scripts carry the building interpreter's path in their first line).
_NOT_SHIPPED = ("bin",)


class DependencyBuildError(RuntimeError):
    """The pinned requirements could not be installed for the function's platform."""


@dataclass(frozen=True)
class LambdaTarget:
    """The interpreter and machine the function runs on, as pip's platform options name them."""

    python_version: str
    #: manylinux tags the runtime's glibc accepts, newest first.
    platforms: tuple[str, ...]

    @classmethod
    def for_runtime(cls, runtime_name: str, architecture_name: str) -> LambdaTarget:
        """``python3.14`` on ``arm64`` → CPython 3.14, manylinux aarch64 wheels."""
        if not runtime_name.startswith("python"):
            raise ValueError(f"not a Python runtime: {runtime_name!r}")
        machine = {"arm64": "aarch64", "x86_64": "x86_64"}.get(architecture_name)
        if machine is None:
            raise ValueError(f"unknown Lambda architecture: {architecture_name!r}")
        # Amazon Linux 2023 (the image of python3.12 and later) has glibc 2.34.
        return cls(
            python_version=runtime_name.removeprefix("python"),
            platforms=(f"manylinux_2_34_{machine}", f"manylinux_2_28_{machine}", f"manylinux2014_{machine}"),
        )

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    def pip_options(self) -> list[str]:
        options = ["--only-binary=:all:", "--implementation", "cp", "--python-version", self.python_version]
        options += ["--abi", self.abi, "--abi", "abi3", "--abi", "none"]
        for platform in self.platforms:
            options += ["--platform", platform]
        return options

    def describe(self) -> str:
        return f"CPython {self.python_version} on {self.platforms[-1].split('_', 1)[1]}"


def dependencies_hash(requirements: Path, target: LambdaTarget) -> str:
    """The identity of the layer: the pinned requirements and the platform they are built for."""
    digest = hashlib.sha256()
    digest.update(_BUILD_FORMAT.encode() + b"\0")
    digest.update(repr(target).encode() + b"\0")
    digest.update(requirements.read_bytes())
    return digest.hexdigest()


def cache_root() -> Path:
    if configured := os.environ.get(CACHE_ENV):
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shopper-sentiment"


def build_dependencies(requirements: Path, target: LambdaTarget, *, cache: Path | None = None) -> Path:
    """The folder to ship as the layer (holding ``python/``), built on first use and cached.

    Raises ``DependencyBuildError`` naming the requirements file, the target
    and pip's own message when the install fails (no network on a first
    build, a pin with no wheel for the target, a typo).
    """
    if not requirements.is_file():
        raise DependencyBuildError(f"the function's requirements file is missing: {requirements}")
    folder = (cache or cache_root()) / "lambda-dependencies" / dependencies_hash(requirements, target)
    if (folder / LAYER_PYTHON_DIR).is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".building-"))
    try:
        packages = building / LAYER_PYTHON_DIR
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += ["--no-compile", "--target", str(packages), *target.pip_options(), "-r", str(requirements)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our pip, our pins
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip().splitlines()
            raise DependencyBuildError(
                f"could not install {requirements} for {target.describe()}: "
                + " / ".join(line for line in said if not line.startswith("WARNING: Location"))[-2000:]
            )
        for name in _NOT_SHIPPED:
            shutil.rmtree(packages / name, ignore_errors=True)
        try:
            building.rename(folder)
        except OSError:
            if not (folder / LAYER_PYTHON_DIR).is_dir():
                raise
            # Another synth built the same folder meanwhile: theirs is as good as ours.
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder
