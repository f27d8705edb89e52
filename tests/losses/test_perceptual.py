from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llenhance.losses import PerceptualLoss, perceptual_loss, vgg16_relu3_3


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3))


class TestPerceptualLoss:
    def test_reference(self) -> None:
        net = _net()
        a, b = torch.rand(2, 3, 12, 12), torch.rand(2, 3, 12, 12)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        with torch.no_grad():
            ref = ((net((a - mean) / std) - net((b - mean) / std)) ** 2).mean()
            raw = F.mse_loss(net(a), net(b))
        torch.testing.assert_close(perceptual_loss(a, b, feature_net=net), ref)
        torch.testing.assert_close(perceptual_loss(a, b, feature_net=net, normalize=False), raw)

    def test_module_freezes_network_but_not_pred(self) -> None:
        net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        loss = PerceptualLoss(feature_net=net).train()
        assert not net.training
        assert all(not p.requires_grad for p in net.parameters())
        before = net[1].running_mean.clone()
        pred = torch.rand(2, 3, 8, 8, requires_grad=True)
        loss(pred, torch.rand(2, 3, 8, 8)).backward()
        assert pred.grad is not None and pred.grad.abs().sum() > 0
        torch.testing.assert_close(net[1].running_mean, before)

    def test_module_matches_function(self) -> None:
        net = _net()
        a, b = torch.rand(1, 3, 10, 10), torch.rand(1, 3, 10, 10)
        torch.testing.assert_close(PerceptualLoss(feature_net=net)(a, b), perceptual_loss(a, b, feature_net=net))

    def test_gradcheck(self) -> None:
        net = _net().double()
        target = torch.rand(1, 3, 6, 6, dtype=torch.float64)
        pred = torch.rand(1, 3, 6, 6, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda p: perceptual_loss(p, target, feature_net=net), (pred,))

    def test_missing_vgg_weights_say_what_to_do(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        # An empty cache and no network: the download itself fails.
        monkeypatch.setenv("TORCH_HOME", str(tmp_path))

        def offline(*args: object, **kwargs: object) -> None:
            raise urllib.error.URLError("network unreachable")

        monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
        with pytest.raises(RuntimeError, match=r"VGG-16 weights could not be obtained.*feature_net=.*perceptual=0"):
            vgg16_relu3_3()
        with pytest.raises(RuntimeError, match="PerceptualLoss\\(feature_net="):
            PerceptualLoss()

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="`target` expected the shape of `pred`"):
            perceptual_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 9, 8), feature_net=_net())
