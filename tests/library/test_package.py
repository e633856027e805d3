"""The package's face: its version, its public names, and an import that does not start the CDK."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

import shopper_sentiment


def test_version_is_the_installed_distribution_s():
    # The metadata is written at install time: after a version bump, reinstall (`pip install --no-deps -e .`).
    assert shopper_sentiment.__version__ == importlib.metadata.version("shopper-sentiment")


def test_public_names_are_listed_once_and_shown_by_dir():
    assert len(shopper_sentiment.__all__) == len(set(shopper_sentiment.__all__))
    assert set(shopper_sentiment.__all__) <= set(dir(shopper_sentiment))


@pytest.mark.parametrize("name", shopper_sentiment.__all__)
def test_every_public_name_resolves(name: str):
    assert getattr(shopper_sentiment, name) is not None


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'IngestTeir'"):
        _ = shopper_sentiment.IngestTeir


def test_importing_the_package_does_not_start_the_cdk(tmp_path):
    script = (
        "import json, sys, shopper_sentiment; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'constructs'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout) == []
