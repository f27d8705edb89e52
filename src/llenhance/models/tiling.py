"""Overlapping tiles for images too large for one pass: the grid, the blending, and the assembly.

A model that needs more than independent tiles (global statistics, exposure
curves) implements ``forward_tiled(image, tile=, overlap=)`` on top of these
(`llenhance.LLENet` does); `llenhance.enhance` calls it when present and
`blend_tiles` with the model itself otherwise.

Examples:
    >>> import torch
    >>> x = torch.rand(1, 3, 40, 50)
    >>> bool(torch.allclose(blend_tiles(lambda t: t * 2, x, tile=16, overlap=4), x * 2))
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["Tile", "blend_tiles", "tile_grid", "tile_halo"]

#: One tile along both axes: ``((y0, y1, core_y0, core_y1), (x0, x1, core_x0, core_x1))``; the cores partition
#: the image, the tiles add a halo around them.
Tile = tuple[tuple[int, int, int, int], tuple[int, int, int, int]]


def _spans(size: int, tile: int, core: int, halo: int) -> list[tuple[int, int, int, int]]:
    """(tile start, tile end, core start, core end) along one axis; cores partition [0, size)."""
    if size <= tile:
        return [(0, size, 0, size)]
    return [(max(0, c0 - halo), min(size, min(c0 + core, size) + halo), c0, min(c0 + core, size))
            for c0 in range(0, size, core)]


def tile_halo(overlap: int, multiple: int = 1) -> int:
    """Pixels of context on each side of a tile's core: half the overlap, rounded up to ``multiple``."""
    return -(-(overlap // 2) // multiple) * multiple


def tile_grid(height: int, width: int, tile: int, overlap: int, multiple: int = 1) -> tuple[list[Tile], int]:
    """The tiles covering a ``height`` x ``width`` image, and their halo (pixels of context on each side).

    The halo is half the overlap rounded up to ``multiple`` (a model's padding multiple), so tile borders
    stay aligned to it; each core is ``tile - 2 * halo`` rounded down to ``multiple`` (at least one multiple).
    """
    halo = tile_halo(overlap, multiple)
    core = max((tile - 2 * halo) // multiple * multiple, multiple)
    return [(ty, tx) for ty in _spans(height, tile, core, halo) for tx in _spans(width, tile, core, halo)], halo


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool, device: torch.device) -> torch.Tensor:
    """Blending weights along one axis: linear ramps over the overlap, except at image borders."""
    w = torch.ones(length, device=device, dtype=torch.float64)
    if overlap > 0:
        ramp = (torch.arange(overlap, device=device, dtype=torch.float64) + 0.5) / overlap
        if not at_start:
            w[:overlap] = torch.minimum(w[:overlap], ramp)
        if not at_end:
            w[-overlap:] = torch.minimum(w[-overlap:], ramp.flip(0))
    return w


def blend_tiles(run: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, tile: int, overlap: int,
                multiple: int = 1) -> torch.Tensor:
    """``run`` on overlapping tiles of ``image`` (1, C, H, W), blended with linear ramps across the overlaps.

    ``run`` must keep its input's shape; ``multiple``: tiles start at multiples of it (the image's sides
    should be multiples of it too). Accumulates in float64; returns float32.
    """
    _, c, h, w = image.shape
    grid, halo = tile_grid(h, w, tile, overlap, multiple)
    out = torch.zeros(1, c, h, w, dtype=torch.float64, device=image.device)
    weight = torch.zeros(1, 1, h, w, dtype=torch.float64, device=image.device)
    for (ty0, ty1, _, _), (tx0, tx1, _, _) in grid:
        wy = _ramp(ty1 - ty0, 2 * halo, ty0 == 0, ty1 >= h, image.device)
        wx = _ramp(tx1 - tx0, 2 * halo, tx0 == 0, tx1 >= w, image.device)
        mask = (wy[:, None] * wx[None, :])[None, None]
        out[..., ty0:ty1, tx0:tx1] += run(image[..., ty0:ty1, tx0:tx1]).double() * mask
        weight[..., ty0:ty1, tx0:tx1] += mask
    return (out / weight).float()
