"""Image quality metrics, per image.

PSNR and SSIM here are computed per image on RGB in [0, 1] and returned per
image; average them over a data set to get the usual "mean PSNR". This is not
the same as torchmetrics' default, which pools the squared error over the
whole batch before taking the log.
"""

from __future__ import annotations

import kornia
import torch

from llenhance._checks import check_image, check_positive_int, check_same_shape

from llenhance.niqe import niqe

__all__ = [
    "accuracy",
    "chroma",
    "confusion_matrix",
    "niqe",
    "per_class_accuracy",
    "psnr",
    "recovered_fraction",
    "ssim",
]


def psnr(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-10) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, data range 1.

    Args:
        pred: (B, 3, H, W) RGB in [0, 1].
        target: same shape and range.
        eps: floor of the mean squared error (identical images give 100 dB).

    Returns:
        (B,) tensor of dB values.

    Examples:
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

    Examples:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> ssim(x, x)
        tensor([1., 1.])
    """
    check_image(pred, "pred")
    check_image(target, "target")
    check_same_shape(pred, target, "pred", "target")
    padding = "valid" if min(pred.shape[-2:]) >= 11 else "same"
    return kornia.metrics.ssim(pred, target, 11, max_val=1.0, padding=padding).flatten(1).mean(dim=1)


def _check_class_indices(predictions: torch.Tensor, targets: torch.Tensor) -> None:
    for name, t in (("predictions", predictions), ("targets", targets)):
        if not isinstance(t, torch.Tensor) or t.ndim != 1 or t.is_floating_point():
            got = f"dtype {t.dtype} shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"`{name}` expected a 1-D integer tensor of class indices, got {got}")
    if predictions.shape != targets.shape or predictions.numel() == 0:
        raise ValueError(
            f"`targets` expected the non-empty shape of `predictions` {tuple(predictions.shape)}, "
            f"got {tuple(targets.shape)}"
        )


def confusion_matrix(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) counts; row = true class, column = predicted class.

    Examples:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), 2)
        tensor([[1, 1],
                [0, 1]])
    """
    _check_class_indices(predictions, targets)
    check_positive_int(num_classes, "num_classes")
    if int(predictions.max()) >= num_classes or int(targets.max()) >= num_classes or min(
        int(predictions.min()), int(targets.min())
    ) < 0:
        raise ValueError(f"`predictions` and `targets` expected class indices in [0, {num_classes - 1}]")
    index = targets.long() * num_classes + predictions.long()
    return torch.bincount(index, minlength=num_classes**2).view(num_classes, num_classes)


def chroma(images: torch.Tensor) -> torch.Tensor:
    """Mean CIELAB chroma ``sqrt(a*^2 + b*^2)`` of each image (sRGB in [0, 1], D65, kornia's L*a*b*).

    0 for a grey image; how colourful an image is, independent of hue. Compare an
    enhanced face's chroma with the normal-light face's to see whether an enhancer
    keeps colour.

    Args:
        images: (B, 3, H, W) or (3, H, W) RGB in [0, 1].

    Returns:
        (B,) (or a scalar for one unbatched image).

    Examples:
        >>> bool(chroma(torch.full((1, 3, 4, 4), 0.5)) < 0.01)  # grey (D65 white point rounding)
        True
        >>> round(float(chroma(torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1))), 1)  # pure sRGB red
        104.6
    """
    check_image(images, "images", allow_unbatched=True)
    lab = kornia.color.rgb_to_lab(images.clamp(0, 1))
    return lab[..., 1:, :, :].norm(dim=-3).flatten(-2).mean(-1)


def accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions.

    Examples:
        >>> accuracy(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 0, 2]))
        0.75
    """
    _check_class_indices(predictions, targets)
    return float((predictions == targets).float().mean())


def per_class_accuracy(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Recall of each class (NaN for a class absent from ``targets``).

    Examples:
        >>> per_class_accuracy(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), 3)
        tensor([0.5000, 1.0000,    nan])
    """
    matrix = confusion_matrix(predictions, targets, num_classes).double()
    return (matrix.diagonal() / matrix.sum(dim=1)).float()


def recovered_fraction(acc_method: float, acc_lowlight: float, acc_normal: float) -> float:
    """How much of the accuracy lost to low light a method recovers.

    ``(acc_method - acc_lowlight) / (acc_normal - acc_lowlight)``: 0 is no
    better than feeding the dark images, 1 is normal-light accuracy; it can
    be negative or exceed 1.

    Examples:
        >>> round(recovered_fraction(0.6, 0.4, 0.8), 6)
        0.5
    """
    if acc_normal == acc_lowlight:
        raise ValueError(
            f"`acc_normal` expected to differ from `acc_lowlight` (no accuracy was lost), got {acc_normal} for both"
        )
    return (acc_method - acc_lowlight) / (acc_normal - acc_lowlight)
