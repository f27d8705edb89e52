"""How a `FERGuidedTrainer` runs: optimisation, precision, data loading, logging and checkpoints.

What it learns from (enhancer, classifier, loss weights) is given to the
trainer itself; everything else is a `TrainerSettings`, checked once when it
is made. The trainer also takes each field as a keyword argument.

Examples:
    >>> TrainerSettings(lr=1e-4, schedule="cosine").batch_size
    32
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from llenhance._checks import check_nonnegative, check_positive_int

__all__ = ["SCHEDULES", "TrainerSettings"]

#: Learning-rate schedules: constant (the paper) or cosine to 1 % of the peak.
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainerSettings:
    """The run settings of `FERGuidedTrainer` (see its Args for each field)."""

    lr: float = 3e-4
    batch_size: int = 32
    schedule: str = "constant"
    clip_grad_norm: float | None = None
    amp: bool = False
    compile: bool | str = False
    channels_last: bool = False
    target_exposure: bool = False
    device: str | torch.device = "cpu"
    seed: int = 0
    num_workers: int = 0
    log_every: int = 50
    checkpoint_dir: str | Path | None = None
    checkpoint_every: int = 500
    val_every: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.checkpoint_every, "checkpoint_every")
        check_positive_int(self.log_every, "log_every")
        if self.val_every is not None:
            check_positive_int(self.val_every, "val_every")
        if check_nonnegative(self.lr, "lr") == 0:
            raise ValueError(f"`lr` expected a positive number, got {self.lr}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"`schedule` expected one of {SCHEDULES}, got {self.schedule!r}")
        if self.clip_grad_norm is not None and check_nonnegative(self.clip_grad_norm, "clip_grad_norm") == 0:
            raise ValueError(f"`clip_grad_norm` expected a positive number or None, got {self.clip_grad_norm}")
        if self.num_workers < 0:
            raise ValueError(f"`num_workers` expected an int >= 0, got {self.num_workers}")
        if not isinstance(self.target_exposure, bool):
            raise TypeError(f"`target_exposure` expected a bool, got {type(self.target_exposure).__name__}")

    def replace(self, **changes: object) -> TrainerSettings:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
