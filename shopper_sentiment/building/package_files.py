"""Folders the library ships beside its code: the functions' source and the named queries.

The wheel carries them as package data (``shopper_sentiment.functions`` is
built from this repository's ``lambdas/``, ``shopper_sentiment.dashboards``
from ``dashboards/``), so a construct finds them through the installed
package, never through the working directory or a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def packaged_folder(package: str, name: str) -> Path:
    """The folder ``name`` of the installed ``package``; an error naming both if the install lacks it."""
    folder = Path(str(files(package) / name))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{package} has no folder {name!r} at {folder}: the shopper-sentiment install is incomplete "
            "(reinstall the wheel, or `pip install -e .` in a checkout)"
        )
    return folder
