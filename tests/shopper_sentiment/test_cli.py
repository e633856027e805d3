"""The ``shopper-sentiment`` entry point: subcommands found by module, exit codes, the installed script."""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from pathlib import Path

import pytest

from shopper_sentiment import cli
from shopper_sentiment.commands import EXIT_USAGE, UsageError


def test_every_module_with_the_subcommand_interface_is_a_subcommand():
    assert "erase" in cli.subcommands()


def test_a_new_subcommand_is_a_module_with_name_help_arguments_and_run(capsys):
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--times", type=int, default=1)

    def run(args: argparse.Namespace) -> int:
        if args.times < 1:
            raise UsageError("--times must be at least 1")
        print("hello " * args.times)
        return 0

    hello = types.ModuleType("hello", "Say hello.\n\nExample:\n  shopper-sentiment hello --times 2")
    hello.NAME, hello.HELP, hello.add_arguments, hello.run = "hello", "say hello", add_arguments, run
    parser = cli.build_parser({"hello": hello})

    args = parser.parse_args(["hello", "--times", "2"])
    assert args.run(args) == 0
    assert capsys.readouterr().out.strip() == "hello hello"


def test_a_usage_error_is_printed_with_the_command_and_exits_two(capsys, tmp_path):
    assert cli.main(["erase", "--store", "s", "--config", str(tmp_path / "missing.toml")]) == EXIT_USAGE
    assert "shopper-sentiment erase: error:" in capsys.readouterr().err


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2


def test_the_console_script_is_installed_beside_the_interpreter_and_answers_help():
    # `make test` and `make synth` install it (pip install --no-deps -e .).
    script = Path(sys.executable).parent / "shopper-sentiment"
    assert script.exists(), "run make test (or pip install --no-deps -e .) to install the console script"
    result = subprocess.run([str(script), "erase", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "--dry-run" in result.stdout
