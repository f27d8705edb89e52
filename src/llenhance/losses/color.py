"""Color space difference loss (paper Eq. 7): L1 in HSV plus L1 in HSI."""

from __future__ import annotations

import math

import kornia
import torch
from torch import nn

from llenhance._checks import check_image, check_image_pair

__all__ = ["ColorLoss", "color_loss", "rgb_to_hsi"]

_EPS = 1e-6


def rgb_to_hsi(image: torch.Tensor, *, eps: float = _EPS) -> torch.Tensor:
    """Convert RGB in [0, 1] to HSI, every channel in [0, 1].

    I = (R + G + B) / 3; S = 1 - min(R, G, B) / I, written (I - min) / (I + eps)
    so that black has S = 0; H = theta / 2pi with
    theta = arccos(((R - G) + (R - B)) / 2 / sqrt((R - G)^2 + (R - B)(G - B))),
    replaced by 2pi - theta where B > G. ``eps`` keeps values and gradients
    finite on black, white and grey pixels, where hue is undefined.

    Args:
        image: (B, 3, H, W) or (3, H, W), RGB in [0, 1].
        eps: numerical guard.

    Returns:
        Tensor: hue, saturation and intensity, in the input's shape.

    Examples:
        >>> rgb_to_hsi(torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1)).flatten()
        tensor([0.3333, 1.0000, 0.3333])
    """
    check_image(image, "image", allow_unbatched=True)
    r, g, b = image.unbind(dim=-3)
    intensity = (r + g + b) / 3.0
    minimum = torch.minimum(torch.minimum(r, g), b)
    saturation = (intensity - minimum) / (intensity + eps)
    num = 0.5 * ((r - g) + (r - b))
    den = torch.sqrt((r - g) ** 2 + (r - b) * (g - b) + eps)
    # arccos has an infinite slope at +-1.
    theta = torch.acos((num / den).clamp(-1.0 + eps, 1.0 - eps))
    hue = torch.where(b > g, 2.0 * math.pi - theta, theta) / (2.0 * math.pi)
    return torch.stack((hue, saturation, intensity), dim=-3)


def _hsv(image: torch.Tensor, eps: float) -> torch.Tensor:
    hsv = kornia.color.rgb_to_hsv(image, eps=eps)
    # kornia's hue is in [0, 2pi]; scale it to [0, 1] like S and V.
    return torch.cat((hsv[:, :1] / (2.0 * math.pi), hsv[:, 1:]), dim=1)


def _space_l1(a: torch.Tensor, b: torch.Tensor, circular_hue: bool) -> torch.Tensor:
    diff = (a - b).abs()
    if circular_hue:
        hue = diff[:, :1]
        diff = torch.cat((torch.minimum(hue, 1.0 - hue), diff[:, 1:]), dim=1)
    return diff.mean()


def color_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    circular_hue: bool = True,
    eps: float = _EPS,
) -> torch.Tensor:
    """Color space difference loss, paper Eq. 7.

    Lc = mean|hsv(pred) - hsv(target)| + mean|hsi(pred) - hsi(target)|, every
    channel scaled to [0, 1]. ``pred`` is clamped to [0, 1] before the color
    conversions (the conversions are undefined outside it); the pixel losses
    of ``ReconstructionLoss`` pull out-of-range values back.

    Args:
        pred: enhanced image (B, 3, H, W), RGB in [0, 1].
        target: normal-light image, same shape.
        circular_hue: compare hue on the circle, min(|dh|, 1 - |dh|), so that
            hue 0.99 and 0.01 are close. ``False`` gives the paper's plain L1.
        eps: numerical guard of the conversions.

    Returns:
        Scalar tensor.

    Examples:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> float(color_loss(x, x))
        0.0
    """
    check_image_pair(pred, target)
    pred = pred.clamp(0.0, 1.0)
    hsv = _space_l1(_hsv(pred, eps), _hsv(target, eps), circular_hue)
    hsi = _space_l1(rgb_to_hsi(pred, eps=eps), rgb_to_hsi(target, eps=eps), circular_hue)
    return hsv + hsi


class ColorLoss(nn.Module):
    """Module form of `color_loss`.

    Examples:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> float(ColorLoss()(x, x))
        0.0
    """

    def __init__(self, *, circular_hue: bool = True, eps: float = _EPS) -> None:
        super().__init__()
        self.circular_hue = circular_hue
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return color_loss(pred, target, circular_hue=self.circular_hue, eps=self.eps)
