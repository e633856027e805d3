"""Frame thinning by change detection on a grid of regions.

A still is compared with the last uploaded still of the same camera, both
reduced to a small grey thumbnail (libjpeg decodes at 1/8 scale, so this is
cheap on a Pi). The thumbnail is cut into a grid of cells; a cell whose mean
absolute difference stands out from the frame's typical cell difference by
more than ``cell_threshold`` grey levels has changed. One changed cell is
enough to upload: a person who walks in changes the cells they cover however
small a part of the frame that is, which a whole-frame hash (64-bit dHash)
averages away.

Lighting is compensated before comparing: the reference is scaled by the
median brightness ratio of the cells (a camera's auto-exposure or the lights
of the shop change every cell by about the same factor, a person only the
cells they cover), and what remains common to all cells is subtracted by
comparing each cell with the median cell.

Only Pillow's C code touches pixels; the Python work is per cell.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageChops

#: Thumbnail pixels per cell side: a cell is the mean of cell_pixels x cell_pixels thumbnail pixels.
CELL_PIXELS = 2
# Cells darker than this in the reference say little about the gain.
_MIN_REFERENCE_LEVEL = 16


class UndecodableImage(ValueError):
    """The bytes do not decode as one whole image (truncated, or not an image)."""


@dataclass(frozen=True)
class Thumbnail:
    """A grey thumbnail of a still, row-major bytes (one per pixel)."""

    width: int
    height: int
    pixels: bytes


@dataclass(frozen=True)
class Comparison:
    """How a still differs from the reference, per cell (grey levels above the frame's median cell)."""

    largest_change: float
    changed_cells: int
    gain: float


def thumbnail_size(columns: int, rows: int) -> tuple[int, int]:
    return columns * CELL_PIXELS, rows * CELL_PIXELS


def decode(data: bytes, size: tuple[int, int]) -> Thumbnail:
    """Decode the whole image (every scan) and reduce it to a grey thumbnail of ``size``.

    Raises UndecodableImage when the data is not one whole image: a truncated
    file fails here even if its first part happens to end in the JPEG end
    marker, because libjpeg must parse all entropy-coded data to decode it,
    even at 1/8 scale.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", size)
            image.load()
            grey = image if image.mode == "L" else image.convert("L")
            small = grey.resize(size, Image.Resampling.BOX)
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError... for broken data
        raise UndecodableImage(f"{type(exc).__name__}: {exc}") from exc
    return Thumbnail(width=size[0], height=size[1], pixels=small.tobytes())


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def compare(current: Thumbnail, reference: Thumbnail, cell_threshold: float) -> Comparison | None:
    """Per-cell change of ``current`` against ``reference``; None if they cannot be compared (other size)."""
    if (current.width, current.height) != (reference.width, reference.height):
        return None
    size = (current.width, current.height)
    grid = (current.width // CELL_PIXELS, current.height // CELL_PIXELS)
    now = Image.frombytes("L", size, current.pixels)
    before = Image.frombytes("L", size, reference.pixels)
    now_cells = now.resize(grid, Image.Resampling.BOX).tobytes()
    before_cells = before.resize(grid, Image.Resampling.BOX).tobytes()
    ratios = [a / b for a, b in zip(now_cells, before_cells, strict=True) if b >= _MIN_REFERENCE_LEVEL]
    gain = min(4.0, max(0.25, _median(ratios))) if ratios else 1.0
    if abs(gain - 1.0) > 0.01:
        before = before.point([min(255, round(level * gain)) for level in range(256)])
    difference = ImageChops.difference(now, before).resize(grid, Image.Resampling.BOX).tobytes()
    typical = _median(list(difference))
    excess = [level - typical for level in difference]
    changed = sum(1 for level in excess if level > cell_threshold)
    return Comparison(largest_change=max(excess), changed_cells=changed, gain=gain)


def skippable(
    current: Thumbnail,
    taken_at: float,
    reference: Thumbnail | None,
    reference_taken_at: float,
    *,
    window_seconds: float,
    cell_threshold: float,
) -> Comparison | None:
    """The comparison that lets ``current`` be skipped as unchanged, or None if it must be uploaded.

    Skipped only when a reference (the camera's last uploaded still) exists,
    was taken within ``window_seconds``, and no cell changed: an unchanged
    scene is still uploaded once per window.
    """
    if reference is None or abs(taken_at - reference_taken_at) > window_seconds:
        return None
    change = compare(current, reference, cell_threshold)
    if change is None or change.changed_cells:
        return None
    return change
