"""Classical low-light baselines: what a learned enhancer has to beat.

Each maps a (B, 3, H, W) float image in [0, 1] to an enhanced one in [0, 1].
They are strong on synthetic darkening, so every llenhance quality table
reports them; `llenhance evaluate` includes them with ``--baselines``.
"""

from __future__ import annotations

import math

import torch

from llenhance._checks import check_image, check_finite_number
from llenhance._color import mean_grey

__all__ = ["clahe", "global_gamma", "histogram_equalization"]


def global_gamma(x: torch.Tensor, *, target: float = 0.5) -> torch.Tensor:
    """One gamma per image so that its mean luma becomes ``target``: ``y = x ** (log target / log mean(Y))``.

    It brightens a dark image and darkens a bright one (`llenhance.models.exposure_curve`
    is the brighten-only variant that LLENet's curve models use).

    Examples:
        >>> x = torch.full((1, 3, 4, 4), 0.25)
        >>> round(float(global_gamma(x, target=0.5).mean()), 4)
        0.5
    """
    check_image(x, "x")
    target = check_finite_number(target, "target")
    if not 0 < target < 1:
        raise ValueError(f"`target` expected a grey level in (0, 1), got {target}")
    luma = mean_grey(x)
    gamma = math.log(target) / torch.log(luma.clamp(1e-4, 0.999))
    return x.clamp_min(0).pow(gamma.view(-1, 1, 1, 1)).clamp(0, 1)


def histogram_equalization(x: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation per RGB channel (kornia)."""
    import kornia

    check_image(x, "x")
    return kornia.enhance.equalize(x).clamp(0, 1)


def clahe(x: torch.Tensor, *, clip_limit: float = 2.0, grid: int = 8) -> torch.Tensor:
    """Contrast-limited adaptive histogram equalisation per RGB channel (kornia), ``grid`` x ``grid`` tiles."""
    import kornia

    check_image(x, "x")
    return kornia.enhance.equalize_clahe(x, clip_limit=clip_limit, grid_size=(grid, grid)).clamp(0, 1)
