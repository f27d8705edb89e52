"""Paired low/normal-light image folders (LOL, LOL-v2, LSRW, SICE layout)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from llenhance._checks import check_finite_number, check_positive_int
from llenhance.data._io import find_images, read_image, to_float
from llenhance.data._random import EpochSeeded, random_crop_flip, seeded_call
from llenhance.transforms import DARKENINGS, JPEG_RANGE, LowLightSynth

__all__ = ["PAIR_INPUTS", "PairedImageFolder"]

#: What a pair's input can be (``PairedImageFolder(inputs=...)``): its own low frame (``real``), that frame as
#: a noisier camera stores it (``real-degraded``: sensor noise, 8 bits, JPEG at a quality from `JPEG_RANGE`),
#: or the normal frame darkened by one of the named `llenhance.transforms.DARKENINGS`.
PAIR_INPUTS: dict[str, dict[str, object] | None] = {
    "real": None,
    "real-degraded": {"alpha": (1.0, 1.0), "beta": (1.0, 1.0), "gamma": (1.0, 1.0), "noise": True,
                      "quantize": True, "jpeg": JPEG_RANGE},
    **DARKENINGS,
}


class PairedImageFolder(EpochSeeded, Dataset):
    """Pairs ``root/low/NAME`` with ``root/high/NAME``.

    The layout of LOL's ``our485`` / ``eval15``, LOL-v2, LSRW and SICE. Items
    are ``(low, normal)`` float tensors (3, H, W) in [0, 1].

    Args:
        root: folder holding ``low/`` and ``high/`` with the same file names.
        crop: random square crop size for training (the same crop for both
            images); ``None`` returns full images (evaluation).
        flip: random horizontal and vertical flips (the same for both).
        seed: make crops and flips a function of (seed, epoch, index), so runs
            and resumed runs see the same data; ``None`` uses the global RNG.
        preload: decode every image once at construction and keep them in
            memory (uint8), which saves decoding every epoch.
        normal_fraction: share of the items returned as ``(normal, normal)``
            (drawn per item, with the seed): well-lit input whose target is
            itself, which teaches an enhancer to leave good images alone.
        inputs: names from `PAIR_INPUTS`, one drawn per item in equal shares
            (with the seed): the real low frame, the low frame with camera
            noise and JPEG, or the normal frame darkened (``paper``,
            ``realistic``, ``realistic-jpeg``), so an enhancer learns to
            remove noise and compression rather than amplify them. Default
            ``("real",)``: the pairs as they are.

    Raises:
        FileNotFoundError: ``root``, ``low/`` or ``high/`` is missing.
        ValueError: no images, names that do not match (the first few are
            listed), or an image smaller than ``crop``.
        ImageReadError: an image cannot be decoded (named).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        crop: int | None = None,
        flip: bool = False,
        seed: int | None = None,
        preload: bool = False,
        normal_fraction: float = 0.0,
        inputs: Sequence[str] = ("real",),
    ) -> None:
        self.root = Path(root)
        if isinstance(inputs, str) or not inputs or any(name not in PAIR_INPUTS for name in inputs):
            raise ValueError(f"`inputs` expected a non-empty sequence of names from {sorted(PAIR_INPUTS)}, "
                             f"got {inputs!r}")
        self.inputs = tuple(inputs)
        self._synths = {name: LowLightSynth(**PAIR_INPUTS[name]) for name in self.inputs  # type: ignore[arg-type]
                        if PAIR_INPUTS[name] is not None}
        if crop is not None:
            check_positive_int(crop, "crop")
        self.normal_fraction = check_finite_number(normal_fraction, "normal_fraction")
        if not 0.0 <= self.normal_fraction <= 1.0:
            raise ValueError(f"`normal_fraction` expected a share in [0, 1], got {normal_fraction}")
        self.crop, self.flip, self.seed = crop, flip, seed
        for sub in (self.root, self.root / "low", self.root / "high"):
            if not sub.is_dir():
                raise FileNotFoundError(
                    f"`root` expected a folder with low/ and high/ subfolders, {sub} does not exist"
                )
        low = {p.name: p for p in find_images(self.root / "low")}
        high = {p.name: p for p in find_images(self.root / "high")}
        if not low and not high:
            raise ValueError(f"`root` expected images in {self.root}/low and {self.root}/high, found none")
        only_low, only_high = sorted(low.keys() - high.keys()), sorted(high.keys() - low.keys())
        if only_low or only_high:
            raise ValueError(
                f"`root` expected the same file names in low/ and high/ of {self.root}; "
                f"{len(only_low)} only in low/ (e.g. {only_low[:5]}), "
                f"{len(only_high)} only in high/ (e.g. {only_high[:5]})"
            )
        self.names = sorted(low)
        self.pairs = [(low[n], high[n]) for n in self.names]
        self._cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        if preload:
            self._cache = [self._read(i) for i in range(len(self.pairs))]

    def __len__(self) -> int:
        return len(self.pairs)

    def _read(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        low_path, high_path = self.pairs[index]
        low, high = read_image(low_path), read_image(high_path)
        if low.shape != high.shape:
            raise ValueError(
                f"images of pair {self.names[index]!r} differ in size: low {tuple(low.shape[1:])}, "
                f"high {tuple(high.shape[1:])}"
            )
        if self.crop is not None and min(low.shape[1:]) < self.crop:
            raise ValueError(
                f"`crop` {self.crop} expected at most the size of {low_path}, got {tuple(low.shape[1:])}"
            )
        return low, high

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = self._cache[index] if self._cache is not None else self._read(index)
        generator = self.generator(index)
        low, high = random_crop_flip((low, high), self.crop, self.flip, generator)
        if self.normal_fraction > 0 and bool(torch.rand(1, generator=generator) < self.normal_fraction):
            return to_float(high), to_float(high)
        name = self.inputs[int(torch.randint(len(self.inputs), (1,), generator=generator))]
        low, high = to_float(low), to_float(high)
        if name != "real":
            low = seeded_call(self._synths[name], low if name == "real-degraded" else high, generator)
        return low, high

    def __repr__(self) -> str:
        inputs = "" if self.inputs == ("real",) else f", inputs={self.inputs}"
        return f"PairedImageFolder({str(self.root)!r}, pairs={len(self)}, crop={self.crop}, flip={self.flip}{inputs})"
