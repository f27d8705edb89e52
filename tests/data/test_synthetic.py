from __future__ import annotations

import PIL.Image
import pytest
import torch

from llenhance import LowLightSynth, synthesize_low_light
from llenhance.data import FER2013_CLASSES, FERFolder, SyntheticLowLight
from tests.conftest import shared_data


class TestSyntheticLowLight:
    def test_pairs_and_labels(self) -> None:
        base = [(torch.rand(3, 12, 12), i) for i in range(3)]
        low, normal, label = SyntheticLowLight(base, seed=0)[2]
        assert label == 2
        torch.testing.assert_close(normal, base[2][0])
        assert low.shape == normal.shape and low.mean() < normal.mean()

    def test_low_is_the_synthesis_of_normal(self) -> None:
        # With alpha = beta = 1 and gamma = 2 the darkening is exactly normal ** 2.
        synth = LowLightSynth(alpha=(1, 1), beta=(1, 1), gamma=(2, 2))
        data = SyntheticLowLight([torch.rand(3, 16, 16)], synth, crop=8, flip=True, seed=4)
        low, normal = data[0]
        torch.testing.assert_close(low, synthesize_low_light(normal, 1.0, 1.0, 2.0))

    def test_images_only_dataset(self) -> None:
        low, normal = SyntheticLowLight([torch.rand(3, 8, 8)], seed=0)[0]
        assert low.shape == normal.shape

    def test_deterministic_with_seed(self) -> None:
        base = [torch.rand(3, 16, 16) for _ in range(2)]
        a = SyntheticLowLight(base, crop=8, flip=True, seed=5)
        b = SyntheticLowLight(base, crop=8, flip=True, seed=5)
        torch.manual_seed(123)  # the global RNG does not matter with a seed
        torch.testing.assert_close(a[1], b[1], rtol=0, atol=0)
        a.set_epoch(1)
        assert not torch.equal(a[1][0], b[1][0])

    def test_pil_and_uint8_inputs(self) -> None:
        pil = PIL.Image.new("L", (10, 10), color=128)
        low, normal = SyntheticLowLight([pil], seed=0)[0]
        assert normal.shape == (3, 10, 10) and normal.dtype == torch.float32
        low, normal = SyntheticLowLight([torch.full((3, 4, 4), 255, dtype=torch.uint8)], seed=0)[0]
        torch.testing.assert_close(normal, torch.ones(3, 4, 4))

    def test_bad_item(self) -> None:
        with pytest.raises(ValueError, match=r"`dataset\[0\] image` expected values in \[0, 1\]"):
            SyntheticLowLight([torch.full((3, 4, 4), 7.0)], seed=0)[0]
        with pytest.raises(ValueError, match="`crop` 9 expected at most the size of dataset"):
            SyntheticLowLight([torch.rand(3, 4, 4)], crop=9, seed=0)[0]

    def test_shared_fer2013(self) -> None:
        base = FERFolder(shared_data("fer2013", "val"), classes=FER2013_CLASSES)
        low, normal, label = SyntheticLowLight(base, seed=0)[0]
        assert normal.shape == (3, 48, 48) and label == 0
        assert low.mean() < normal.mean()
