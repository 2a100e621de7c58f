"""The exit codes every rollout-package command shares (`rayship rollout`, `rayship scale`, `rayship deploy`), and
the one mapping of a rayship error to them: bad input (an invalid argument, file or spec; a model, version or app
that is not there) is 2, anything refused or unreachable (a held lease, an archived version, the cluster down) 3."""

from __future__ import annotations

import argparse
import sys

from rayship.errors import InvalidInputError, NotFoundError, RayshipError

OK, ROLLED_BACK, BAD_INPUT, REFUSED = 0, 1, 2, 3


def parse_or_exit_code(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code when argparse stopped (usage printed: 2; --help: 0)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the problem
        return BAD_INPUT if exc.code else OK


def reported(exc: RayshipError) -> int:
    """Print the error as every CLI does and return its exit code."""
    print(f"error: {exc}", file=sys.stderr)
    return BAD_INPUT if isinstance(exc, InvalidInputError | NotFoundError) else REFUSED
