from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llenhance.losses import (
    ReconstructionLoss,
    ReconstructionWeights,
    color_loss,
    frequency_loss,
    perceptual_loss,
    ssim_loss,
)


class _CountingNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.conv(x)


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    target = torch.rand(2, 3, 16, 16)
    return (target + 0.1 * torch.randn_like(target)).clamp(0, 1), target


class TestReconstructionLoss:
    def test_paper_weights(self) -> None:
        w = dataclasses.asdict(ReconstructionWeights())
        assert w == {"l1": 0.1, "mse": 0.01, "composite": 1.0, "color": 0.5,
                     "frequency": 0.5, "perceptual": 1.0, "structure": 1.0}

    def test_total_is_eq_11(self) -> None:
        net = _CountingNet()
        pred, target = _pair()
        loss = ReconstructionLoss(feature_net=net, composite=2.0)
        composite = (
            0.5 * color_loss(pred, target)
            + 0.5 * frequency_loss(pred, target)
            + 1.0 * perceptual_loss(pred, target, feature_net=net)
            + 1.0 * ssim_loss(pred, target)
        )
        ref = 0.1 * F.l1_loss(pred, target) + 0.01 * F.mse_loss(pred, target) + 2.0 * composite
        torch.testing.assert_close(loss(pred, target), ref)

    def test_zero_weight_is_not_computed(self) -> None:
        loss = ReconstructionLoss(perceptual=0, color=0)
        assert loss.perceptual is None  # no feature network is built, so no VGG weights needed
        terms = loss.terms(*_pair())
        assert set(terms) == {"l1", "mse", "frequency", "structure", "total"}

    def test_zero_composite_skips_all_composite_terms(self) -> None:
        net = _CountingNet()
        loss = ReconstructionLoss(feature_net=net, composite=0)
        pred, target = _pair()
        terms = loss.terms(pred, target)
        assert set(terms) == {"l1", "mse", "total"}
        assert net.calls == 0
        torch.testing.assert_close(terms["total"], 0.1 * F.l1_loss(pred, target) + 0.01 * F.mse_loss(pred, target))

    def test_accepts_unclamped_predictions(self) -> None:
        pred, target = _pair()
        pred = (pred * 1.2 - 0.1).requires_grad_()
        loss = ReconstructionLoss(perceptual=0)(pred, target)
        loss.backward()
        assert torch.isfinite(pred.grad).all()

    def test_gradcheck(self) -> None:
        net = nn.Conv2d(3, 2, 3).double()
        target = torch.rand(1, 3, 6, 6, dtype=torch.float64)
        pred = (0.1 + 0.8 * torch.rand(1, 3, 6, 6, dtype=torch.float64)).requires_grad_()
        loss = ReconstructionLoss(feature_net=net)
        assert torch.autograd.gradcheck(lambda p: loss(p, target), (pred,))

    @pytest.mark.parametrize("name", ["l1", "mse", "composite", "color", "frequency", "perceptual", "structure"])
    def test_negative_weight(self, name: str) -> None:
        with pytest.raises(ValueError, match=f"`{name}` expected a non-negative number, got -0.5"):
            ReconstructionLoss(**{name: -0.5})

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="`pred` expected values in"):
            ReconstructionLoss(perceptual=0)(torch.full((1, 3, 8, 8), 200.0), torch.rand(1, 3, 8, 8))


def test_grayscale_targets_warn_once_that_the_colour_term_is_ill_posed() -> None:
    import warnings

    loss = ReconstructionLoss(perceptual=0)
    gray = torch.rand(2, 1, 16, 16).expand(-1, 3, -1, -1)
    with pytest.warns(UserWarning, match="grayscale.*color=0"):
        loss(torch.rand(2, 3, 16, 16), gray)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(torch.rand(2, 3, 16, 16), gray)  # once per loss module
        ReconstructionLoss(perceptual=0)(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))  # colour: silent
        ReconstructionLoss(perceptual=0, color=0)(torch.rand(2, 3, 16, 16), gray)  # term off: silent
