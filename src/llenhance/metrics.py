"""Image quality metrics, per image.

PSNR and SSIM here are computed per image on RGB in [0, 1] and returned per
image; average them over a data set to get the usual "mean PSNR". This is not
the same as torchmetrics' default, which pools the squared error over the
whole batch before taking the log.
"""

from __future__ import annotations

import kornia
import torch

from llenhance._checks import check_image, check_same_shape

from llenhance.niqe import niqe

__all__ = ["niqe", "psnr", "ssim"]


def psnr(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-10) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, data range 1.

    Args:
        pred: (B, 3, H, W) RGB in [0, 1].
        target: same shape and range.
        eps: floor of the mean squared error (identical images give 100 dB).

    Returns:
        (B,) tensor of dB values.

    Example:
        >>> psnr(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1)).round()
        tensor([20.])
    """
    check_image(pred, "pred")
    check_image(target, "target")
    check_same_shape(pred, target, "pred", "target")
    mse = (pred - target).pow(2).flatten(1).mean(dim=1)
    return -10.0 * torch.log10(mse.clamp_min(eps))


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image (Gaussian window 11, sigma 1.5, data range 1).

    Interior pixels only (as Wang et al. and scikit-image) when H, W >= 11;
    smaller images use kornia's reflect-padded "same" map.

    Args:
        pred: (B, 3, H, W) RGB in [0, 1].
        target: same shape and range.

    Returns:
        (B,) tensor.

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> ssim(x, x)
        tensor([1., 1.])
    """
    check_image(pred, "pred")
    check_image(target, "target")
    check_same_shape(pred, target, "pred", "target")
    padding = "valid" if min(pred.shape[-2:]) >= 11 else "same"
    return kornia.metrics.ssim(pred, target, 11, max_val=1.0, padding=padding).flatten(1).mean(dim=1)
