"""What one training step of `FERGuidedTrainer` minimises, apart from how the step is taken.

`JointObjective` runs the enhancer on the dark batch, optionally brings its
output to each reference's exposure, runs the frozen classifier on the
enhanced and the normal-light images, and returns every term of the joint
loss (paper Eq. 13) with their weighted sum under ``"total"``. The trainer's
loop (batches, optimiser, schedule, checkpoints) only calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from llenhance._color import mean_grey
from llenhance.classifier import FrozenClassifier
from llenhance.losses.fer import check_label_range
from llenhance.models.exposure import gamma_to_exposure

__all__ = ["JointObjective"]


class JointObjective:
    """The loss terms of one batch.

    Args:
        model: the enhancer as the step runs it (possibly wrapped in DDP or compiled).
        classifier: the frozen classifier, or ``None`` (reconstruction only).
        loss_terms: `JointLoss.terms` (or a compiled form of it).
        target_exposure: compare the output brought to the reference's mean grey level (`gamma_to_exposure`).
        amp: run the enhancer under bfloat16 autocast.
        device_type: the autocast device type (``"cuda"``, ``"cpu"``).
    """

    def __init__(self, model: nn.Module, classifier: FrozenClassifier | None, loss_terms: Callable[..., Any], *,
                 target_exposure: bool, amp: bool, device_type: str) -> None:
        self.model, self.classifier, self.loss_terms = model, classifier, loss_terms
        self.target_exposure, self.amp, self.device_type = target_exposure, amp, device_type

    def __call__(self, low: torch.Tensor, normal: torch.Tensor, labels: torch.Tensor | None,
                 host_labels: Any = None) -> dict[str, torch.Tensor]:
        """Every loss term and ``"total"``. ``host_labels``: the labels as loaded, whose range is read on the host
        (on the device it is a sync)."""
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.amp):
            enhanced = self.model(low)
        enhanced = enhanced.float()
        if self.target_exposure:  # the loss sees the output at the reference's exposure
            # an unclamped training output is no user input: the unchecked kernel, which clamps the levels as
            # the model's own output exposure does (a black reference stays valid)
            enhanced = gamma_to_exposure(enhanced, mean_grey(normal.float()).view(-1))
        outputs: dict[str, Any] = {"labels": labels}
        if self.classifier is not None:
            outputs["logits"], outputs["enhanced_features"] = self.classifier.forward_features(enhanced)
            if isinstance(host_labels, torch.Tensor) and host_labels.device.type == "cpu":
                check_label_range(host_labels, outputs["logits"].shape[1])
            with torch.no_grad():
                outputs["normal_logits"], outputs["normal_features"] = self.classifier.forward_features(normal)
        return self.loss_terms(enhanced, normal, **outputs)
