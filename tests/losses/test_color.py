from __future__ import annotations

import colorsys

import pytest
import torch

from llenhance.losses import ColorLoss, color_loss, rgb_to_hsi
from llenhance.losses.color import _hsv


def _pixel(r: float, g: float, b: float) -> torch.Tensor:
    return torch.tensor([r, g, b], dtype=torch.float64).view(1, 3, 1, 1)


class TestRgbToHsi:
    @pytest.mark.parametrize(
        ("rgb", "hsi"),
        [
            ((1.0, 0.0, 0.0), (0.0, 1.0, 1 / 3)),
            ((0.0, 1.0, 0.0), (1 / 3, 1.0, 1 / 3)),
            ((0.0, 0.0, 1.0), (2 / 3, 1.0, 1 / 3)),
            # I = 0.4, S = 1 - 0.2 / 0.4, theta = arccos(-0.3 / sqrt(0.12)) = 150 deg, B > G.
            ((0.2, 0.4, 0.6), (210 / 360, 0.5, 0.4)),
            ((1.0, 1.0, 0.0), (1 / 6, 1.0, 2 / 3)),
        ],
    )
    def test_hand_computed(self, rgb: tuple, hsi: tuple) -> None:
        out = rgb_to_hsi(_pixel(*rgb)).flatten()
        torch.testing.assert_close(out, torch.tensor(hsi, dtype=torch.float64), atol=1e-3, rtol=0)

    def test_black_and_grey_have_zero_saturation(self) -> None:
        for v in (0.0, 0.5, 1.0):
            out = rgb_to_hsi(_pixel(v, v, v)).flatten()
            assert abs(out[1].item()) < 1e-5
            assert abs(out[2].item() - v) < 1e-12

    def test_unbatched(self) -> None:
        assert rgb_to_hsi(torch.rand(3, 4, 5)).shape == (3, 4, 5)


class TestColorLoss:
    def test_hsv_matches_colorsys(self) -> None:
        x = torch.rand(1, 3, 6, 6, dtype=torch.float64)
        ours = _hsv(x, 1e-12)
        for i in range(6):
            for j in range(6):
                ref = colorsys.rgb_to_hsv(*x[0, :, i, j].tolist())
                torch.testing.assert_close(ours[0, :, i, j], torch.tensor(ref, dtype=torch.float64), atol=1e-6, rtol=0)

    def test_smoke_and_zero(self) -> None:
        x = torch.rand(2, 3, 8, 8)
        assert color_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
        assert color_loss(x, torch.rand(2, 3, 8, 8)).item() > 0

    def test_red_vs_green(self) -> None:
        # HSV: dh = 1/3, ds = dv = 0 -> 1/9; HSI: dh = 1/3, ds = di = 0 -> 1/9.
        loss = color_loss(_pixel(1, 0, 0), _pixel(0, 1, 0))
        assert loss.item() == pytest.approx(2 / 9, abs=1e-3)

    def test_circular_hue(self) -> None:
        # Red (h = 0) and blue (h = 2/3) are 1/3 apart on the hue circle.
        red, blue = _pixel(1, 0, 0), _pixel(0, 0, 1)
        assert color_loss(red, blue).item() == pytest.approx(2 / 9, abs=1e-3)
        assert color_loss(red, blue, circular_hue=False).item() == pytest.approx(4 / 9, abs=1e-3)

    @pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
    def test_finite_on_flat_images(self, value: float) -> None:
        target = torch.full((1, 3, 4, 4), value)
        for pred_value in (0.0, 0.5, 1.0):
            pred = torch.full((1, 3, 4, 4), pred_value, requires_grad=True)
            loss = color_loss(pred, target)
            loss.backward()
            assert torch.isfinite(loss)
            assert torch.isfinite(pred.grad).all()

    def test_gradcheck(self) -> None:
        pred = (0.1 + 0.8 * torch.rand(1, 3, 3, 3, dtype=torch.float64)).requires_grad_()
        target = torch.rand(1, 3, 3, 3, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda p: color_loss(p, target), (pred,))

    def test_module(self) -> None:
        a, b = torch.rand(2, 3, 5, 5), torch.rand(2, 3, 5, 5)
        torch.testing.assert_close(ColorLoss(circular_hue=False)(a, b), color_loss(a, b, circular_hue=False))
        torch.testing.assert_close(ColorLoss()(a, b), color_loss(a, b))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="`target` expected the shape of `pred`"):
            color_loss(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 3))
        with pytest.raises(TypeError, match="`pred` expected a floating point"):
            color_loss(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), torch.rand(1, 3, 4, 4))
        with pytest.raises(ValueError, match="`target` expected values in"):
            color_loss(torch.rand(1, 3, 4, 4), 2 * torch.ones(1, 3, 4, 4))
