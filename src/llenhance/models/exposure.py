"""Exposure: per-image gamma curves to a target mean grey level, and the exposure gate's share.

The exposure of an image is its mean grey level (BT.601 luma averaged over the
image, in [0, 1]). `exposure_curve` lifts a dark image to a target and never
darkens; `match_exposure` brings an image to a target up or down (both are
``x ** g`` with ``g = log(target) / log(exposure)``). `exposure_share` is how
much of a network's change an image gets under an exposure gate. `Enhancer`
composes them around `LLENet`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from llenhance._checks import check_image, value_checks_enabled
from llenhance._color import mean_grey

__all__ = ["check_grey_level", "exposure_curve", "exposure_share", "gamma_to_exposure", "log_exposure",
           "match_exposure"]

#: Mean grey levels are clamped to this range before the exponent is taken.
EXPOSURE_RANGE = (1e-3, 0.999)


def log_exposure(x: torch.Tensor) -> torch.Tensor:
    """(B,) log of each image's mean grey level (BT.601 luma), the mean clamped to [0.001, 0.999].

    Examples:
        >>> round(log_exposure(torch.full((1, 3, 2, 2), 0.5)).exp().item(), 4)
        0.5
    """
    return mean_grey(x).clamp(*EXPOSURE_RANGE).log().view(-1)


def exposure_curve(x: torch.Tensor, target: float) -> torch.Tensor:
    """Per-image brightening curve ``x ** g`` that lifts the mean grey level to ``target``.

    ``g = log(target) / log(mean grey)``, at most 1: an image whose mean grey
    level (Rec. 601 luma, averaged over the image) is already ``target`` or
    more is returned unchanged, never darkened. ``x``: (B, 3, H, W) in [0, 1].
    The mean is clamped to [0.001, 0.999] (a black image gets g = log(target) / log(0.001)).

    Examples:
        >>> x = torch.full((1, 3, 2, 2), 0.25)
        >>> exposure_curve(x, 0.5)[0, 0, 0, 0].item()  # 0.25 ** 0.5
        0.5
        >>> bool((exposure_curve(x, 0.2) == x).all())  # already bright enough: unchanged
        True
    """
    gamma = (math.log(target) / log_exposure(x)).clamp(max=1.0).view(-1, 1, 1, 1)
    # x ** 1 is x; the clamp keeps the gradient of x ** g finite at black pixels.
    return torch.where(gamma < 1, x.clamp_min(1e-6).pow(gamma), x)


def match_exposure(x: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """Per-image gamma ``x ** g`` that brings the mean grey level to about ``target``, up or down.

    ``g = log(target) / log(mean grey)`` (Rec. 601 luma averaged over the
    image, clamped to [0.001, 0.999]); unlike `exposure_curve` it also darkens
    an image brighter than ``target``. The mean of ``x ** g`` is
    ``mean(x) ** g`` only for a flat image; elsewhere it lands near
    ``target``. ``x``: (B, 3, H, W) in [0, 1]; ``target``: a level in
    (0, 1), or one per image, (B,) (e.g. the references' levels in training).

    Examples:
        >>> x = torch.full((1, 3, 2, 2), 0.25)
        >>> match_exposure(x, 0.5)[0, 0, 0, 0].item()  # 0.25 ** 0.5
        0.5
        >>> round(match_exposure(torch.full((1, 3, 2, 2), 0.81), 0.9)[0, 0, 0, 0].item(), 4)  # 0.81 ** 0.5
        0.9
        >>> round(match_exposure(x, 0.0625)[0, 0, 0, 0].item(), 4)  # darkened: 0.25 ** 2
        0.0625
    """
    check_image(x, "x")
    if isinstance(target, torch.Tensor):
        if target.shape != (x.shape[0],):
            raise ValueError(f"`target` expected one level per image, shape ({x.shape[0]},), got {tuple(target.shape)}")
        if value_checks_enabled() and not bool(((target > 0) & (target < 1)).all()):
            raise ValueError("`target` expected mean grey levels in (0, 1)")
    elif check_grey_level(target, "target") is None:
        raise TypeError("`target` expected a number in (0, 1) or a tensor of levels, got None")
    return gamma_to_exposure(x, target)


def gamma_to_exposure(x: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """`match_exposure` without argument checks, for a network's own output in training (values may leave
    [0, 1]); levels clamped to [0.001, 0.999], ``x`` to [1e-6, 1] before the power.

    Examples:
        >>> gamma_to_exposure(torch.full((1, 3, 2, 2), 0.25), 0.5)[0, 0, 0, 0].item()
        0.5
    """
    log_target = torch.as_tensor(target, dtype=torch.float32, device=x.device).clamp(*EXPOSURE_RANGE).log()
    gamma = (log_target / log_exposure(x)).view(-1, 1, 1, 1)
    # The clamp keeps the gradient of x ** g finite at black pixels, and x ** g finite where a network in
    # training mode (unclamped) gives values above 1 with a mean near 1: there g is in the hundreds and
    # 1.2 ** 916 is inf in float32 (an exposure gate then blended inf with a share of 0: NaN).
    return x.clamp(1e-6, 1.0).pow(gamma.to(x.dtype))


def exposure_share(x: torch.Tensor, gate: tuple[float, float]) -> torch.Tensor:
    """(B,) share of an enhancer's change each image of ``x`` gets under the exposure gate ``(low, high)``.

    1 at a mean grey level of ``low`` or darker, 0 at ``high`` or brighter,
    linear in log(mean grey) between (a share falling linearly in stops).

    Examples:
        >>> [round(exposure_share(torch.full((1, 3, 2, 2), v), (0.2, 0.4)).item(), 3) for v in (0.1, 0.2828, 0.5)]
        [1.0, 0.5, 0.0]
    """
    low, high = gate
    return ((math.log(high) - log_exposure(x)) / (math.log(high) - math.log(low))).clamp(0.0, 1.0)


def check_grey_level(value: Any, name: str) -> float | None:
    """``value`` as a float mean grey level in (0, 1), or None; a clear error naming ``name`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` expected None or a number in (0, 1), got {type(value).__name__}")
    if not 0 < value < 1:
        raise ValueError(f"`{name}` expected a mean grey level in (0, 1), got {value}")
    return float(value)
