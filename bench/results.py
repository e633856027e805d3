"""Benchmark figures: printed as before, and kept in ``.bench/results.json``.

A benchmark script prints its figures through one ``BenchRun``::

    with BenchRun(__file__, parameters={"runs": RUNS}) as run:
        run.show(f"cdk synth wall time (median of {RUNS}):")
        run.show(f"  {label:<28} {seconds:6.2f} s", Figure(f"synth: {label}", seconds, "s"))

``show`` records the figures the line states, writes the file, then prints
the line: a figure is never printed without being written, even when the
script dies later. Lines without a figure go through ``show`` too, so a
script has no ``print`` of its own (``tests/bench`` checks that).

The file holds one entry per script, replaced as a whole by that script's
next run, so running one benchmark leaves the others' figures alone. Each
entry says when, on what and at which commit it ran, so figures from two
machines can be compared::

    {"version": 1,
     "scripts": {"bench_queries": {
         "script": "bench/bench_queries.py", "complete": true,
         "run": {"started_at": "2026-11-29T06:50:54Z", "git_commit": "52cd67d8...",
                 "python": "3.11.7", "cpu_count": 2, "platform": "Linux-6.18.44-x86_64-with-glibc2.36"},
         "parameters": {"stores": 10, ...},
         "figures": [{"name": "faces", "value": 1122260, "unit": "faces", "target": null, "met": null},
                     ...]}}}

``complete`` is false while the script runs and stays false if it fails.
A figure an issue sets a target for carries it (``Target.at_most(3, "issue 3")``)
and whether it was met.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / ".bench" / "results.json"
FORMAT_VERSION = 1


class BenchResultsError(RuntimeError):
    """The results file cannot be merged into (not ours, or unreadable)."""


@dataclass(frozen=True)
class Target:
    """A limit a figure should stay within, and who set it."""

    comparison: Literal["<=", ">="]
    limit: float
    #: Where the target is stated, e.g. "issue 3".
    source: str

    @classmethod
    def at_most(cls, limit: float, source: str) -> Target:
        return cls("<=", limit, source)

    @classmethod
    def at_least(cls, limit: float, source: str) -> Target:
        return cls(">=", limit, source)

    def met_by(self, value: float) -> bool:
        return value <= self.limit if self.comparison == "<=" else value >= self.limit

    def as_json(self) -> dict[str, Any]:
        symbol = "≤" if self.comparison == "<=" else "≥"
        return {
            "comparison": self.comparison,
            "limit": self.limit,
            "source": self.source,
            "text": f"{symbol} {self.limit:g} ({self.source})",
        }


@dataclass(frozen=True)
class Figure:
    """One measured figure, in the unit it is printed in."""

    name: str
    value: float
    unit: str
    target: Target | None = None

    @property
    def met(self) -> bool | None:
        """Whether the target was met; None without a target or without a value (NaN)."""
        if self.target is None or not math.isfinite(self.value):
            return None
        return self.target.met_by(self.value)

    def as_json(self) -> dict[str, Any]:
        # JSON has no NaN or infinity: a figure that could not be measured is null.
        value = self.value if math.isfinite(self.value) else None
        target = self.target.as_json() if self.target else None
        return {"name": self.name, "value": value, "unit": self.unit, "target": target, "met": self.met}


def git_commit(cwd: Path = ROOT) -> str | None:
    """The checked-out commit, or None where there is no git or no repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def run_context(now: datetime | None = None) -> dict[str, Any]:
    """What a figure depends on besides the code: when, where, which interpreter and commit."""
    started = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"version": FORMAT_VERSION, "scripts": {}}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchResultsError(f"{path}: cannot read it as results ({exc}); move it away or delete it") from exc
    if (
        not isinstance(document, dict)
        or document.get("version") != FORMAT_VERSION
        or not isinstance(document.get("scripts"), dict)
    ):
        raise BenchResultsError(
            f"{path}: not version {FORMAT_VERSION} benchmark results; move it away or delete it to start afresh"
        )
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: an interrupted write never leaves half a file for the next script to merge into.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(document, tmp, indent=2, ensure_ascii=False)
        tmp.write("\n")
    Path(tmp.name).replace(path)


class BenchRun:
    """One run of one benchmark script: what it shows is recorded under the script's name.

    Entering replaces the script's previous entry (an empty, incomplete one
    until the first figure); leaving marks it complete unless the script failed.
    """

    def __init__(self, script: str | Path, *, parameters: dict[str, Any] | None = None, path: Path = RESULTS_PATH):
        resolved = Path(script).resolve()
        #: The script's key in the file: its file name without ``.py``.
        self.name = resolved.stem
        self.script = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else resolved.name
        self.parameters = dict(parameters or {})
        self.path = path
        self.context = run_context()
        self.figures: list[Figure] = []
        self.complete = False

    def __enter__(self) -> Self:
        self._save()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.complete = exc_type is None
        self._save()

    def show(self, line: str, *figures: Figure) -> None:
        """Record ``figures`` (the numbers ``line`` states), write them, then print ``line``."""
        names = {figure.name for figure in self.figures}
        for figure in figures:
            if figure.name in names:
                raise ValueError(f"{self.name}: figure {figure.name!r} recorded twice; give each figure its own name")
            names.add(figure.name)
        self.figures.extend(figures)
        self._save()
        print(line)

    def entry(self) -> dict[str, Any]:
        """This run as it is stored under ``scripts.<name>``."""
        return {
            "script": self.script,
            "complete": self.complete,
            "run": self.context,
            "parameters": self.parameters,
            "figures": [figure.as_json() for figure in self.figures],
        }

    def _save(self) -> None:
        document = _read(self.path)
        document["scripts"][self.name] = self.entry()
        _write(self.path, document)
