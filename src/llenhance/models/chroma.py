"""Colour carried onto enhanced grey levels: enhance the luma, keep the input's hue.

An enhancer trained on grey faces (FER2013 and most FER data are grey) turns a
colour face grey. `carry_chroma` gives its brightening back its colour: the
network sees the input's BT.601 luma, and each output pixel is the network's
luma ``L`` times the input's local colour ratios ``r = (b + eps) / (luma(b) + eps)``
(``b``: the input blurred, so sensor and JPEG chroma noise is not amplified
with the light), with the saturation scaled down by the local exponent ``e``
of the brightening::

    out = L * (1 + e ** 0.75 * (r - 1)),   e = log(blur(L)) / log(luma(b)), clamped to [0, 1]

Why ``e``: darkening an image by a gamma ``x ** g`` (paper Eq. 14) raises its
colour ratios to about ``r ** g``: dark images are more saturated than the
scene. Brightening by ``L = Y ** (1 / g)`` has ``e = 1 / g``, and
``1 + e * (r - 1)`` undoes the gamma to first order; the darkenings also scale
the light linearly, which lowers ``e`` without saturating the colour, hence the
power 0.75 (`SATURATION_POWER`, chosen on the val faces of GENKI-4K, the London
set and the film crops: ``python benchmarks/face_colour.py``). Where the network
changes nothing, ``e = 1`` and the output has the input's colour.

Closed-form properties (tested): a grey input (R = G = B) gives a grey output
exactly; the output's hue (HSV) is the blurred input's, so rotating a flat
input's hue rotates the output's by the same angle; the output's luma is ``L``
except where a saturated colour would leave [0, 1], where it is pulled
towards grey (hue kept) until it fits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from llenhance._checks import check_image
from llenhance._color import grey

__all__ = ["CHROMA_EPS", "SATURATION_POWER", "ChromaCarry", "carry_chroma", "chroma_sigma"]

#: Added to the blurred channels and their luma before the ratio: near-black pixels (where the
#: colour is mostly noise) tend to grey instead of amplifying it. Adding the same amount to R, G
#: and B keeps the hue.
CHROMA_EPS = 0.5 / 255
#: Power of the brightening exponent that scales the saturation (see the module docstring).
SATURATION_POWER = 0.75
#: Default blur of the colour ratios, as a fraction of the image's shorter side (at least 1 px).
CHROMA_SIGMA_FRACTION = 1.0 / 64
#: Grey levels are clamped to this range before the exponent's logarithms.
_LOG_RANGE = (1e-3, 0.999)


def chroma_sigma(height: int, width: int) -> float:
    """The default blur (Gaussian sigma, pixels) of the colour ratios for an ``height`` x ``width`` image.

    Examples:
        >>> chroma_sigma(48, 48), chroma_sigma(512, 640)
        (1.0, 8.0)
    """
    return max(1.0, min(height, width) * CHROMA_SIGMA_FRACTION)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), reflect-padded (replicate where reflection is impossible)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = int(x.shape[1])
    for dim in (-1, -2):
        size = int(x.shape[dim])
        pad = (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius)
        x = F.pad(x, pad, mode="reflect" if radius < size else "replicate")
        shape = (1, 1, 1, 2 * radius + 1) if dim == -1 else (1, 1, 2 * radius + 1, 1)
        x = F.conv2d(x, kernel.view(shape).repeat(channels, 1, 1, 1), groups=channels)  # concrete: ONNX needs it
    return x


def carry_chroma(image: torch.Tensor, luma: torch.Tensor, *, sigma: float | None = None,
                 eps: float = CHROMA_EPS) -> torch.Tensor:
    """The colour of ``image`` carried onto the enhanced grey levels ``luma`` (see the module docstring).

    Args:
        image: the enhancer's input, (B, 3, H, W) or (3, H, W), RGB in [0, 1].
        luma: the enhanced grey levels, (B, 1, H, W) or (B, 3, H, W) (its BT.601 luma is used),
            unbatched like ``image``; values in [0, 1].
        sigma: Gaussian blur (pixels) of the colour ratios and of the exponent; default
            `chroma_sigma` of the image size. 0: no blur.
        eps: added to the blurred channels and their luma (near-black pixels tend to grey).

    Returns:
        (B, 3, H, W) (or (3, H, W)) RGB in [0, 1]: luma ``luma``, the colour of ``image``.

    Examples:
        >>> image = torch.tensor([0.2, 0.1, 0.05]).view(3, 1, 1).expand(3, 4, 4)
        >>> out = carry_chroma(image, torch.full((1, 4, 4), 0.5))
        >>> out[:, 0, 0].argsort().tolist()  # red stays the strongest, blue the weakest
        [2, 1, 0]
        >>> carry_chroma(torch.full((3, 4, 4), 0.1), torch.full((1, 4, 4), 0.4)).unique().numel()  # grey stays grey
        1
    """
    check_image(image, "image", allow_unbatched=True)
    unbatched = image.ndim == 3
    if unbatched:
        image, luma = image.unsqueeze(0), luma.unsqueeze(0)
    if luma.ndim != 4 or luma.shape[1] not in (1, 3) or luma.shape[0] != image.shape[0] \
            or luma.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"`luma` expected shape ({image.shape[0]}, 1 or 3, {image.shape[-2]}, {image.shape[-1]}) "
                         f"to match `image`, got {tuple(luma.shape)}")
    if luma.shape[1] == 3:
        luma = grey(luma).unsqueeze(1)
    if sigma is None:
        # plain ints: an exported graph (ONNX, TorchScript) keeps the blur of the size it was traced at
        sigma = chroma_sigma(int(image.shape[-2]), int(image.shape[-1]))
    elif not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"`sigma` expected a number >= 0 or None, got {sigma}")
    if not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"`eps` expected a number > 0, got {eps}")
    blurred = _blur(image.to(luma.dtype), sigma)
    blurred_luma = grey(blurred).unsqueeze(1)
    ratio = (blurred + eps) / (blurred_luma + eps)
    exponent = _blur(luma, sigma).clamp(*_LOG_RANGE).log() / blurred_luma.clamp(*_LOG_RANGE).log()
    out = luma * (1 + exponent.clamp(0.0, 1.0) ** SATURATION_POWER * (ratio - 1))
    # A saturated colour at a bright level can leave [0, 1]: mix it with its grey until it fits.
    top = out.amax(1, keepdim=True)
    fit = ((1 - luma) / (top - luma).clamp_min(1e-12)).clamp(0.0, 1.0)
    out = torch.where(top > 1, luma + fit * (out - luma), out).clamp(0.0, 1.0)
    return out.squeeze(0) if unbatched else out


class ChromaCarry(nn.Module):
    """`carry_chroma` as a module: ``forward(image, luma)``.

    Examples:
        >>> ChromaCarry()(torch.full((1, 3, 8, 8), 0.1), torch.full((1, 1, 8, 8), 0.3)).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(self, *, sigma: float | None = None, eps: float = CHROMA_EPS) -> None:
        super().__init__()
        self.sigma, self.eps = sigma, eps

    def forward(self, image: torch.Tensor, luma: torch.Tensor) -> torch.Tensor:
        return carry_chroma(image, luma, sigma=self.sigma, eps=self.eps)
