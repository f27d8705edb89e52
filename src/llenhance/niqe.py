"""NIQE, the no-reference image quality score of Mittal, Soundararajan and Bovik
("Making a completely blind image quality analyzer", IEEE SPL 2013). Lower is better.

Follows the authors' MATLAB release: the luma (Y of MATLAB's ``rgb2ycbcr``,
rounded to integers) is cut into 96x96 blocks; each block gives 18 natural
scene statistics (generalised Gaussian fits of the mean-subtracted
contrast-normalised image and of its products with four shifted copies) at
full and half resolution (MATLAB's antialiased bicubic ``imresize``); the
score is the Mahalanobis-like distance between the multivariate Gaussian of
these features and the pristine model shipped in
``llenhance/resources/niqe_pris_params.npz``.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from llenhance._checks import check_image

__all__ = ["niqe"]

_PARAMS = Path(__file__).resolve().parent / "resources" / "niqe_pris_params.npz"
_BLOCK = 96


@functools.cache
def _pristine() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    params = np.load(_PARAMS)
    return params["mu_pris_param"][0], params["cov_pris_param"], params["gaussian_window"]


@functools.cache
def _ggd_table() -> tuple[np.ndarray, np.ndarray]:
    """Shape parameters 0.2..10 (step 0.001) and their ratio Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a))."""
    shapes = np.arange(0.2, 10.001, 0.001)
    ratio = np.array([math.exp(2 * math.lgamma(2 / a) - math.lgamma(1 / a) - math.lgamma(3 / a)) for a in shapes])
    return shapes, ratio


def _aggd(values: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit by moment matching: (shape, left scale, right scale)."""
    x = values.ravel()
    left = math.sqrt(np.mean(x[x < 0] ** 2)) if (x < 0).any() else float("nan")
    right = math.sqrt(np.mean(x[x > 0] ** 2)) if (x > 0).any() else float("nan")
    gamma_hat = left / right
    r_hat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
    r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    shapes, ratio = _ggd_table()
    alpha = float(shapes[np.argmin((ratio - r_norm) ** 2)])
    scale = math.sqrt(math.gamma(1 / alpha) / math.gamma(3 / alpha))
    return alpha, left * scale, right * scale


def _block_features(block: np.ndarray) -> list[float]:
    alpha, beta_l, beta_r = _aggd(block)
    features = [alpha, (beta_l + beta_r) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, beta_l, beta_r = _aggd(block * np.roll(block, shift, axis=(0, 1)))
        mean = (beta_r - beta_l) * math.gamma(2 / alpha) / math.gamma(1 / alpha)
        features += [alpha, mean, beta_l, beta_r]
    return features


def _smooth(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Correlation with ``window`` (symmetric, so also convolution), edge-replicated border."""
    k = window.shape[0] // 2
    x = torch.from_numpy(image)[None, None]
    x = F.pad(x, (k, k, k, k), mode="replicate")
    return F.conv2d(x, torch.from_numpy(window)[None, None]).numpy()[0, 0]


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


def _resize_weights(length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB imresize (bicubic, antialiased) along one axis: indices and weights."""
    out_length = math.ceil(length * scale)
    width = 4.0 / scale  # the kernel is stretched by 1/scale when shrinking
    u = np.arange(1, out_length + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    weights = scale * _cubic(scale * (u[:, None] - idx))
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(length), np.arange(length - 1, -1, -1)])
    idx = mirror[np.mod(idx.astype(int) - 1, 2 * length)]
    return idx, weights


def _imresize_half(image: np.ndarray) -> np.ndarray:
    for axis in (0, 1):
        idx, weights = _resize_weights(image.shape[axis], 0.5)
        moved = np.moveaxis(image, axis, 0)
        moved = np.einsum("ij,ij...->i...", weights, moved[idx])
        image = np.moveaxis(moved, 0, axis)
    return image


def _niqe_luma(luma: np.ndarray) -> float:
    mu_pris, cov_pris, window = _pristine()
    h, w = luma.shape
    nh, nw = h // _BLOCK, w // _BLOCK
    if nh * nw < 2:  # the features' covariance needs two blocks at least
        raise ValueError(f"`image` expected at least two blocks of {_BLOCK}x{_BLOCK} pixels for NIQE (e.g. "
                         f"{2 * _BLOCK}x{_BLOCK}), got {h}x{w}")
    image = luma[: nh * _BLOCK, : nw * _BLOCK]
    per_scale = []
    for scale in (1, 2):
        mu = _smooth(image, window)
        sigma = np.sqrt(np.abs(_smooth(image**2, window) - mu**2))
        normalised = (image - mu) / (sigma + 1)
        size = _BLOCK // scale
        per_scale.append(np.array([
            _block_features(normalised[i * size : (i + 1) * size, j * size : (j + 1) * size])
            for j in range(nw)
            for i in range(nh)
        ]))
        if scale == 1:
            image = _imresize_half(image / 255.0) * 255.0
    features = np.concatenate(per_scale, axis=1)
    defined = features[~np.isnan(features).any(axis=1)]
    if len(defined) < 2:
        raise ValueError("`image` has too little texture for NIQE: the statistics of its blocks are undefined "
                         "(a flat image, e.g. all black)")
    mu_dist = np.nanmean(features, axis=0)
    cov_dist = np.cov(defined, rowvar=False)
    diff = mu_pris - mu_dist
    return float(np.sqrt(diff @ np.linalg.pinv((cov_pris + cov_dist) / 2) @ diff))


def niqe(image: torch.Tensor, *, crop_border: int = 0) -> float:
    """NIQE score of one RGB image in [0, 1] (lower is better).

    Args:
        image: (3, H, W) or (1, 3, H, W) float tensor holding two blocks of
            96x96 pixels at least (192x96 or 96x192).
        crop_border: pixels removed from each side first.

    Returns:
        The score (a Python float).
    """
    check_image(image, "image", allow_unbatched=True)
    if image.ndim == 4:
        if image.shape[0] != 1:
            raise ValueError(f"`image` expected one image, got a batch of {image.shape[0]}")
        image = image[0]
    rgb = image.detach().double().cpu().numpy()
    # MATLAB rgb2ycbcr luma on [0, 1] input, in [16, 235]; rounded as MATLAB's uint8 output would be.
    luma = np.round(16.0 + 65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2])
    if crop_border:
        luma = luma[crop_border:-crop_border, crop_border:-crop_border]
    return _niqe_luma(luma)
