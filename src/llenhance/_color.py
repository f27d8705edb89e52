"""Colour constants and helpers shared across the package."""

import torch

#: ITU-R BT.601 luma weights (R, G, B), as PIL's "L" mode.
LUMA = (0.299, 0.587, 0.114)


def grey(x: torch.Tensor) -> torch.Tensor:
    """(B, H, W) BT.601 luma of each pixel of a (B, 3, H, W) image batch."""
    return (x * x.new_tensor(LUMA).view(1, 3, 1, 1)).sum(1)


def mean_grey(x: torch.Tensor) -> torch.Tensor:
    """(B,) mean BT.601 luma of a (B, 3, H, W) image batch."""
    return grey(x).flatten(1).mean(1)
