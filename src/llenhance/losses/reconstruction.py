"""Reconstruction loss (paper Eqs. 6 and 11).

L = wc Lc + wf Lf + wp Lp + ws Ls                (Eq. 6, the composite loss)
L_rec = w1 L1 + w2 L2 + w3 L                     (Eq. 11)
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llenhance._checks import check_image_pair, check_nonnegative, unchecked
from llenhance.losses.color import color_loss
from llenhance.losses.frequency import frequency_loss
from llenhance.losses.perceptual import PerceptualLoss
from llenhance.losses.structure import ssim_loss

__all__ = ["ReconstructionLoss", "ReconstructionWeights"]


@dataclass(frozen=True)
class ReconstructionWeights:
    """Weights of Eqs. 6 and 11; defaults are the paper's.

    ``{w1, w2, w3, wc, wf, wp, ws} = {0.1, 0.01, 1, 0.5, 0.5, 1, 1}``.
    """

    l1: float = 0.1
    mse: float = 0.01
    composite: float = 1.0
    color: float = 0.5
    frequency: float = 0.5
    perceptual: float = 1.0
    structure: float = 1.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            check_nonnegative(getattr(self, field.name), field.name)

    def effective(self) -> dict[str, float]:
        """The weight each term gets in L_rec (composite terms times w3)."""
        w = self.composite
        return {
            "l1": self.l1,
            "mse": self.mse,
            "color": w * self.color,
            "frequency": w * self.frequency,
            "perceptual": w * self.perceptual,
            "structure": w * self.structure,
        }


class ReconstructionLoss(nn.Module):
    """L_rec of paper Eq. 11 with the composite loss of Eq. 6.

    A term whose effective weight is 0 is not computed at all; in particular
    ``perceptual=0`` builds no feature network (no VGG weights needed).

    Args:
        l1: w1, weight of the mean absolute error.
        mse: w2, weight of the mean squared error.
        composite: w3, weight of the composite loss of Eq. 6.
        color: wc, color term inside the composite loss.
        frequency: wf, frequency term inside the composite loss.
        perceptual: wp, perceptual term inside the composite loss.
        structure: ws, SSIM term inside the composite loss.
        feature_net: frozen feature network of the perceptual term (default
            VGG-16 to relu3_3, ImageNet weights).
        normalize_features: apply ImageNet mean/std before ``feature_net``.
        circular_hue: compare hue on the circle in the color term.

    Examples:
        >>> loss = ReconstructionLoss(perceptual=0)
        >>> x = torch.rand(2, 3, 16, 16)
        >>> terms = loss.terms(x.clamp(0.1, 0.9), x)
        >>> sorted(terms)
        ['color', 'frequency', 'l1', 'mse', 'structure', 'total']
    """

    def __init__(
        self,
        *,
        l1: float = 0.1,
        mse: float = 0.01,
        composite: float = 1.0,
        color: float = 0.5,
        frequency: float = 0.5,
        perceptual: float = 1.0,
        structure: float = 1.0,
        feature_net: nn.Module | None = None,
        normalize_features: bool = True,
        circular_hue: bool = True,
    ) -> None:
        super().__init__()
        self.weights = ReconstructionWeights(
            l1=l1,
            mse=mse,
            composite=composite,
            color=color,
            frequency=frequency,
            perceptual=perceptual,
            structure=structure,
        )
        self.circular_hue = circular_hue
        self._gray_checked = False  # the grayscale check runs on the first call only, off the training hot path
        self.perceptual = (
            PerceptualLoss(feature_net=feature_net, normalize=normalize_features)
            if self.weights.effective()["perceptual"] > 0
            else None
        )

    def terms(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every computed term, unweighted, plus the weighted sum under ``"total"``."""
        check_image_pair(pred, target)
        compute = {
            "l1": lambda: F.l1_loss(pred, target),
            "mse": lambda: F.mse_loss(pred, target),
            "color": lambda: color_loss(pred, target, circular_hue=self.circular_hue),
            "frequency": lambda: frequency_loss(pred, target),
            "perceptual": lambda: self.perceptual(pred, target),  # type: ignore[misc]
            "structure": lambda: ssim_loss(pred, target),
        }
        if not self._gray_checked and self.weights.effective()["color"] > 0:
            self._gray_checked = True
            if _is_gray(target):
                warnings.warn(
                    "ReconstructionLoss: the targets are grayscale (R = G = B), where hue is undefined; the colour "
                    "term then mostly pushes hue noise and can stall training. Pass color=0 for grayscale data (`llenhance train`: --color-weight 0).",
                    UserWarning,
                    stacklevel=2,
                )
        out: dict[str, torch.Tensor] = {}
        total = pred.new_zeros(())
        with unchecked():  # checked once above
            for name, weight in self.weights.effective().items():
                if weight > 0:
                    out[name] = compute[name]()
                    total = total + weight * out[name]
        out["total"] = total
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.terms(pred, target)["total"]


def _is_gray(target: torch.Tensor) -> bool:
    """Every pixel of every image has R = G = B (to 8-bit precision)."""
    if torch.compiler.is_compiling() or target.shape[-3] != 3:
        return False
    t = target.detach()
    return bool(((t[..., 0:1, :, :] - t).abs() < 1 / 512).all())
