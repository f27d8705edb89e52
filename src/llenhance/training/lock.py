"""One training run per run folder at a time: a lock file with the owner's process id.

Two runs writing into one folder would each report success while the folder
ends with one run's model and the other's checkpoint and record. `run_lock`
creates ``<folder>/.llenhance-run.lock`` exclusively (the owner's pid and
host inside) and removes it on exit; a second run is refused with a clear
error while the owner lives. A lock left by a process that has died (killed,
power lost) on this host is stale and is taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from llenhance._atomic import process_alive

__all__ = ["LOCK_NAME", "RunLockedError", "run_lock"]

LOCK_NAME = ".llenhance-run.lock"


class RunLockedError(RuntimeError):
    """The run folder is in use by another live training run."""


def _holder(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, *, name: str = "output") -> Iterator[Path]:
    """Hold the run folder ``folder`` (created if needed) for the duration of the ``with`` block.

    Folders it created and the run left empty (a run that failed before writing anything) are removed
    on the way out.

    Args:
        folder: the run folder.
        name: the argument that named it, for the error message.

    Raises:
        RunLockedError: another live process on this host holds it (or one on another host).

    Examples:
        >>> import tempfile
        >>> with run_lock(tempfile.mkdtemp()) as lock:
        ...     lock.name
        '.llenhance-run.lock'
    """
    folder = Path(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    held = _holder(path)
    if held is not None and held.get("pid") == me["pid"] and held.get("host") == me["host"]:
        yield path  # already ours (a nested call of this process): the outer one releases it
        return
    for _ in range(2):  # the second try after removing a stale lock
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None and (holder.get("host") != me["host"] or process_alive(holder["pid"])):
                where = "" if holder.get("host") == me["host"] else f" on {holder.get('host')}"
                raise RunLockedError(
                    f"`{name}` {folder} is in use by another training run (pid {holder['pid']}{where}); wait for "
                    f"it to finish or choose another folder (if no run is using it, delete {path})"
                ) from None
            path.unlink(missing_ok=True)  # stale: its owner is gone
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        break
    else:
        raise RunLockedError(f"`{name}` {folder}: could not take the lock {path}")
    try:
        yield path
    finally:
        if (_holder(path) or {}).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)
        for made in created:  # a run that wrote nothing leaves no empty folders behind (rmdir: empty ones only)
            try:
                made.rmdir()
            except OSError:
                break
