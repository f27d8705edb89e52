"""Feature perception loss (paper Eq. 9): MSE between frozen network features."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from llenhance._checks import check_image_pair

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "PerceptualLoss", "perceptual_loss", "vgg16_relu3_3"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_NO_WEIGHTS_HINT = (
    "torchvision's ImageNet VGG-16 weights could not be obtained ({err}). "
    "Either make them available (they are cached under $TORCH_HOME/hub/checkpoints, "
    "so one download on a connected machine is enough), pass another frozen feature "
    "network, e.g. PerceptualLoss(feature_net=my_backbone, normalize=False), or switch "
    "the term off with ReconstructionLoss(perceptual=0)."
)


def _freeze(net: nn.Module) -> nn.Module:
    net.eval()
    net.requires_grad_(False)
    return net


def vgg16_relu3_3() -> nn.Module:
    """VGG-16 with torchvision's ImageNet weights, up to relu3_3, frozen.

    Raises:
        RuntimeError: the weights are neither cached nor downloadable; the
            message says how to pass another feature network instead.
    """
    from torchvision.models import VGG16_Weights, vgg16

    try:
        vgg = vgg16(weights=VGG16_Weights.IMAGENET1K_V1)
    except Exception as err:  # network, cache or hash failure: all mean "no weights"
        raise RuntimeError(_NO_WEIGHTS_HINT.format(err=err)) from err
    # features[15] is relu3_3.
    net = _freeze(vgg.features[:16])
    net.llenhance_name = "vgg16 relu3_3, torchvision IMAGENET1K_V1"  # recorded in training configs
    return net


@functools.cache
def _default_feature_net() -> nn.Module:
    return vgg16_relu3_3()


def _normalize(x: torch.Tensor) -> torch.Tensor:
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def perceptual_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    feature_net: nn.Module | None = None,
    normalize: bool = True,
) -> torch.Tensor:
    """Perceptual loss, paper Eq. 9: mean squared distance of frozen features.

    Args:
        pred: enhanced image (B, 3, H, W) in [0, 1].
        target: normal-light image, same shape.
        feature_net: a frozen module mapping images to a feature tensor. ``None``
            uses VGG-16 to relu3_3 with torchvision's ImageNet weights (loaded
            once and cached; must be on the images' device).
        normalize: apply ImageNet mean/std to both images before the network.

    Returns:
        Scalar tensor.

    Examples:
        >>> net = torch.nn.Conv2d(3, 4, 3)
        >>> x = torch.rand(1, 3, 8, 8)
        >>> perceptual_loss(x, x, feature_net=net).item()
        0.0
    """
    check_image_pair(pred, target)
    if feature_net is None:
        feature_net = _default_feature_net().to(pred.device)
    if normalize:
        pred, target = _normalize(pred), _normalize(target)
    with torch.no_grad():
        target_features = feature_net(target)
    return F.mse_loss(feature_net(pred), target_features)


class PerceptualLoss(nn.Module):
    """Module form of `perceptual_loss`; owns a frozen feature network.

    The network (default: VGG-16 to relu3_3, ImageNet weights) is built at
    construction, so missing weights fail early with a clear message. It is
    put in eval mode with ``requires_grad_(False)``; gradients still flow to
    ``pred``.

    Examples:
        >>> loss = PerceptualLoss(feature_net=torch.nn.Conv2d(3, 4, 3), normalize=False)
        >>> x = torch.rand(1, 3, 8, 8)
        >>> loss(x, x).item()
        0.0
    """

    def __init__(self, *, feature_net: nn.Module | None = None, normalize: bool = True) -> None:
        super().__init__()
        self.feature_net = _freeze(feature_net if feature_net is not None else vgg16_relu3_3())
        self.normalize = normalize

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.feature_net.eval()  # the feature network stays frozen, BatchNorm included
        return self

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return perceptual_loss(pred, target, feature_net=self.feature_net, normalize=self.normalize)
