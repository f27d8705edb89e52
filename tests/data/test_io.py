from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from llenhance.data import ImageReadError, find_images, read_image


def _save(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(np.full((4, 5), value, dtype=np.uint8)).save(path)


def test_find_images_lists_images_by_extension_sorted(tmp_path: Path) -> None:
    _save(tmp_path / "b.png", 1)
    _save(tmp_path / "a.JPG", 2)
    _save(tmp_path / "sub" / "c.png", 3)
    (tmp_path / "notes.txt").write_text("not an image")
    assert find_images(tmp_path) == [tmp_path / "a.JPG", tmp_path / "b.png"]
    assert find_images(str(tmp_path), recursive=True) == [tmp_path / "a.JPG", tmp_path / "b.png", tmp_path / "sub" / "c.png"]


def test_find_images_refuses_a_missing_folder_or_a_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="`folder` expected an existing folder, .*missing does not exist"):
        find_images(tmp_path / "missing")
    _save(tmp_path / "a.png", 1)
    with pytest.raises(NotADirectoryError, match="`folder` expected a folder, .*a.png is a file"):
        find_images(tmp_path / "a.png")
    with pytest.raises(TypeError, match="`folder` expected a path"):
        find_images(3)


def test_read_image_gives_rgb_uint8_and_names_a_bad_file(tmp_path: Path) -> None:
    _save(tmp_path / "g.png", 7)
    image = read_image(tmp_path / "g.png")
    assert image.dtype == torch.uint8 and image.shape == (3, 4, 5) and bool((image == 7).all())
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ImageReadError, match="cannot read image .*bad.png"):
        read_image(tmp_path / "bad.png")
