"""The command line a result file quotes, with the home folder written as ``~`` (it is rerun elsewhere)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["command_line", "tilde"]


def command_line(script: str, argv: list[str] | None) -> str:
    """``python benchmarks/<script> ARGS``: ``argv`` as passed to ``main`` (``None``: this process's arguments)."""
    args = sys.argv[1:] if argv is None else argv
    return tilde(f"python benchmarks/{script} {' '.join(args)}".rstrip())


def tilde(text: str) -> str:
    """``text`` with this user's home folder written as ``~``, so a published path or command reads the same anywhere."""
    return text.replace(str(Path.home()), "~")
