"""``shopper-sentiment``: one entry point, a subcommand per operator task.

Subcommands are the modules of ``shopper_sentiment.commands`` (see its
docstring for what a module provides); each has ``--help`` with an example.
Exit codes: 0 done, 1 done with something left (named in the output),
2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from shopper_sentiment import commands
from shopper_sentiment.commands import EXIT_USAGE, UsageError
from shopper_sentiment.version import __version__

PROG = "shopper-sentiment"


def subcommands() -> dict[str, ModuleType]:
    """Every subcommand module of shopper_sentiment.commands, by name."""
    found = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if all(hasattr(module, name) for name in ("NAME", "HELP", "add_arguments", "run")):
            found[module.NAME] = module
    return found


def build_parser(modules: dict[str, ModuleType] | None = None) -> argparse.ArgumentParser:
    modules = subcommands() if modules is None else modules
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Operator commands of a Shopper Sentiment deployment.",
        epilog="Exit codes: 0 done, 1 done with something left (named), 2 bad arguments or config.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in modules.items():
        command = sub.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with argparse's message on bad arguments
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover - python -m shopper_sentiment.cli
    sys.exit(main())
