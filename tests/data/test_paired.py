from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from llenhance.data import PAIR_INPUTS, ImageReadError, PairedImageFolder
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

    def test_inputs_mix_real_and_darkened_frames(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, [f"{i}.png" for i in range(40)], size=(24, 24))
        data = PairedImageFolder(tmp_path, crop=16, flip=True, seed=4, inputs=("real", "paper"))
        plain = PairedImageFolder(tmp_path, crop=16, flip=True, seed=4)
        real = 0
        for i in range(40):
            (low, high), (plain_low, plain_high) = data[i], plain[i]
            torch.testing.assert_close(high, plain_high)  # the same crop and flips as the real pairs
            if torch.equal(low, plain_low):
                real += 1
                continue
            # paper Eq. 14, low = beta * (alpha * high) ** gamma: log low is linear in log high, slope gamma
            keep = high > 0.05
            x, y = high[keep].double().log(), low[keep].double().log()
            slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
            assert 1.5 <= float(slope) <= 5.0
            torch.testing.assert_close(y, y.mean() + slope * (x - x.mean()), atol=1e-4, rtol=0)
        assert 8 <= real <= 32  # about half of 40 (binomial, 3.8 sd)
        again = PairedImageFolder(tmp_path, crop=16, flip=True, seed=4, inputs=("real", "paper"))
        torch.testing.assert_close(again[7], data[7])

    def test_real_degraded_adds_camera_noise_to_the_low_frame(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(1)
        high = rng.integers(100, 256, (32, 32, 3), dtype=np.uint8)
        _write(tmp_path / "high" / "a.png", high)
        _write(tmp_path / "low" / "a.png", np.full((32, 32, 3), 60, dtype=np.uint8))
        low, _ = PairedImageFolder(tmp_path, seed=0, inputs=("real-degraded",))[0]
        clean = torch.full_like(low, 60 / 255)
        assert not torch.equal(low, clean)
        assert abs(float(low.mean() - clean.mean())) < 3 / 255  # zero-mean noise, JPEG keeps the mean
        assert 0.5 / 255 < float((low - clean).std()) < 0.1
        torch.testing.assert_close(low * 255, (low * 255).round(), atol=1e-4, rtol=0)  # 8 bits

    def test_inputs_are_checked(self, tmp_path: Path) -> None:
        _make_pairs(tmp_path, ["a.png"])
        for bad in ("real", (), ("real", "dark")):
            with pytest.raises(ValueError, match=r"`inputs` expected a non-empty sequence of names"):
                PairedImageFolder(tmp_path, inputs=bad)

    def test_cli_offers_every_input(self) -> None:
        from llenhance.cli import build_parser

        action = next(a for a in _subparser(build_parser(), "train", "reconstruction")._actions
                      if a.dest == "inputs")
        assert set(action.choices) == set(PAIR_INPUTS)

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


def _subparser(parser, *names: str):
    """The argparse parser of a sub-command path, e.g. ``train reconstruction``."""
    import argparse

    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser
