"""The ``llenhance`` command line: ``main`` parses the arguments and runs a subcommand (one module each)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from llenhance.cli.common import CLIError
from llenhance.cli.enhance import enhance_command
from llenhance.cli.evaluate import evaluate_command, export_command
from llenhance.cli.parser import build_parser
from llenhance.cli.train import train_command


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``) ends the command like Ctrl-C: through the cleanup of half-written files."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _take_old_flags(args)
    with _terminate_as_exit():
        return _run(parser, args)


#: Flags of earlier versions: (their dest, the dest of the flag that replaced them, old flag, new flag).
OLD_FLAGS = (("weights_old", "weights", "--model", "--weights"), ("amp_old", "amp", "--half", "--amp"),
             ("target_exposure_old", "target_exposure", "--target-exposure", "--loss-at-reference-exposure"))


def _take_old_flags(args: argparse.Namespace) -> None:
    """Flags renamed in 0.4 still work: their value goes to the new flag, with a note on stderr."""
    for old, new, old_flag, new_flag in OLD_FLAGS:
        value = getattr(args, old, None)
        if value is not None:
            print(f"llenhance: {old_flag} is deprecated since 0.4 and will be removed; use {new_flag}",
                  file=sys.stderr)
            setattr(args, new, value if getattr(args, new) in (None, False) else getattr(args, new))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        if args.command == "train":
            return train_command(args)
        if args.command == "enhance":
            return enhance_command(args)
        if args.command == "export":
            return export_command(args)
        if args.command == "evaluate":
            return evaluate_command(args)
    except CLIError as err:
        print(f"llenhance: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError, OSError, ImportError) as err:
        print(f"llenhance: error: {err}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2
