"""Low/normal-light pairs made from any normal-light dataset with LowLightSynth."""

from __future__ import annotations

from typing import Any

import PIL.Image
import torch
from torch.utils.data import Dataset

from llenhance._checks import check_finite_number, check_image, check_positive_int
from llenhance.data._io import to_float
from llenhance.data._random import EpochSeeded, random_crop_flip, seeded_call
from llenhance.transforms import LowLightSynth

__all__ = ["SyntheticLowLight"]


def _as_float_image(image: Any, index: int) -> torch.Tensor:
    if isinstance(image, PIL.Image.Image):
        from torchvision.transforms.v2 import functional as TF

        image = TF.to_image(image.convert("RGB"))
    if isinstance(image, torch.Tensor) and image.dtype == torch.uint8:
        image = to_float(image)
    image = check_image(image, f"dataset[{index}] image", allow_unbatched=True, channels=None)
    if image.ndim != 3:
        raise ValueError(f"`dataset[{index}]` expected a single (C, H, W) image, got {tuple(image.shape)}")
    return image.as_subclass(torch.Tensor)


class SyntheticLowLight(EpochSeeded, Dataset):
    """Wrap a normal-light dataset into ``(low, normal[, label])`` pairs.

    The wrapped dataset yields an image, or a tuple ``(image, label, ...)``
    whose first element is the image (PIL, uint8 tensor, or float tensor in
    [0, 1]). The same crop and flips are applied to the normal image before
    darkening, so ``low`` and ``normal`` are aligned.

    Args:
        dataset: the normal-light dataset.
        synth: the darkening transform (default: paper ranges, no noise).
        crop: random square crop size; ``None`` keeps the full image.
        flip: random horizontal flip.
        seed: make crops, flips and darkening a function of (seed, epoch,
            index): with a seed, a test set is the same in every run. Without
            one, the global RNG is used.
        normal_fraction: share of the pairs left well lit, ``low`` being the
            normal image itself (drawn per pair): training on them teaches
            an enhancer to leave well-lit input alone.

    Examples:
        >>> base = [(torch.rand(3, 8, 8), 2)]
        >>> low, normal, label = SyntheticLowLight(base, seed=0)[0]
        >>> bool(low.mean() < normal.mean()), label
        (True, 2)
    """

    def __init__(
        self,
        dataset: Any,
        synth: LowLightSynth | None = None,
        *,
        crop: int | None = None,
        flip: bool = False,
        seed: int | None = None,
        normal_fraction: float = 0.0,
    ) -> None:
        if crop is not None:
            check_positive_int(crop, "crop")
        self.normal_fraction = check_finite_number(normal_fraction, "normal_fraction")
        if not 0.0 <= self.normal_fraction <= 1.0:
            raise ValueError(f"`normal_fraction` expected a share in [0, 1], got {normal_fraction}")
        self.dataset = dataset
        self.synth = synth if synth is not None else LowLightSynth()
        self.crop, self.flip, self.seed = crop, flip, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        item = self.dataset[index]
        image, rest = (item[0], tuple(item[1:])) if isinstance(item, (tuple, list)) else (item, ())
        normal = _as_float_image(image, index)
        if self.crop is not None and min(normal.shape[-2:]) < self.crop:
            raise ValueError(
                f"`crop` {self.crop} expected at most the size of dataset[{index}], got {tuple(normal.shape[-2:])}"
            )
        generator = self.generator(index)
        (normal,) = random_crop_flip((normal,), self.crop, False, generator)
        if self.flip and bool(torch.rand(1, generator=generator) < 0.5):
            normal = normal.flip(-1)
        keep = self.normal_fraction > 0 and bool(torch.rand(1, generator=generator) < self.normal_fraction)
        low = normal.clone() if keep else seeded_call(self.synth, normal, generator)
        return (low, normal, *rest)
