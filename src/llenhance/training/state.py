"""Checkpoints of a training run: what is saved, how it is restored, what a resume may change.

A checkpoint is plain data for ``torch.load(weights_only=True)``: tensors,
numbers, strings, lists and dicts. It holds the enhancer, the optimiser and
the scheduler, the position in the data (iteration, epoch, batch within the
epoch), every random number generator (torch, CUDA, NumPy, Python), the
loss sums of the current logging window and the run's settings, so that a
resumed run continues bit for bit where the interrupted one stopped.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llenhance._atomic import atomic_path

__all__ = ["CHECKPOINT_NAME", "RESUME_MAY_DIFFER", "capture_rng", "load_checkpoint", "restore_rng", "save_checkpoint"]

CHECKPOINT_NAME = "checkpoint.pt"
#: Settings a resumed run may change (where and how fast it runs, not what it learns).
RESUME_MAY_DIFFER = frozenset({"amp", "world_size", "num_workers", "compile", "log_every", "channels_last"})


def capture_rng() -> dict[str, Any]:
    """The state of every random number generator a training step may draw from."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": json.dumps(np_state[1].tolist()),
        "numpy_pos": int(np_state[2]),
        "python": json.dumps(random.getstate()),
    }


def restore_rng(rng: dict[str, Any]) -> None:
    """Inverse of `capture_rng`."""
    torch.set_rng_state(rng["torch"].cpu())
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
    np_state = np.random.get_state()
    keys = np.array(json.loads(rng["numpy"]), dtype=np.uint32)
    np.random.set_state((np_state[0], keys, rng["numpy_pos"], 0, 0.0))
    py_version, py_internal, py_gauss = json.loads(rng["python"])
    random.setstate((py_version, tuple(py_internal), py_gauss))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (a crash leaves the previous checkpoint).

    Raises:
        OSError: the checkpoint could not be written (a full disk, say); the previous one is kept.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            torch.save({**state, "rng": capture_rng()}, tmp)
    except (OSError, RuntimeError) as err:  # torch.save reports a full disk as a RuntimeError
        free = shutil.disk_usage(path.parent).free
        kept = "the previous checkpoint is kept" if path.is_file() else "no checkpoint is kept"
        raise OSError(f"could not write the checkpoint {path} ({free / 2**20:.1f} MiB free on its disk; {kept}): "
                      f"{str(err).splitlines()[0]}") from err


def load_checkpoint(path: Path, *, iterations: int, config: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Read a checkpoint and refuse it when the run it belongs to differs from this one.

    Raises:
        ValueError: another iteration count (the schedule depends on it) or
            other settings than ``RESUME_MAY_DIFFER``, each named.
    """
    state = torch.load(path, map_location=device, weights_only=True)
    if state["iterations"] != iterations:
        raise ValueError(f"`iterations` expected {state['iterations']} to resume {path} (its schedule), got {iterations}")
    saved = state.get("config", {})
    differ = [f"{k}: checkpoint {saved.get(k)!r}, now {config.get(k)!r}"
              for k in sorted(set(saved) | set(config))
              if k not in RESUME_MAY_DIFFER and saved.get(k) != config.get(k)]
    if differ:
        raise ValueError(
            f"`resume` expected the settings {path} was trained with; these differ: {'; '.join(differ)}. "
            "Resume with the same settings, or start a new run in another folder"
        )
    return state
