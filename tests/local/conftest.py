"""Shared inputs for the local pipeline's tests: real photos, one analyzer, one composed day."""

from __future__ import annotations

import importlib.util
import io
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from local.analyzer import LocalFaceAnalyzer
from local.scenes import Frame, compose_day_frames

#: device id → zone of the small simulated store most scene tests share.
DEVICES = {"pi-entrance-1": "entrance", "pi-checkout-1": "checkout", "pi-aisle-3": "aisle"}
DAY = date(2026, 11, 25)
FRAMES_PER_DEVICE = 8
SEED = 3


def skimage_data(name: str) -> Path:
    """A sample file that ships inside the scikit-image wheel (read directly, skimage is not imported)."""
    spec = importlib.util.find_spec("skimage")
    assert spec is not None and spec.submodule_search_locations, "scikit-image is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def analyzer() -> LocalFaceAnalyzer:
    return LocalFaceAnalyzer()


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    """Eileen Collins' NASA portrait: one frontal, smiling face."""
    return Image.open(skimage_data("astronaut.png")).convert("RGB")


@pytest.fixture(scope="session")
def coffee() -> Image.Image:
    """A cup of coffee on a table: no face."""
    return Image.open(skimage_data("coffee.png")).convert("RGB")


@pytest.fixture(scope="session")
def composed_day(tmp_path_factory) -> list[Frame]:
    return compose_day_frames(tmp_path_factory.mktemp("frames"), DEVICES, DAY, FRAMES_PER_DEVICE, seed=SEED)
