"""Atomic file writes: write to a temporary file beside the target, then rename.

The temporary file is named ``.llenhance-<pid>-<random><suffix>``: a process killed
outright (SIGKILL, power loss) cannot remove its own, and `remove_stale_temporaries`
lets a later run remove those whose process is gone.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "process_alive", "remove_stale_temporaries"]

_TEMPORARY = re.compile(r"^\.llenhance-(\d+)-[^/]*$")


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``.

    A reader never sees a half-written file, and on failure the temporary
    file is removed and ``path`` is left as it was. The file gets the
    permissions of the file it replaces, or those ``open()`` would give a new
    file under the process umask. The temporary name keeps
    the suffix, so writers that infer a format from it (PIL) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".llenhance-{os.getpid()}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would,
        # or the mode of the file it replaces
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (also one of another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files under ``folder`` (recursively) left by processes of this host that are gone.

    Returns:
        The files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for candidate in folder.rglob(".llenhance-*"):
        match = _TEMPORARY.match(candidate.name)
        if match and candidate.is_file() and not process_alive(int(match.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed
