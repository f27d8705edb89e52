from __future__ import annotations

import numpy as np
import pytest
import pywt
import torch

from llenhance.losses import FrequencyLoss, frequency_loss, haar_dwt


class TestHaarDwt:
    @pytest.mark.parametrize("hw", [(8, 8), (6, 10), (7, 9), (1, 5)])
    def test_matches_pywt(self, hw: tuple[int, int]) -> None:
        x = torch.rand(2, 3, *hw, dtype=torch.float64)
        ll, (lh, hl, hh) = haar_dwt(x)
        ref_a, (ref_h, ref_v, ref_d) = pywt.dwt2(x.numpy(), "haar", axes=(-2, -1))
        for ours, ref in ((ll, ref_a), (lh, ref_h), (hl, ref_v), (hh, ref_d)):
            np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)

    def test_constant_has_no_detail(self) -> None:
        ll, details = haar_dwt(torch.full((1, 1, 4, 6), 0.25))
        torch.testing.assert_close(ll, torch.full((1, 1, 2, 3), 0.5))
        for d in details:
            assert d.abs().max() == 0

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match=r"`image` expected a float \(B, C, H, W\) tensor"):
            haar_dwt(torch.zeros(3, 4, 4))
        with pytest.raises(TypeError, match="dtype torch.uint8"):
            haar_dwt(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))


class TestFrequencyLoss:
    def test_reference_pywt(self) -> None:
        a = torch.rand(2, 3, 10, 12, dtype=torch.float64)
        b = torch.rand(2, 3, 10, 12, dtype=torch.float64)
        _, da = pywt.dwt2(a.numpy(), "haar", axes=(-2, -1))
        _, db = pywt.dwt2(b.numpy(), "haar", axes=(-2, -1))
        ref = np.mean([np.abs(x - y).mean() for x, y in zip(da, db)])
        assert frequency_loss(a, b).item() == pytest.approx(ref, rel=1e-12)

    def test_ignores_brightness(self) -> None:
        # A global offset changes only the approximation band.
        a = 0.5 * torch.rand(1, 3, 8, 8)
        assert frequency_loss(a + 0.3, a).item() == pytest.approx(0.0, abs=1e-6)

    @pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
    def test_finite_on_flat_images(self, value: float) -> None:
        pred = torch.full((1, 3, 4, 4), value, requires_grad=True)
        loss = frequency_loss(pred, torch.full((1, 3, 4, 4), 1 - value))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()

    def test_gradcheck(self) -> None:
        pred = torch.rand(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
        target = torch.rand(1, 3, 4, 5, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda p: frequency_loss(p, target), (pred,))

    def test_module(self) -> None:
        a, b = torch.rand(1, 3, 6, 6), torch.rand(1, 3, 6, 6)
        torch.testing.assert_close(FrequencyLoss()(a, b), frequency_loss(a, b))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="`target` expected the shape of `pred`"):
            frequency_loss(torch.rand(1, 3, 4, 4), torch.rand(2, 3, 4, 4))
