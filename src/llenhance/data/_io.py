"""Reading images from disk, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import PIL.Image
import torch

__all__ = ["IMAGE_EXTENSIONS", "ImageReadError", "find_images", "read_image", "to_float"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


class ImageReadError(OSError):
    """An image file could not be read or decoded; the message names the file."""


def find_images(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by extension), sorted by path; ``recursive`` also searches sub-folders,
    linked ones included.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        NotADirectoryError: ``folder`` is a file.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"`folder` expected a path (str or os.PathLike), got {type(folder).__name__}")
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"`folder` expected an existing folder, {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"`folder` expected a folder, {folder} is a file")
    if not recursive:
        return sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    # os.walk follows linked folders (glob's "**" does not, before Python 3.13); each real folder once,
    # so a link back up the tree cannot loop
    found, seen = [], set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        found += [Path(root) / f for f in files if Path(f).suffix.lower() in IMAGE_EXTENSIONS
                  and (Path(root) / f).is_file()]
    return sorted(found)


def read_image(path: str | Path) -> torch.Tensor:
    """Read an image as a (3, H, W) uint8 RGB tensor (grayscale is repeated to 3 channels).

    Raises:
        ImageReadError: the file is missing, unreadable or not a decodable image.
    """
    try:
        with PIL.Image.open(path) as img:
            rgb = img.convert("RGB")
    except (OSError, ValueError, PIL.Image.DecompressionBombError) as err:
        raise ImageReadError(f"cannot read image {path}: {err}") from err
    return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).contiguous()


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 (.., H, W) -> float32 in [0, 1] (``read_image`` gives uint8).

    Examples:
        >>> to_float(torch.tensor([0, 51, 255], dtype=torch.uint8))
        tensor([0.0000, 0.2000, 1.0000])
    """
    return image.float().div_(255.0)
