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
    """The run settings of `FERGuidedTrainer`; each is also one of its keyword arguments.

    Attributes:
        lr: Adam learning rate (paper 3e-4).
        batch_size: global batch size (paper 32 joint, 80 reconstruction).
        schedule: ``"constant"`` (paper) or ``"cosine"`` (to 1% of ``lr``).
        clip_grad_norm: clip the gradient norm to this value; ``None`` = off.
        amp: bfloat16 autocast (CUDA only).
        compile: run the enhancer and the loss through ``torch.compile``
            (``True``: its default backend, inductor; a string: that backend).
        channels_last: keep the enhancer, the classifier and the batches in
            channels-last memory format (faster convolutions on GPUs).
        target_exposure: the losses compare the enhanced image brought to the
            normal-light image's mean grey level (`match_exposure`, a
            per-image gamma), so training spends nothing on global exposure.
            For an enhancer whose exposure is set at inference
            (``Enhancer(output_target=...)``).
        device: where to train; under torchrun with CUDA, ``cuda:LOCAL_RANK``.
        seed: seeds the batch order (and, for datasets with ``set_epoch``,
            their augmentation through the epoch number).
        num_workers: DataLoader workers (started once per ``fit``, serving
            every epoch).
        log_every: iterations between logged metrics (the loss terms' means
            over those iterations, in `history` and the progress bar). The
            loss terms add up on the device; reading them is the only
            device-to-host synchronisation of the loop.
        checkpoint_dir: where ``checkpoint.pt`` is written (atomically).
        checkpoint_every: iterations between checkpoints (and at the end).
        val_every: iterations between validations (and at the end), when
            ``fit`` gets a validation set.
        progress: show a tqdm bar (rank 0).
    """

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
