"""The subcommands of ``shopper-sentiment``, one module each.

A module here that defines ``NAME`` (the subcommand), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int`` is a subcommand: the CLI
finds it by itself (shopper_sentiment/cli.py), so adding one is adding a file.
``run`` returns the exit code: ``EXIT_DONE``, ``EXIT_LEFT_OVER`` (done, with
something left that it names) or ``EXIT_USAGE`` (bad arguments or config).
"""

from __future__ import annotations

EXIT_DONE = 0
EXIT_LEFT_OVER = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad arguments or config: the message names the input and what to do (exit code 2)."""
