"""How functions are packaged: the handler folder plus the deployment's file, hashed as the bundle is."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopper_sentiment.building.lambda_code import (
    ASSET_EXCLUDE,
    REQUIREMENTS_FILE_NAME,
    _FolderWithFile,
    code_asset_hash,
)
from shopper_sentiment.building.package_files import packaged_folder


def handler_folder(tmp_path: Path) -> Path:
    source = tmp_path / "handler"
    (source / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "app.py").write_text("print('v1')\n")
    (source / "pkg" / "mod.py").write_text("X = 1\n")
    (source / REQUIREMENTS_FILE_NAME).write_text("tzdata==2026.6\n")  # shipped as the layer, not the code
    return source


def test_the_asset_hash_covers_the_handler_code_and_the_deployments_file(tmp_path):
    source = handler_folder(tmp_path)
    first = code_asset_hash(source, "registry.json", '{"a":1}')

    (source / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")  # excluded from the bundle
    (source / REQUIREMENTS_FILE_NAME).write_text("tzdata==2026.5\n")  # the layer's own hash covers it
    assert code_asset_hash(source, "registry.json", '{"a":1}') == first
    assert code_asset_hash(source, "registry.json", '{"a":2}') != first
    assert code_asset_hash(source, "stores.json", '{"a":1}') != first
    (source / "pkg" / "mod.py").write_text("X = 2\n")
    assert code_asset_hash(source, "registry.json", '{"a":1}') != first


def test_the_bundle_is_the_folder_without_what_is_excluded_plus_the_file(tmp_path):
    source = handler_folder(tmp_path)
    (source / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    out = tmp_path / "out"
    out.mkdir()

    assert _FolderWithFile(source, "registry.json", '{"pi-1":{}}').try_bundle(str(out), image=None)

    bundled = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert bundled == ["app.py", "pkg/mod.py", "registry.json"]
    assert (out / "registry.json").read_text() == '{"pi-1":{}}'
    assert "__pycache__" in ASSET_EXCLUDE and REQUIREMENTS_FILE_NAME in ASSET_EXCLUDE


def test_a_folder_the_install_lacks_is_named_with_its_package():
    assert (packaged_folder("shopper_sentiment.functions", "analyze_image") / "app.py").is_file()
    with pytest.raises(FileNotFoundError, match=r"shopper_sentiment\.functions has no folder 'nowhere' at .*install"):
        packaged_folder("shopper_sentiment.functions", "nowhere")
