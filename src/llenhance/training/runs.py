"""The run-folder policy every training entry point shares.

A run folder holds one recipe, written as ``recipe.json`` when the run starts:

- a new (or empty) folder starts a run;
- the same recipe resumes it (from its last checkpoint) or, finished, returns it as it is;
- another recipe is refused with every difference listed;
- a folder that holds something else (no ``recipe.json``) is refused.

Examples:
    >>> recipe_differences({"lr": 0.1, "seed": 0}, {"lr": 0.2, "seed": 0})
    ['lr: 0.1 in the folder, 0.2 now']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llenhance._atomic import atomic_path
from llenhance.training.lock import LOCK_NAME

__all__ = ["RECIPE_NAME", "RunFolderError", "claim_run_folder", "recipe_differences"]

RECIPE_NAME = "recipe.json"


class RunFolderError(ValueError):
    """The run folder holds another run (or something that is not a run)."""


def recipe_differences(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Each key whose value differs between the folder's recipe and the one asked for, as ``key: old, new``."""
    return [f"{key}: {recorded.get(key)!r} in the folder, {wanted.get(key)!r} now"
            for key in sorted(set(recorded) | set(wanted)) if recorded.get(key) != wanted.get(key)]


def claim_run_folder(output: str | Path, recipe: dict[str, Any], *, kind: str, rerun_hint: str = "") -> Path:
    """Make ``output`` the run folder of ``recipe`` (JSON-serialisable), or check that it already is.

    Args:
        output: the run folder.
        recipe: what the run learns from; resuming needs the same.
        kind: what runs there, for messages ("face", "classifier").
        rerun_hint: appended to the refusal of another recipe (how to rerun the folder's own).

    Returns:
        Path: ``output``.

    Raises:
        RunFolderError: the folder holds another recipe (each difference named) or is not a run folder.
    """
    output = Path(output)
    record = output / RECIPE_NAME
    recipe = json.loads(json.dumps(recipe))  # tuples as lists, as they read back
    if record.is_file():
        differ = recipe_differences(json.loads(record.read_text()), recipe)
        if differ:
            raise RunFolderError(f"`output` {output} holds a run of another recipe ({'; '.join(differ)}); "
                                 f"choose another folder{rerun_hint}")
        return output
    if output.exists() and (not output.is_dir() or any(p.name != LOCK_NAME for p in output.iterdir())):
        raise RunFolderError(f"`output` {output} exists and is not a {kind} run folder (no {RECIPE_NAME}); "
                             "choose a new or empty folder")
    output.mkdir(parents=True, exist_ok=True)
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps(recipe, indent=2) + "\n")
    return output
