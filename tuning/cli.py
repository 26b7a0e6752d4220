"""The `smtune` command."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import NoReturn

from smtune.containers import cli as containers_cli
from smtune.containers.errors import exit_for
from smtune.entrypoints.contract.lifecycle import exit_process
from smtune.tuning import commands as tuning_commands
from smtune.tuning.study import cli as study_cli


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="smtune",
        description="Train custom images on SageMaker across hosts, and tune them with Hyperband.",
    )
    root.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = root.add_subparsers(dest="command", required=True)
    containers_cli.add_commands(commands)
    tuning_commands.add_commands(commands)
    study_cli.add_command(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # our own progress, without the libraries' chatter
        logging.getLogger("smtune").setLevel(logging.INFO)
    try:
        return int(args.handler(args))
    except Exception as error:
        ended = exit_for(error)
        if ended is None:  # a bug: its traceback is what helps
            raise
        code, line = ended
        print(line, file=sys.stderr)
        return code


def run() -> NoReturn:
    """The console script: `main`, then the exit without Python's teardown (≈ 10 ms here).

    When `main` returns, a command's work is done: files closed, jobs reaped, its threads
    (daemon log pumps) joined; there is no temporary file left to a finalizer.
    """
    exit_process(main())


if __name__ == "__main__":
    run()
