"""Low-light synthesis (paper Eq. 14, after Lv et al.) as a transforms-v2 transform.

I_out = beta * (alpha * I_in) ** gamma, with alpha, beta, gamma drawn per image
and shared by R, G and B. Optional realism, off by default (the paper uses
none): Poisson-Gaussian sensor noise, 8-bit quantisation and JPEG compression.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2 import functional as TF

from llenhance._checks import check_image, check_interval

__all__ = ["DARKENINGS", "LowLightSynth", "add_sensor_noise", "darkening_augmentation", "jpeg_round_trip",
           "synthesize_low_light"]

ALPHA_RANGE = (0.9, 1.0)
BETA_RANGE = (0.5, 1.0)
GAMMA_RANGE = (1.5, 5.0)
SHOT_NOISE_RANGE = (1e-4, 1e-2)
READ_NOISE_RANGE = (1e-3, 1e-2)
#: JPEG qualities of the ``realistic-jpeg`` darkening: the range phones and webcams store frames at.
JPEG_RANGE = (60, 95)
#: The named darkenings of the training recipes and benchmarks: name -> `LowLightSynth` arguments.
#: ``paper``: Eq. 14 alone; ``realistic``: plus Poisson-Gaussian sensor noise and 8 bits;
#: ``realistic-jpeg``: plus a JPEG round trip at a quality drawn from `JPEG_RANGE`.
DARKENINGS: dict[str, dict[str, Any]] = {
    "paper": {},
    "realistic": {"noise": True, "quantize": True},
    "realistic-jpeg": {"noise": True, "quantize": True, "jpeg": JPEG_RANGE},
}


def _per_image(value: float | torch.Tensor, image: torch.Tensor, name: str) -> torch.Tensor:
    """``value`` as a tensor broadcastable to ``image``: a number or one per leading index."""
    t = torch.as_tensor(value, dtype=image.dtype, device=image.device)
    batch = image.shape[:-3]
    if t.ndim == 0:
        return t
    if tuple(t.shape) != tuple(batch):
        raise ValueError(
            f"`{name}` expected a number or a tensor of shape {tuple(batch)} "
            f"(one per image), got shape {tuple(t.shape)}"
        )
    return t.reshape(*batch, 1, 1, 1)


def synthesize_low_light(
    image: torch.Tensor,
    alpha: float | torch.Tensor,
    beta: float | torch.Tensor,
    gamma: float | torch.Tensor,
) -> torch.Tensor:
    """Darken an image with paper Eq. 14: ``beta * (alpha * image) ** gamma``.

    Args:
        image: (..., C, H, W) float tensor in [0, 1] (any C; the same curve is
            applied to every channel).
        alpha: linear scale in (0, 1]: a number, or a tensor with one value
            per image (shape ``image.shape[:-3]``).
        beta: linear scale in (0, 1], same forms.
        gamma: exponent > 0, same forms.

    Returns:
        Tensor of the input's shape and dtype, in [0, 1].

    Examples:
        >>> synthesize_low_light(torch.tensor([[[0.5]]]), 1.0, 0.5, 2.0)
        tensor([[[0.1250]]])
    """
    check_image(image, "image", allow_unbatched=True, channels=None)
    if image.ndim < 3:  # check_image already says so; keeps the types plain below
        raise ValueError(f"`image` expected shape (..., C, H, W), got {tuple(image.shape)}")
    a = _per_image(alpha, image, "alpha")
    b = _per_image(beta, image, "beta")
    g = _per_image(gamma, image, "gamma")
    for name, t, low in (("alpha", a, 0.0), ("beta", b, 0.0), ("gamma", g, 0.0)):
        if not torch.isfinite(t).all() or (t <= low).any():
            raise ValueError(f"`{name}` expected finite values > {low}, got {t.flatten().tolist()}")
    for name, t in (("alpha", a), ("beta", b)):
        if (t > 1).any():
            raise ValueError(f"`{name}` expected values <= 1 (the output must stay in [0, 1]), got {t.flatten().tolist()}")
    return b * (a * image) ** g


def add_sensor_noise(
    image: torch.Tensor,
    shot: float | torch.Tensor,
    read: float | torch.Tensor,
    *,
    quantize: bool = False,
) -> torch.Tensor:
    """Poisson-Gaussian sensor noise, then optional 8-bit quantisation.

    ``out = a * Poisson(image / a) + N(0, read^2)``, so the noise variance is
    ``a * image + read^2`` (signal-dependent shot noise plus read noise); the
    result is clamped to [0, 1] and, with ``quantize``, rounded to multiples
    of 1/255. Uses the global torch RNG (reproducible under
    ``torch.manual_seed``).

    Args:
        image: (..., C, H, W) float tensor in [0, 1].
        shot: shot-noise scale ``a`` > 0 (variance per unit of signal).
        read: read-noise standard deviation >= 0.
        quantize: round to 8 bits.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> add_sensor_noise(torch.full((3, 4, 4), 0.5), 1e-3, 0.0, quantize=True).shape
        torch.Size([3, 4, 4])
    """
    check_image(image, "image", allow_unbatched=True, channels=None)
    a = _per_image(shot, image, "shot")
    r = _per_image(read, image, "read")
    if (a <= 0).any() or (r < 0).any():
        raise ValueError(f"`shot` expected > 0 and `read` expected >= 0, got {shot} and {read}")
    noisy = torch.poisson(image / a) * a + r * torch.randn_like(image)
    noisy = noisy.clamp(0.0, 1.0)
    if quantize:
        noisy = torch.round(noisy * 255.0) / 255.0
    return noisy


def jpeg_round_trip(images: torch.Tensor, quality: int | torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] stored as JPEG (8 bits, PIL's libjpeg, 4:2:0) and decoded again.

    Args:
        images: (..., C, H, W), C = 3 (RGB) or 1 (grey).
        quality: 1-100, one for all images or a tensor with one per image (``images.shape[:-3]``).

    Returns:
        The decoded images, of the input's shape, dtype and device.

    Examples:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> y = jpeg_round_trip(x, 75)
        >>> y.shape, bool((y - x).abs().mean() < 0.2)
        (torch.Size([2, 3, 16, 16]), True)
    """
    check_image(images, "images", allow_unbatched=True, channels=None)
    batch = images.shape[:-3]
    qualities = torch.as_tensor(quality).expand(batch) if torch.as_tensor(quality).ndim == 0 else \
        torch.as_tensor(quality)
    if tuple(qualities.shape) != tuple(batch):
        raise ValueError(f"`quality` expected a number or one per image (shape {tuple(batch)}), "
                         f"got shape {tuple(qualities.shape)}")
    if (qualities < 1).any() or (qualities > 100).any():
        raise ValueError(f"`quality` expected values in [1, 100], got {qualities.flatten().tolist()}")
    return _jpeg(images, qualities.reshape(-1))


def _jpeg(images: torch.Tensor, qualities: torch.Tensor) -> torch.Tensor:
    """(..., C, H, W) float images in [0, 1] through a JPEG round trip, image ``i`` at ``qualities[i]``."""
    if images.shape[-3] not in (1, 3):
        raise ValueError(f"`jpeg` expected RGB or grey images, got {images.shape[-3]} channels")
    import io

    flat = images.reshape(-1, *images.shape[-3:])
    codes = (flat.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
    out = []
    for code, quality in zip(codes, qualities.tolist()):
        buffer = io.BytesIO()
        pixels = code.permute(1, 2, 0).numpy()
        PIL.Image.fromarray(pixels[..., 0] if code.shape[0] == 1 else pixels).save(buffer, "JPEG", quality=int(quality))
        decoded = torch.from_numpy(np.asarray(PIL.Image.open(buffer)).copy())
        out.append(decoded.view(*decoded.shape[:2], -1).permute(2, 0, 1))
    return (torch.stack(out).to(images.device, images.dtype) / 255).reshape(images.shape)


#: PIL modes `LowLightSynth` darkens as they are; palette and 1-bit images are converted to one of them first.
_PIL_MODES = ("L", "LA", "RGB", "RGBA")


def _eight_bit(image: PIL.Image.Image) -> PIL.Image.Image:
    """``image`` in one of `_PIL_MODES`: palette images become RGB (RGBA with transparency), 1-bit ones L;
    16-bit, 32-bit and float images are refused (their values would be cut to 8 bits)."""
    if image.mode in _PIL_MODES:
        return image
    if image.mode in ("P", "PA"):
        transparent = image.mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB")
    if image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa", "RGBX"):
        return image.convert({"1": "L", "La": "LA", "RGBa": "RGBA"}.get(image.mode, "RGB"))
    raise ValueError(f"`LowLightSynth` expected an 8-bit PIL image ({', '.join(_PIL_MODES)}, P or 1), got mode "
                     f"{image.mode!r}; for 16-bit or float images pass a float tensor in [0, 1]")


def _is_pure_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and not isinstance(x, tv_tensors.TVTensor)


def _uniform(shape: tuple[int, ...], bounds: tuple[float, float]) -> torch.Tensor:
    lo, hi = bounds
    return torch.empty(shape, dtype=torch.float64).uniform_(lo, hi)


class LowLightSynth(Transform):
    """Darken images the way the paper builds its low-light sets (Eq. 14).

    A ``torchvision.transforms.v2`` transform: it changes images only
    (``tv_tensors.Image``, ``tv_tensors.Video``, PIL images, and a plain
    tensor when the sample has no explicit image, as torchvision decides);
    labels, boxes and masks pass through untouched. A video gets one draw for
    all its frames (one scene, one exposure). Images with 2 or 4 channels
    (LA, RGBA) keep their alpha channel as it is. Output kind and dtype are the input's: PIL in, PIL out
    (a palette image comes back as RGB, or RGBA with transparency, a 1-bit one as L: darkening palette
    indices would be meaningless; 16-bit and float PIL images are refused, pass them as float tensors);
    uint8 in, uint8 out (converted back as ``v2.ToDtype`` does); float in [0, 1] in, float out; other
    integer tensors (uint16, int32) are refused.

    Parameters are drawn per call (one set per image of a batched tensor),
    from the global torch RNG, so ``torch.manual_seed`` makes them
    reproducible.

    Args:
        alpha: range of alpha ~ U(lo, hi), within (0, 1]; paper (0.9, 1).
        beta: range of beta ~ U(lo, hi), within (0, 1]; paper (0.5, 1).
        gamma: range of gamma ~ U(lo, hi), > 0; paper (1.5, 5).
        noise: add Poisson-Gaussian sensor noise (off by default, as in the paper).
        shot_noise: range of the shot-noise scale, drawn log-uniformly.
        read_noise: range of the read-noise standard deviation, drawn uniformly.
        quantize: round float outputs to 8 bits (uint8 and PIL outputs are
            8-bit anyway).
        jpeg: ``None`` (default), or a range ``(lo, hi)`` of JPEG qualities in
            [1, 100]: each image is then stored as a JPEG of a quality drawn
            uniformly from it (integers, both ends included) and decoded
            again, after the noise, as cameras and webcams deliver frames
            (8 bits implied). RGB or grey images only.

    Examples:
        >>> from torchvision.transforms import v2
        >>> t = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), LowLightSynth()])
        >>> _ = torch.manual_seed(0)
        >>> dark = t(torch.full((3, 8, 8), 200, dtype=torch.uint8))
        >>> bool(dark.mean() < 200 / 255)
        True
    """

    _transformed_types = (tv_tensors.Image, tv_tensors.Video, PIL.Image.Image, _is_pure_tensor)

    def __init__(
        self,
        *,
        alpha: tuple[float, float] = ALPHA_RANGE,
        beta: tuple[float, float] = BETA_RANGE,
        gamma: tuple[float, float] = GAMMA_RANGE,
        noise: bool = False,
        shot_noise: tuple[float, float] = SHOT_NOISE_RANGE,
        read_noise: tuple[float, float] = READ_NOISE_RANGE,
        quantize: bool = False,
        jpeg: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.alpha = check_interval(alpha, "alpha", low=0.0, high=1.0)
        self.beta = check_interval(beta, "beta", low=0.0, high=1.0)
        self.gamma = check_interval(gamma, "gamma", low=0.0)
        for name, r in (("alpha", self.alpha), ("beta", self.beta), ("gamma", self.gamma)):
            if r[0] <= 0:
                raise ValueError(f"`{name}` expected a range of values > 0, got {r}")
        self.noise = noise
        self.shot_noise = check_interval(shot_noise, "shot_noise", low=0.0)
        if self.shot_noise[0] <= 0:
            raise ValueError(f"`shot_noise` expected a range of values > 0, got {shot_noise}")
        self.read_noise = check_interval(read_noise, "read_noise", low=0.0)
        self.quantize = quantize
        if jpeg is not None:
            if (not isinstance(jpeg, (tuple, list)) or len(jpeg) != 2
                    or any(isinstance(q, bool) or not isinstance(q, int) for q in jpeg)
                    or not 1 <= jpeg[0] <= jpeg[1] <= 100):
                raise ValueError(f"`jpeg` expected None or a range (lo, hi) of ints with 1 <= lo <= hi <= 100, "
                                 f"got {jpeg!r}")
            jpeg = (int(jpeg[0]), int(jpeg[1]))
        self.jpeg = jpeg

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        batch: tuple[int, ...] = ()
        for inpt in flat_inputs:
            if isinstance(inpt, torch.Tensor):
                # a video (..., T, C, H, W) gets one draw for all its frames
                batch = tuple(inpt.shape[:-4] if isinstance(inpt, tv_tensors.Video) else inpt.shape[:-3])
                break
        params = {
            "alpha": _uniform(batch, self.alpha),
            "beta": _uniform(batch, self.beta),
            "gamma": _uniform(batch, self.gamma),
        }
        if self.noise:
            log_lo, log_hi = (math.log(v) for v in self.shot_noise)
            params["shot"] = _uniform(batch, (log_lo, log_hi)).exp()
            params["read"] = _uniform(batch, self.read_noise)
        if self.jpeg is not None:
            params["jpeg"] = torch.randint(self.jpeg[0], self.jpeg[1] + 1, batch)
        return params

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, PIL.Image.Image):
            inpt = _eight_bit(inpt)
            out = self.transform(TF.to_image(inpt), params)
            return TF.to_pil_image(out, mode=inpt.mode)
        if not inpt.is_floating_point() and inpt.dtype != torch.uint8:
            raise TypeError(f"`LowLightSynth` expected float images in [0, 1] or uint8 images, got {inpt.dtype}; "
                            "convert first (e.g. x.float() / 65535 for 16 bits)")
        if not inpt.is_floating_point():
            dark = self.transform(TF.to_dtype(inpt, torch.float32, scale=True), params)
            return TF.to_dtype(dark, inpt.dtype, scale=True)
        image = inpt.as_subclass(torch.Tensor)
        shape = image.shape
        if isinstance(inpt, tv_tensors.Video):  # the video's one draw, for every frame, as a batch of frames
            frames = shape[-4]
            params = {k: v.unsqueeze(-1).expand(*v.shape, frames).reshape(-1) for k, v in params.items()}
            image = image.reshape(-1, *shape[-3:])
        # 2 or 4 channels are gray or RGB with alpha (LA, RGBA): the alpha channel stays as it is
        colour = image.shape[-3] - 1 if image.shape[-3] in (2, 4) else image.shape[-3]
        out = synthesize_low_light(image[..., :colour, :, :], params["alpha"], params["beta"], params["gamma"])
        if self.noise:
            out = add_sensor_noise(out, params["shot"], params["read"], quantize=self.quantize)
        elif self.quantize:
            out = torch.round(out * 255.0) / 255.0
        if self.jpeg is not None:
            out = _jpeg(out, params["jpeg"].reshape(-1) if params["jpeg"].ndim else params["jpeg"].view(1))
        if colour < image.shape[-3]:
            out = torch.cat([out, image[..., colour:, :, :]], dim=-3)
        out = out.reshape(shape)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, beta={self.beta}, gamma={self.gamma}, noise={self.noise}, "
            f"shot_noise={self.shot_noise}, read_noise={self.read_noise}, quantize={self.quantize}, jpeg={self.jpeg}"
        )


def darkening_augmentation(darkenings: tuple[str, ...] | list[str] = ("paper", "realistic"), *,
                           well_lit: float = 0.25) -> Transform:
    """A transforms-v2 augmentation that teaches a classifier the dark: one named darkening per image, or none.

    Each call leaves the image as it is with probability ``well_lit`` and otherwise darkens it with one of
    ``darkenings`` (entries of `DARKENINGS`), drawn in equal shares, all from the global torch RNG. Put it
    after your geometric augmentation and before normalisation, on one image at a time (a batched tensor
    gets one coin and one darkening for the whole batch).

    Args:
        darkenings: names from `DARKENINGS`: ``paper`` (Eq. 14), ``realistic`` (+ sensor noise, 8 bits),
            ``realistic-jpeg`` (+ a JPEG round trip).
        well_lit: share of images left untouched, in [0, 1] (keeps the classifier's well-lit accuracy).

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> t = darkening_augmentation(well_lit=0.0)
        >>> bool(t(torch.full((3, 8, 8), 0.8)).mean() < 0.8)
        True
    """
    from torchvision.transforms import v2

    if isinstance(darkenings, str) or not isinstance(darkenings, (tuple, list)) or not darkenings:
        raise ValueError(f"`darkenings` expected a non-empty list of names from {sorted(DARKENINGS)}, "
                         f"got {darkenings!r}")
    unknown = [d for d in darkenings if d not in DARKENINGS]
    if unknown:
        raise ValueError(f"`darkenings` expected names from {sorted(DARKENINGS)}, got {unknown}")
    if isinstance(well_lit, bool) or not isinstance(well_lit, (int, float)) or not 0.0 <= well_lit <= 1.0:
        raise ValueError(f"`well_lit` expected a share in [0, 1], got {well_lit!r}")
    dark = v2.RandomChoice([LowLightSynth(**DARKENINGS[name]) for name in darkenings])
    return v2.RandomApply([dark], p=1.0 - float(well_lit))
