from __future__ import annotations

import pytest
import torch
from skimage.metrics import structural_similarity

from llenhance.losses import SSIMLoss, ssim_loss


class TestSSIMLoss:
    def test_reference_skimage(self) -> None:
        # Wang et al.'s SSIM as scikit-image computes it: Gaussian window sigma 1.5
        # (11 taps), population covariance, interior pixels only.
        a = torch.rand(1, 3, 32, 40, dtype=torch.float64)
        b = (a + 0.2 * torch.rand_like(a)).clamp(0, 1)
        ref = structural_similarity(
            a[0].numpy(), b[0].numpy(), gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=1.0, channel_axis=0,
        )
        assert 1.0 - ssim_loss(a, b, padding="valid").item() == pytest.approx(ref, abs=1e-6)

    def test_same_padding_close_to_valid_on_large_images(self) -> None:
        a = torch.rand(1, 3, 64, 64)
        b = (a + 0.1).clamp(0, 1)
        same, valid = ssim_loss(a, b), ssim_loss(a, b, padding="valid")
        assert abs(same.item() - valid.item()) < 0.05

    def test_identical_and_range(self) -> None:
        x = torch.rand(2, 3, 16, 16)
        assert ssim_loss(x, x).item() == pytest.approx(0.0, abs=1e-5)
        assert 0.0 < ssim_loss(x, 1 - x).item() <= 2.0

    @pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
    def test_finite_on_flat_images(self, value: float) -> None:
        pred = torch.full((1, 3, 12, 12), value, requires_grad=True)
        loss = ssim_loss(pred, torch.full((1, 3, 12, 12), 1 - value))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()

    def test_gradcheck(self) -> None:
        pred = torch.rand(1, 3, 6, 6, dtype=torch.float64, requires_grad=True)
        target = torch.rand(1, 3, 6, 6, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda p: ssim_loss(p, target), (pred,))

    def test_module(self) -> None:
        a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
        torch.testing.assert_close(SSIMLoss(padding="valid")(a, b), ssim_loss(a, b, padding="valid"))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="`padding` expected 'same' or 'valid', got 'full'"):
            ssim_loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), padding="full")
        with pytest.raises(ValueError, match="H, W >= 11"):
            ssim_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), padding="valid")
        # L06/T14: images smaller than the window's reflected border are refused by name (6x6 works: gradcheck)
        for size in (1, 2, 4, 5):
            with pytest.raises(ValueError, match=r"`pred` expected H, W >= 6 \(the SSIM window's border\)"):
                ssim_loss(torch.rand(1, 3, size, size), torch.rand(1, 3, size, size))
