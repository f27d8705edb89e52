"""Per-sample random streams that do not depend on workers or on resuming."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["EpochSeeded", "random_crop_flip", "seeded_call"]


class EpochSeeded:
    """Mixin: a generator per (seed, epoch, index), or the global RNG without a seed.

    With a seed, sample ``i`` of epoch ``e`` gets the same augmentation in every
    run, whatever the number of DataLoader workers, and a resumed run sees the
    same data as an uninterrupted one. The trainer calls ``set_epoch``.
    """

    seed: int | None = None
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def generator(self, index: int) -> torch.Generator | None:
        if self.seed is None:
            return None
        # Distinct, well-mixed 63-bit seeds for distinct (seed, epoch, index).
        g = torch.Generator()
        g.manual_seed(((self.seed * 1_000_003 + self.epoch) * 1_000_000_007 + index) & (2**63 - 1))
        return g


def random_crop_flip(
    images: tuple[torch.Tensor, ...],
    crop: int | None,
    flip: bool,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, ...]:
    """The same random crop (crop x crop) and flips applied to every image."""
    h, w = images[0].shape[-2:]
    if crop is not None:
        top = int(torch.randint(0, h - crop + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - crop + 1, (1,), generator=generator))
        images = tuple(im[..., top : top + crop, left : left + crop] for im in images)
    if flip:
        hflip, vflip = torch.rand(2, generator=generator) < 0.5
        if hflip:
            images = tuple(im.flip(-1) for im in images)
        if vflip:
            images = tuple(im.flip(-2) for im in images)
    return images


def seeded_call(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                generator: torch.Generator | None) -> torch.Tensor:
    """``fn(x)`` for a transform that draws from the global RNG: with a generator, the global RNG is seeded
    from it for the call and restored afterwards (so the draw is a function of the item's seed); without
    one, the global RNG is used as it is."""
    if generator is None:
        return fn(x)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        return fn(x)
