from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from llenhance.data import ImageReadError, PairedImageFolder
from tests.conftest import shared_data


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(array).save(path)


def _make_pairs(root: Path, names: list[str], size: tuple[int, int] = (20, 24)) -> None:
    rng = np.random.default_rng(0)
    for name in names:
        high = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        _write(root / "high" / name, high)
        _write(root / "low" / name, high // 8)


class TestPairedImageFolder:
    def test_full_images(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png", "b.png"])
        data = PairedImageFolder(tmp_path)
        low, high = data[1]
        assert len(data) == 2 and data.names == ["a.png", "b.png"]
        assert low.shape == high.shape == (3, 20, 24) and low.dtype == torch.float32
        expected = torch.from_numpy(np.array(PIL.Image.open(tmp_path / "high" / "b.png"))).permute(2, 0, 1) / 255
        torch.testing.assert_close(high, expected)
        torch.testing.assert_close(low, torch.floor(expected * 255 / 8) / 255)

    def test_same_crop_and_flip_for_both(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png"])
        data = PairedImageFolder(tmp_path, crop=8, flip=True, seed=3)
        for epoch in range(4):
            data.set_epoch(epoch)
            low, high = data[0]
            assert low.shape == (3, 8, 8)
            torch.testing.assert_close(low, torch.floor(high * 255 / 8) / 255)

    def test_seeded_crops_repeat_per_epoch(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png"])
        a, b = PairedImageFolder(tmp_path, crop=8, flip=True, seed=1), PairedImageFolder(tmp_path, crop=8, seed=1, flip=True)
        torch.testing.assert_close(a[0], b[0])
        crops = set()
        for epoch in range(6):
            a.set_epoch(epoch)
            crops.add(a[0][1].sum().item())
        assert len(crops) > 1

    def test_normal_fraction_gives_well_lit_pairs(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, [f"{i}.png" for i in range(40)])
        data = PairedImageFolder(tmp_path, crop=8, flip=True, seed=2, normal_fraction=0.25)
        plain = PairedImageFolder(tmp_path, crop=8, flip=True, seed=2)
        same = 0
        for i in range(40):
            (low, high), (plain_low, plain_high) = data[i], plain[i]
            torch.testing.assert_close(high, plain_high)  # the same crop and flip as without well-lit pairs
            if torch.equal(low, high):
                same += 1
            else:
                torch.testing.assert_close(low, plain_low)
        assert 4 <= same <= 18  # about a quarter of 40 (binomial, 3 sd)
        assert all(torch.equal(*PairedImageFolder(tmp_path, normal_fraction=1.0)[i]) for i in range(3))
        with pytest.raises(ValueError, match=r"`normal_fraction` expected a share in \[0, 1\], got 1.5"):
            PairedImageFolder(tmp_path, normal_fraction=1.5)

    def test_preload_gives_the_same_items(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png", "b.png"])
        torch.testing.assert_close(PairedImageFolder(tmp_path, preload=True)[0], PairedImageFolder(tmp_path)[0])

    def test_missing_folder(self, tmp_path: Path) -> None:
        (tmp_path / "low").mkdir()
        with pytest.raises(FileNotFoundError, match="low/ and high/.*high does not exist"):
            PairedImageFolder(tmp_path)

    def test_empty(self, tmp_path: Path) -> None:
        (tmp_path / "low").mkdir()
        (tmp_path / "high").mkdir()
        with pytest.raises(ValueError, match="found none"):
            PairedImageFolder(tmp_path)

    def test_name_mismatch_lists_names(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png", "b.png"])
        _write(tmp_path / "low" / "c.png", np.zeros((4, 4, 3), np.uint8))
        with pytest.raises(ValueError, match=r"1 only in low/ \(e.g. \['c.png'\]\), 0 only in high/"):
            PairedImageFolder(tmp_path)

    def test_unreadable_image_is_named(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png"])
        (tmp_path / "low" / "a.png").write_bytes(b"not a png")
        data = PairedImageFolder(tmp_path)
        with pytest.raises(ImageReadError, match="low/a.png"):
            data[0]

    def test_crop_larger_than_image(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png"])
        with pytest.raises(ValueError, match="`crop` 64 expected at most the size of .*a.png"):
            PairedImageFolder(tmp_path, crop=64)[0]

    def test_size_mismatch(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png"])
        _write(tmp_path / "low" / "a.png", np.zeros((5, 5, 3), np.uint8))
        with pytest.raises(ValueError, match="pair 'a.png' differ in size"):
            PairedImageFolder(tmp_path)[0]

    def test_shared_sice(self) -> None:
        root = shared_data("sice", "val")
        data = PairedImageFolder(root, crop=64, seed=0)
        low, high = data[0]
        assert len(data) == 83
        assert low.mean() < high.mean()
