"""The command line a result file quotes, with the home folder written as ``~`` (it is rerun elsewhere)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["command_line"]


def command_line(script: str, argv: list[str] | None) -> str:
    """``python benchmarks/<script> ARGS``: ``argv`` as passed to ``main`` (``None``: this process's arguments)."""
    args = sys.argv[1:] if argv is None else argv
    return f"python benchmarks/{script} {' '.join(args)}".rstrip().replace(str(Path.home()), "~")
