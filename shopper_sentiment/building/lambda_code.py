"""How the project's Lambda functions are packaged: one runtime, code with its deployment's file, pinned layers.

Every function (analyze, compaction, silence check) is Python 3.14 on arm64.
Its code asset is its handler folder plus one file the deployment writes at
synth (the device registry, the compaction config, the stores' hours): too
large for Lambda's 4 KB of environment, and part of what the function must
see change. CDK would hash the source folder alone, so a changed file would
leave the template unchanged and the upload skipped; ``code_with_file``
hashes what the bundle holds. A function with dependencies gets them as a
layer of the stack's own (``dependencies_layer``), built from the pinned
``requirements.txt`` in its handler folder (``shopper_sentiment/building/lambda_dependencies.py``),
so a deploy looks nothing up.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from shopper_sentiment.building.lambda_dependencies import LambdaTarget, build_dependencies, dependencies_hash

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
LAMBDA_TARGET = LambdaTarget.for_runtime(LAMBDA_RUNTIME.name, LAMBDA_ARCHITECTURE.name)
#: A function's pinned dependencies, in its handler folder (shipped as its layer, not with the code).
REQUIREMENTS_FILE_NAME = "requirements.txt"
ASSET_EXCLUDE = ("__pycache__", "*.pyc", ".pytest_cache", REQUIREMENTS_FILE_NAME)
#: Required by BundlingOptions; never run: the local bundling below always succeeds.
_BUNDLING_IMAGE = "public.ecr.aws/lambda/python:3.14"


def code_asset_hash(source: Path, file_name: str, content: str) -> str:
    """The asset's identity: every file the bundle copies, and the deployment's file."""
    digest = hashlib.sha256()
    excluded = shutil.ignore_patterns(*ASSET_EXCLUDE)
    for folder, subfolders, files in sorted(os.walk(source)):
        ignored = excluded(folder, [*subfolders, *files])
        subfolders[:] = sorted(d for d in subfolders if d not in ignored)
        for name in sorted(f for f in files if f not in ignored):
            path = Path(folder) / name
            digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(file_name.encode() + b"\0" + content.encode())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _FolderWithFile:
    """Local (Docker-free) bundling: the handler folder plus the deployment's file."""

    def __init__(self, source: Path, file_name: str, content: str) -> None:
        self._source = source
        self._file_name = file_name
        self._content = content

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        shutil.copytree(self._source, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*ASSET_EXCLUDE))
        (Path(output_dir) / self._file_name).write_text(self._content, encoding="utf-8")
        return True


def code_with_file(source: Path, file_name: str, content: str) -> lambda_.Code:
    """The handler folder as the function's code, with ``file_name`` holding ``content`` beside it."""
    return lambda_.Code.from_asset(
        str(source),
        exclude=list(ASSET_EXCLUDE),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=code_asset_hash(source, file_name, content),
        bundling=BundlingOptions(
            image=DockerImage.from_registry(_BUNDLING_IMAGE),
            local=_FolderWithFile(source, file_name, content),
        ),
    )


def dependencies_layer(scope: Construct, id_: str, handler_dir: Path, *, function: str) -> lambda_.LayerVersion:
    """The pinned ``requirements.txt`` of ``handler_dir``, installed for the runtime, as a layer of the stack."""
    requirements = handler_dir / REQUIREMENTS_FILE_NAME
    return lambda_.LayerVersion(
        scope,
        id_,
        description=f"The {function} function's pinned dependencies ({LAMBDA_TARGET.describe()})",
        code=lambda_.Code.from_asset(
            str(build_dependencies(requirements, LAMBDA_TARGET)),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=dependencies_hash(requirements, LAMBDA_TARGET),
        ),
        compatible_runtimes=[LAMBDA_RUNTIME],
        compatible_architectures=[LAMBDA_ARCHITECTURE],
    )
