from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from llenhance import ClassifierPreprocess, FrozenClassifier
from llenhance.classifier import find_stages


class _TupleNet(nn.Module):
    """A 48x48 grayscale model that returns (logits, embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(8, 7)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1:] != (1, 48, 48):
            raise ValueError(f"expected (B, 1, 48, 48), got {tuple(x.shape)}")
        emb = self.block(self.stem(x)).mean(dim=(2, 3))
        return self.head(emb), emb


class TestClassifierPreprocess:
    def test_reference(self) -> None:
        x = torch.rand(2, 3, 20, 30)
        pre = ClassifierPreprocess(size=(10, 15), grayscale=True, mean=(0.5,), std=(0.25,))
        resized = F.interpolate(x, size=(10, 15), mode="bilinear", antialias=True)
        gray = 0.299 * resized[:, :1] + 0.587 * resized[:, 1:2] + 0.114 * resized[:, 2:]
        torch.testing.assert_close(pre(x), (gray - 0.5) / 0.25)

    def test_default_is_imagenet_normalisation(self) -> None:
        x = torch.rand(1, 3, 4, 4)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        torch.testing.assert_close(ClassifierPreprocess()(x), (x - mean) / std)
        torch.testing.assert_close(ClassifierPreprocess(mean=None, std=None)(x), x)

    def test_gradcheck(self) -> None:
        pre = ClassifierPreprocess(size=5, grayscale=True, mean=(0.5,), std=(0.5,))
        x = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(pre, (x,))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match=r"`mean`/`std` expected 1 values each \(grayscale=True\), got 3 and 3"):
            ClassifierPreprocess(grayscale=True)
        with pytest.raises(ValueError, match="`size` expected an int or"):
            ClassifierPreprocess(size=(0, 4))
        with pytest.raises(ValueError, match="both or neither"):
            ClassifierPreprocess(mean=None)


class TestFrozenClassifier:
    def test_resnet18_stages_and_logits(self) -> None:
        net = torchvision.models.resnet18(num_classes=7)
        fer = FrozenClassifier(net)
        assert fer.stages == ("layer1", "layer2", "layer3", "layer4")
        logits, features = fer.forward_features(torch.rand(2, 3, 64, 64))
        assert logits.shape == (2, 7)
        assert [f.shape for f in features] == [
            (2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4), (2, 512, 2, 2)
        ]
        # forward_features' logits are those of the plain forward
        torch.testing.assert_close(fer(torch.rand(2, 3, 64, 64) * 0 + 0.5), fer.forward_features(torch.full((2, 3, 64, 64), 0.5))[0])

    def test_frozen_yet_differentiable(self) -> None:
        net = torchvision.models.resnet18(num_classes=7)
        net.train()
        before = {k: v.clone() for k, v in net.state_dict().items()}
        fer = FrozenClassifier(net).train()
        assert not net.training and all(not p.requires_grad for p in net.parameters())
        x = torch.rand(4, 3, 32, 32, requires_grad=True)
        logits, features = fer.forward_features(x)
        (logits.sum() + sum(f.mean() for f in features)).backward()
        assert x.grad is not None and x.grad.abs().sum() > 0
        assert all(p.grad is None for p in net.parameters())
        for k, v in net.state_dict().items():
            torch.testing.assert_close(v, before[k], rtol=0, atol=0, msg=k)

    def test_tuple_output_grayscale_48(self) -> None:
        net = _TupleNet()
        pre = ClassifierPreprocess(size=48, grayscale=True, mean=(0.5,), std=(0.5,))
        with pytest.raises(TypeError, match="returned tuple.*logits_fn"):
            FrozenClassifier(net, preprocess=pre, stages=["stem", "block"])(torch.rand(2, 3, 100, 90))
        fer = FrozenClassifier(net, preprocess=pre, stages=["stem", "block"], logits_fn=lambda out: out[0])
        logits, features = fer.forward_features(torch.rand(2, 3, 100, 90))
        assert logits.shape == (2, 7) and [f.shape[1] for f in features] == [4, 8]

    def test_bad_output_shape(self) -> None:
        fer = FrozenClassifier(nn.Sequential(nn.Conv2d(3, 7, 1)), stages=[], preprocess=ClassifierPreprocess())
        with pytest.raises(ValueError, match=r"`classifier output` expected shape \(B, num_classes\)"):
            fer(torch.rand(1, 3, 8, 8))

    def test_unknown_stage(self) -> None:
        with pytest.raises(ValueError, match=r"unknown \['layer9'\]"):
            FrozenClassifier(torchvision.models.resnet18(), stages=["layer9"])

    def test_find_stages(self) -> None:
        class Staged(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.stages = nn.Sequential(nn.Identity(), nn.Identity())

        assert find_stages(Staged()) == ["stages.0", "stages.1"]
        with pytest.raises(ValueError, match=r"pass stages=\[...\].*\['features', 'avgpool', 'classifier'\]"):
            find_stages(torchvision.models.mobilenet_v3_small())

    def test_rejects_uint8(self) -> None:
        fer = FrozenClassifier(torchvision.models.resnet18())
        with pytest.raises(TypeError, match="`images` expected a floating point"):
            fer(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_timm_convnext_stages_and_preprocessing() -> None:
    timm = pytest.importorskip("timm")
    net = timm.create_model("convnext_atto", num_classes=7, pretrained=False)
    cfg = timm.data.resolve_data_config({}, model=net)
    pre = ClassifierPreprocess(size=cfg["input_size"][1:], mean=cfg["mean"], std=cfg["std"])
    fer = FrozenClassifier(net, preprocess=pre)
    assert fer.stages == ("stages.0", "stages.1", "stages.2", "stages.3")
    logits, features = fer.forward_features(torch.rand(1, 3, 64, 64))
    assert logits.shape == (1, 7)
    assert [f.shape[-1] for f in features] == [56, 28, 14, 7]  # resized to timm's 224x224 input


def test_T01_the_frozen_classifier_is_given_back_as_it_was() -> None:
    """T01: FrozenClassifier freezes the user's own module (documented); release() restores mode and flags,
    also after a training run used it."""
    import torchvision

    from llenhance import FERGuidedTrainer, FrozenClassifier, LLENet
    from tests.training.helpers import TinyPairs

    net = torchvision.models.resnet18(num_classes=7).train()
    net.fc.requires_grad_(False)  # the user's own choice, kept
    frozen = FrozenClassifier(net)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    FERGuidedTrainer(LLENet(width=4), frozen, batch_size=4, progress=False,
                     reconstruction=__import__("llenhance").losses.ReconstructionLoss(perceptual=0)).fit(
        TinyPairs(), iterations=1)
    assert frozen.release() is net and net.training
    assert net.conv1.weight.requires_grad and not net.fc.weight.requires_grad
    assert not net.layer1._forward_hooks  # the stage hooks are gone
