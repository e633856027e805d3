"""The analyze function's dependencies: pinned, built for its runtime, shipped in its own layer, importable."""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name

from shopper_sentiment.building.lambda_code import LAMBDA_TARGET, REQUIREMENTS_FILE_NAME
from shopper_sentiment.building.lambda_dependencies import (
    LAYER_PYTHON_DIR,
    DependencyBuildError,
    LambdaTarget,
    build_dependencies,
    dependencies_hash,
)
from shopper_sentiment.contracts import analyze_function as fn_env
from shopper_sentiment.tiers.process import HANDLER_DIR
from tests.cdk_apps import PROJECT_ROOT, is_analyze_function

REQUIREMENTS = HANDLER_DIR / REQUIREMENTS_FILE_NAME
#: What the Lambda Python runtimes ship besides the standard library (boto3 and what it needs).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "six.py", "urllib3")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            found[canonicalize_name(name)] = version
    return found


def shipped(packages: Path) -> dict[str, tuple[email.message.Message, Path]]:
    """Each distribution in the layer: its METADATA, by canonical name."""
    found = {}
    for info in packages.glob("*.dist-info"):
        metadata = email.parser.Parser().parsestr((info / "METADATA").read_text(encoding="utf-8"))
        found[canonicalize_name(metadata["Name"])] = (metadata, info)
    return found


def target_tags(target: LambdaTarget) -> set[Tag]:
    version = tuple(int(part) for part in target.python_version.split("."))
    platforms = list(target.platforms)
    return set(cpython_tags(version, platforms=platforms)) | set(compatible_tags(version, platforms=platforms))


def import_as_lambda(
    function: dict[str, Any], tmp_path: Path, probe: str, *paths: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``probe`` with only ``paths`` and the runtime's boto3 on ``sys.path`` (-S), in the function's environment.

    The environment is the template's (values CloudFormation resolves at deploy
    become placeholders) plus what Lambda sets in every environment (dummy
    credentials: nothing is called). -B: nothing is written into the assets.
    """
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(importlib.metadata.distribution("boto3").locate_file(""))
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    environment = {
        name: value if isinstance(value, str) else "from-the-stack"
        for name, value in function["Properties"]["Environment"]["Variables"].items()
    }
    environment |= {
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    return subprocess.run(
        [sys.executable, "-S", "-B", "-c", probe, *map(str, paths), str(runtime)],
        env={"PATH": os.environ["PATH"], **environment},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def layer() -> Path:
    return build_dependencies(REQUIREMENTS, LAMBDA_TARGET) / LAYER_PYTHON_DIR


def test_every_requirement_is_pinned_and_the_tests_run_against_the_same_releases():
    function_pins = pins(REQUIREMENTS)
    dev_pins = pins(PROJECT_ROOT / "requirements-dev.txt")
    assert "aws-lambda-powertools" in function_pins
    for name, version in function_pins.items():
        assert importlib.metadata.version(name) == version, f"the tests run {name} other than the function ships"
    assert function_pins["aws-lambda-powertools"] == dev_pins["aws-lambda-powertools"]


def test_the_layer_holds_exactly_the_pinned_releases(layer):
    # Exactly: a dependency pip had to add beyond the pins would ship unpinned.
    found = {name: metadata["Version"] for name, (metadata, _) in shipped(layer).items()}
    assert found == pins(REQUIREMENTS)
    assert not (layer / "bin").exists()


def test_every_shipped_wheel_is_built_for_the_function_runtime(layer):
    tags = target_tags(LAMBDA_TARGET)
    python = LAMBDA_TARGET.python_version
    for name, (metadata, info) in shipped(layer).items():
        wheel = email.parser.Parser().parsestr((info / "WHEEL").read_text(encoding="utf-8"))
        built_for = {Tag(*tag.split("-")) for tag in wheel.get_all("Tag")}
        assert built_for & tags, f"{name} is built for {sorted(map(str, built_for))}, not {LAMBDA_TARGET}"
        if requires := metadata["Requires-Python"]:
            assert python in SpecifierSet(requires), f"{name} requires Python {requires}, the runtime is {python}"


def test_the_function_asset_imports_with_only_its_layer_and_the_runtime_packages(demo_assembly, tmp_path):
    """The handler module loads as Lambda loads it: the asset, /opt/python, the runtime's boto3.

    Nothing else from this machine's site-packages is on the path (-S), so an
    import the layer does not provide fails here as it would in Lambda.
    """
    assets = Path(demo_assembly.directory)
    template, function = next(
        (stack.template, resource)
        for stack in demo_assembly.stacks
        for resource in stack.template["Resources"].values()
        if is_analyze_function(resource)
    )
    code = assets / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    (layer_ref,) = function["Properties"]["Layers"]
    layer_content = template["Resources"][layer_ref["Ref"]]["Properties"]["Content"]
    layer = assets / f"asset.{layer_content['S3Key'].removesuffix('.zip')}" / LAYER_PYTHON_DIR
    assert (layer / "aws_lambda_powertools").is_dir()
    assert not (code / "aws_lambda_powertools").exists()

    probe = (
        "import sys; sys.path[:0] = sys.argv[1:]; import app; "
        "assert callable(app.handler); "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('aws_lambda_powertools', 'jmespath'))}))"
    )
    result = import_as_lambda(function, tmp_path, probe, code, layer)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.replace("'", '"')) == ["aws_lambda_powertools", "jmespath"]
    assert function["Properties"]["Environment"]["Variables"][fn_env.DEVICE_REGISTRY_FILE] == fn_env.REGISTRY_FILE_NAME


def test_a_second_build_reuses_the_cached_folder_without_pip(layer, monkeypatch):
    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran again for a cached build")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert build_dependencies(REQUIREMENTS, LAMBDA_TARGET) / LAYER_PYTHON_DIR == layer


def test_the_layer_hash_follows_the_pins_and_the_target(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("aws-lambda-powertools==3.37.0\n", encoding="utf-8")
    arm = LambdaTarget.for_runtime("python3.14", "arm64")
    first = dependencies_hash(requirements, arm)
    assert first == dependencies_hash(requirements, LambdaTarget.for_runtime("python3.14", "arm64"))
    assert first != dependencies_hash(requirements, LambdaTarget.for_runtime("python3.14", "x86_64"))
    assert first != dependencies_hash(requirements, LambdaTarget.for_runtime("python3.13", "arm64"))
    requirements.write_text("aws-lambda-powertools==3.36.0\n", encoding="utf-8")
    assert first != dependencies_hash(requirements, arm)


def test_a_failed_install_names_the_requirements_file_the_target_and_what_pip_said(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("no-such-package-for-shopper-sentiment==1.0\n", encoding="utf-8")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # fail fast, offline
    with pytest.raises(DependencyBuildError) as raised:
        build_dependencies(requirements, LAMBDA_TARGET, cache=tmp_path / "cache")
    message = str(raised.value)
    assert str(requirements) in message
    assert "CPython 3.14" in message
    assert "no-such-package-for-shopper-sentiment" in message
    # Nothing half-built is left to be mistaken for a finished build.
    assert not list((tmp_path / "cache" / "lambda-dependencies").iterdir())


def test_a_missing_requirements_file_is_named(tmp_path):
    with pytest.raises(DependencyBuildError, match="requirements file is missing"):
        build_dependencies(tmp_path / "requirements.txt", LAMBDA_TARGET, cache=tmp_path)


@pytest.mark.parametrize(
    ("runtime", "architecture", "message"),
    [("nodejs22.x", "arm64", "not a Python runtime"), ("python3.14", "mips", "unknown Lambda architecture")],
)
def test_an_unknown_target_is_refused(runtime, architecture, message):
    with pytest.raises(ValueError, match=message):
        LambdaTarget.for_runtime(runtime, architecture)
