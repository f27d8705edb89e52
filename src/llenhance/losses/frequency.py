"""Frequency domain difference loss (paper Eq. 8) on one level of the Haar DWT."""

from __future__ import annotations

import functools

import pywt
import torch
import torch.nn.functional as F
from torch import nn

from llenhance._checks import check_image_pair

__all__ = ["FrequencyLoss", "frequency_loss", "haar_dwt"]


@functools.cache
def _haar_kernels() -> torch.Tensor:
    """(4, 1, 2, 2) float64 analysis kernels LL, LH, HL, HH from PyWavelets."""
    wavelet = pywt.Wavelet("haar")
    # pywt convolves; conv2d correlates, hence the reversal.
    lo = torch.tensor(wavelet.dec_lo[::-1], dtype=torch.float64)
    hi = torch.tensor(wavelet.dec_hi[::-1], dtype=torch.float64)
    # First factor filters along rows (dim -2), second along columns (dim -1),
    # matching pywt.dwt2's (cA, (cH, cV, cD)).
    pairs = ((lo, lo), (hi, lo), (lo, hi), (hi, hi))
    return torch.stack([torch.outer(a, b) for a, b in pairs]).unsqueeze(1)


def haar_dwt(
    image: torch.Tensor,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One level of the 2-D Haar wavelet transform, differentiable.

    Matches ``pywt.dwt2(x, "haar")`` per channel, including its "symmetric"
    border for odd sizes (the last row/column is repeated).

    Args:
        image: (B, C, H, W) float tensor, any C.

    Returns:
        tuple: ``(ll, (lh, hl, hh))``, the approximation and the horizontal,
            vertical and diagonal detail sub-bands (pywt's cA, cH, cV, cD),
            each (B, C, ceil(H/2), ceil(W/2)).

    Examples:
        >>> ll, (lh, hl, hh) = haar_dwt(torch.ones(1, 1, 4, 4))
        >>> ll[0, 0, 0, 0].item(), lh.abs().max().item()
        (2.0, 0.0)
    """
    if not isinstance(image, torch.Tensor) or not image.is_floating_point() or image.ndim != 4:
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        dtype = f", dtype {image.dtype}" if isinstance(image, torch.Tensor) else ""
        raise TypeError(f"`image` expected a float (B, C, H, W) tensor, got {got}{dtype}")
    b, c, h, w = image.shape
    if h % 2 or w % 2:
        image = F.pad(image, (0, w % 2, 0, h % 2), mode="replicate")
    kernels = _haar_kernels().to(dtype=image.dtype, device=image.device).repeat(c, 1, 1, 1)
    bands = F.conv2d(image, kernels, stride=2, groups=c)
    bands = bands.view(b, c, 4, *bands.shape[-2:])
    return bands[:, :, 0], (bands[:, :, 1], bands[:, :, 2], bands[:, :, 3])


def frequency_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Frequency loss, paper Eq. 8 (as decided in SPEC §4).

    Mean L1 distance between the Haar detail sub-bands (horizontal, vertical,
    diagonal) of ``pred`` and ``target``.

    Args:
        pred: enhanced image (B, 3, H, W) in [0, 1].
        target: normal-light image, same shape.

    Returns:
        Scalar tensor.

    Examples:
        >>> x = torch.rand(1, 3, 8, 8)
        >>> float(frequency_loss(x, x))
        0.0
    """
    check_image_pair(pred, target)
    _, pred_details = haar_dwt(pred)
    _, target_details = haar_dwt(target)
    return torch.stack(
        [(p - t).abs().mean() for p, t in zip(pred_details, target_details)]
    ).mean()


class FrequencyLoss(nn.Module):
    """Module form of `frequency_loss`.

    Examples:
        >>> x = torch.rand(1, 3, 8, 8)
        >>> float(FrequencyLoss()(x, x))
        0.0
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return frequency_loss(pred, target)
