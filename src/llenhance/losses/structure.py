"""Structure similarity loss (paper Eq. 10): 1 - SSIM(pred, target)."""

from __future__ import annotations

import kornia
import torch
from torch import nn

from llenhance._checks import check_image_pair

__all__ = ["SSIMLoss", "ssim_loss"]

WINDOW_SIZE = 11  # Gaussian window, sigma 1.5, c1 = 0.01^2, c2 = 0.03^2 (kornia's SSIM)


def ssim_loss(pred: torch.Tensor, target: torch.Tensor, *, padding: str = "same") -> torch.Tensor:
    """Structure loss, paper Eq. 10: 1 - mean SSIM, computed by kornia.

    Gaussian window 11, sigma 1.5, c1 = 0.01^2, c2 = 0.03^2, data range 1.
    Unlike ``kornia.losses.ssim_loss`` this is not halved.

    Args:
        pred: enhanced image (B, 3, H, W) in [0, 1].
        target: normal-light image, same shape.
        padding: ``"same"`` (every pixel, reflect border; H, W >= 6) or
            ``"valid"`` (interior only, as in Wang et al. and scikit-image;
            needs H, W >= 11).

    Returns:
        Scalar tensor in [0, 2].

    Examples:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> round(float(ssim_loss(x, x)), 6)
        0.0
    """
    check_image_pair(pred, target)
    if padding not in ("same", "valid"):
        raise ValueError(f"`padding` expected 'same' or 'valid', got {padding!r}")
    if padding == "valid" and min(pred.shape[-2:]) < WINDOW_SIZE:
        raise ValueError(
            f"`pred` expected H, W >= {WINDOW_SIZE} with padding='valid', got {tuple(pred.shape)}"
        )
    if min(pred.shape[-2:]) <= WINDOW_SIZE // 2:  # the reflected border must fit inside the image
        raise ValueError(f"`pred` expected H, W >= {WINDOW_SIZE // 2 + 1} (the SSIM window's border), got "
                         f"{tuple(pred.shape)}; train on larger crops")
    ssim_map = kornia.metrics.ssim(pred, target, WINDOW_SIZE, max_val=1.0, padding=padding)
    return 1.0 - ssim_map.mean()


class SSIMLoss(nn.Module):
    """Module form of `ssim_loss`.

    Examples:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> round(float(SSIMLoss()(x, x)), 6)
        0.0
    """

    def __init__(self, *, padding: str = "same") -> None:
        super().__init__()
        self.padding = padding

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim_loss(pred, target, padding=self.padding)
