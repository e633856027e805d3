"""The public API is stated: shopper_sentiment exports exactly what docs/library.md lists and CHANGELOG.md names.

Removing or renaming an export therefore fails here until the page and the
changelog say so: breaking a public name is a visible change.
"""

from __future__ import annotations

import re
from pathlib import Path

import shopper_sentiment

ROOT = Path(__file__).resolve().parent.parent


def documented_names() -> set[str]:
    page = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    table = page[page.index("## Public API") :]
    table = table[: table.index("\n## ", 1)]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_every_export_is_documented_and_every_documented_name_exported():
    assert documented_names() == set(shopper_sentiment.__all__)


def test_the_changelog_names_every_export_and_the_current_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    missing = sorted(name for name in shopper_sentiment.__all__ if f"`{name}`" not in changelog)
    assert not missing, f"CHANGELOG.md does not name {missing}"
    assert f"## {shopper_sentiment.__version__} " in changelog


def test_every_export_resolves_to_what_its_module_defines():
    exports = shopper_sentiment._EXPORTS
    assert set(shopper_sentiment.__all__) == {"__version__", *exports}
    for name, (module, attribute) in exports.items():
        value = getattr(shopper_sentiment, name)
        assert value is getattr(__import__(module, fromlist=[attribute]), attribute), name
        if isinstance(value, type) or callable(value):
            assert value.__doc__, f"{name} has no docstring"
