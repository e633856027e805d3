"""Benchmark figures are recorded as they are printed, per script, with the run's context."""

from __future__ import annotations

import ast
import json
import math
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import results
from bench.results import BenchResultsError, BenchRun, Figure, Target, run_context

BENCH_DIR = Path(results.__file__).resolve().parent
#: Every benchmark script `make bench` runs: each must print through BenchRun.
WIRED_SCRIPTS = tuple(sorted(path.name for path in BENCH_DIR.glob("bench_*.py")))


@pytest.fixture
def results_file(tmp_path: Path) -> Path:
    return tmp_path / ".bench" / "results.json"


def stored(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_shown_figure_is_written_before_it_is_printed(results_file, monkeypatch):
    run = BenchRun(BENCH_DIR / "bench_queries.py", path=results_file)
    printed_after_write = []
    monkeypatch.setattr(
        "builtins.print", lambda line: printed_after_write.append((line, stored(results_file)["scripts"]))
    )

    run.show("whole month: JSON lines 12.0 MiB", Figure("JSON lines", 12.0, "MiB"))

    ((line, scripts),) = printed_after_write
    assert line == "whole month: JSON lines 12.0 MiB"
    assert scripts["bench_queries"]["figures"][0]["name"] == "JSON lines"


def test_the_line_is_printed_exactly(results_file, capsys):
    with BenchRun(BENCH_DIR / "bench_synth.py", path=results_file) as run:
        run.show("  demo (2 stores, 4 devices)     12.34 s", Figure("synth: demo", 12.34, "s"))
        run.show("cdk synth wall time (median of 2, CLI + jsii + cdk-nag):")

    assert (
        capsys.readouterr().out
        == "  demo (2 stores, 4 devices)     12.34 s\ncdk synth wall time (median of 2, CLI + jsii + cdk-nag):\n"
    )


def test_the_file_has_one_entry_per_script_with_its_run_and_figures(results_file, capsys):
    with BenchRun(BENCH_DIR / "bench_edge.py", parameters={"images": 1000}, path=results_file) as run:
        run.show("agent peak RSS: 41.5 MiB", Figure("agent peak RSS", 41.5, "MiB"))

    document = stored(results_file)
    assert document["version"] == results.FORMAT_VERSION
    assert list(document["scripts"]) == ["bench_edge"]
    entry = document["scripts"]["bench_edge"]
    assert set(entry) == {"script", "complete", "run", "parameters", "figures"}
    assert entry["script"] == "bench/bench_edge.py"
    assert entry["complete"] is True
    assert entry["parameters"] == {"images": 1000}
    assert entry["figures"] == [{"name": "agent peak RSS", "value": 41.5, "unit": "MiB", "target": None, "met": None}]
    assert set(entry["run"]) == {"started_at", "git_commit", "python", "cpu_count", "platform"}


def test_the_run_context_says_when_where_and_what(monkeypatch):
    monkeypatch.setattr(results, "git_commit", lambda: "0123abcd" * 5)

    context = run_context(datetime(2026, 3, 14, 10, 26, 53, 123000, tzinfo=UTC))

    assert context["started_at"] == "2026-03-14T10:26:53Z"
    assert context["git_commit"] == "0123abcd" * 5
    assert context["python"].count(".") == 2
    assert isinstance(context["cpu_count"], int) and context["cpu_count"] >= 1
    assert context["platform"]


def test_the_commit_is_the_checked_out_one_and_none_outside_a_repository(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=results.ROOT, capture_output=True, text=True, check=True)

    assert results.git_commit() == head.stdout.strip()
    assert results.git_commit(cwd=tmp_path) is None


def test_without_git_the_commit_is_none(monkeypatch):
    monkeypatch.setenv("PATH", "")

    assert results.git_commit() is None


def test_running_one_script_keeps_the_others_figures(results_file, capsys):
    with BenchRun(BENCH_DIR / "bench_synth.py", path=results_file) as synth:
        synth.show("synth", Figure("synth: demo", 12.3, "s"))
    with BenchRun(BENCH_DIR / "bench_queries.py", path=results_file) as queries:
        queries.show("faces", Figure("faces", 1_001_720, "faces"))
    with BenchRun(BENCH_DIR / "bench_queries.py", path=results_file) as again:
        again.show("faces", Figure("faces", 999, "faces"))

    scripts = stored(results_file)["scripts"]
    assert sorted(scripts) == ["bench_queries", "bench_synth"]
    assert scripts["bench_synth"]["figures"][0]["value"] == 12.3
    assert [f["value"] for f in scripts["bench_queries"]["figures"]] == [999]


def test_a_run_that_fails_keeps_what_it_printed_marked_incomplete(results_file, capsys):
    with pytest.raises(RuntimeError), BenchRun(BENCH_DIR / "bench_edge.py", path=results_file) as run:
        run.show("corpus", Figure("corpus: mean JPEG size", 201.0, "KiB"))
        raise RuntimeError("moto server did not start")

    entry = stored(results_file)["scripts"]["bench_edge"]
    assert entry["complete"] is False
    assert [f["name"] for f in entry["figures"]] == ["corpus: mean JPEG size"]


@pytest.mark.parametrize(
    ("target", "value", "met"),
    [
        (Target.at_most(3, "issue 3"), 2.0, True),
        (Target.at_most(3, "issue 3"), 3.0, True),
        (Target.at_most(3, "issue 3"), 3.5, False),
        (Target.at_least(100, "issue 4"), 120.0, True),
        (Target.at_least(100, "issue 4"), 99.9, False),
    ],
)
def test_a_target_is_recorded_with_whether_it_was_met(results_file, capsys, target, value, met):
    with BenchRun(BENCH_DIR / "bench_analyze.py", path=results_file) as run:
        run.show("calls", Figure("Firehose calls per 1,000 faces", value, "calls", target))

    (figure,) = stored(results_file)["scripts"]["bench_analyze"]["figures"]
    assert figure["met"] is met
    assert figure["target"]["comparison"] == target.comparison
    assert figure["target"]["limit"] == target.limit
    assert figure["target"]["source"] == target.source


def test_the_target_reads_as_the_issue_states_it():
    assert Target.at_most(3, "issue 3").as_json()["text"] == "≤ 3 (issue 3)"
    assert Target.at_least(0.5, "issue 4").as_json()["text"] == "≥ 0.5 (issue 4)"


def test_a_figure_that_could_not_be_measured_is_null_and_neither_met_nor_missed():
    figure = Figure("agent peak RSS", math.nan, "MiB", Target.at_most(64, "issue 5"))

    assert figure.as_json()["value"] is None
    assert figure.met is None


def test_a_figure_name_recorded_twice_is_refused(results_file, capsys):
    run = BenchRun(BENCH_DIR / "bench_synth.py", path=results_file)
    run.show("a", Figure("synth: demo", 1.0, "s"))

    with pytest.raises(ValueError, match="'synth: demo' recorded twice"):
        run.show("b", Figure("synth: demo", 2.0, "s"))
    assert capsys.readouterr().out == "a\n"


@pytest.mark.parametrize("content", ["{not json", '{"scripts": {}}', "[]", '{"version": 1, "scripts": []}'])
def test_a_file_that_is_not_results_is_left_alone_with_a_clear_error(results_file, content, capsys):
    results_file.parent.mkdir(parents=True)
    results_file.write_text(content, encoding="utf-8")

    with pytest.raises(BenchResultsError, match=r"results.json: .*move it away or delete it"):
        BenchRun(BENCH_DIR / "bench_queries.py", path=results_file).show("x", Figure("faces", 1, "faces"))
    assert results_file.read_text(encoding="utf-8") == content
    assert capsys.readouterr().out == ""


def test_results_land_under_the_repository_root_in_a_git_ignored_folder():
    assert results.RESULTS_PATH == results.ROOT / ".bench" / "results.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(results.RESULTS_PATH)], cwd=results.ROOT, check=False)
    assert ignored.returncode == 0


def _print_calls(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    ]


@pytest.mark.parametrize("script", WIRED_SCRIPTS)
def test_benchmark_scripts_print_only_through_their_bench_run(script):
    tree = ast.parse((BENCH_DIR / script).read_text(encoding="utf-8"))

    assert _print_calls(tree) == [], f"{script}: a bare print() would show a figure without recording it"
    assert any(isinstance(node, ast.Attribute) and node.attr == "show" for node in ast.walk(tree))


@pytest.mark.parametrize("script", ["results.py", *WIRED_SCRIPTS])
def test_benchmarks_do_not_import_the_tests(script):
    tree = ast.parse((BENCH_DIR / script).read_text(encoding="utf-8"))

    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert [m for m in modules if m == "tests" or m.startswith("tests.")] == []
