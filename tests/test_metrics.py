from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from llenhance.metrics import (
    accuracy,
    confusion_matrix,
    per_class_accuracy,
    psnr,
    recovered_fraction,
    ssim,
)


class TestImageMetrics:
    def test_psnr_matches_skimage_per_image(self) -> None:
        a = torch.rand(3, 3, 20, 24, dtype=torch.float64)
        b = (a + 0.05 * torch.randn_like(a)).clamp(0, 1)
        ours = psnr(a, b)
        for i in range(3):
            ref = peak_signal_noise_ratio(b[i].numpy(), a[i].numpy(), data_range=1.0)
            assert ours[i].item() == pytest.approx(ref, rel=1e-9)

    def test_psnr_is_per_image_not_pooled(self) -> None:
        target = torch.zeros(2, 3, 4, 4)
        pred = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.01)])
        torch.testing.assert_close(psnr(pred, target), torch.tensor([20.0, 40.0]))

    def test_ssim_matches_skimage(self) -> None:
        a = torch.rand(2, 3, 32, 32, dtype=torch.float64)
        b = (a + 0.1 * torch.rand_like(a)).clamp(0, 1)
        ours = ssim(a, b)
        for i in range(2):
            ref = structural_similarity(a[i].numpy(), b[i].numpy(), gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, data_range=1.0, channel_axis=0)
            assert ours[i].item() == pytest.approx(ref, abs=1e-6)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="`target` expected the shape of `pred`"):
            psnr(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))


class TestClassificationMetrics:
    def test_confusion_matrix_hand_computed(self) -> None:
        pred = torch.tensor([0, 2, 1, 1, 2])
        true = torch.tensor([0, 1, 1, 2, 2])
        expected = np.array([[1, 0, 0], [0, 1, 1], [0, 1, 1]])
        np.testing.assert_array_equal(confusion_matrix(pred, true, 3).numpy(), expected)
        assert accuracy(pred, true) == pytest.approx(3 / 5)
        torch.testing.assert_close(per_class_accuracy(pred, true, 4)[:3], torch.tensor([1.0, 0.5, 0.5]))
        assert torch.isnan(per_class_accuracy(pred, true, 4)[3])

    def test_recovered_fraction(self) -> None:
        assert recovered_fraction(0.7, 0.5, 0.9) == pytest.approx(0.5)
        assert recovered_fraction(0.4, 0.5, 0.9) == pytest.approx(-0.25)
        with pytest.raises(ValueError, match="`acc_normal` expected to differ"):
            recovered_fraction(0.5, 0.6, 0.6)

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match="`predictions` expected a 1-D integer tensor"):
            accuracy(torch.rand(3), torch.tensor([0, 1, 2]))
        with pytest.raises(ValueError, match="`targets` expected the non-empty shape"):
            accuracy(torch.tensor([0, 1]), torch.tensor([0, 1, 2]))
        with pytest.raises(ValueError, match=r"class indices in \[0, 1\]"):
            confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), 2)
