"""Put the enhancer in front of three kinds of FER classifier, two lines each.

Run:
    python examples/wrap_classifiers.py
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from llenhance import ClassifierPreprocess, LowLightSynth, wrap


class GrayFER(nn.Module):
    """A 48x48 grayscale FER model (FER2013 style) that returns (logits, embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(16, 7)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.features(x)
        return self.head(embedding), embedding


def main() -> None:
    torch.manual_seed(0)
    faces = LowLightSynth()(torch.rand(4, 3, 112, 112))  # stand-ins for dark face crops in [0, 1]

    # 1. torchvision ResNet-18 expecting ImageNet normalisation (the default preprocessing)
    model = wrap(torchvision.models.resnet18(num_classes=7))
    print("resnet18 logits:", tuple(model(faces).shape))

    # 2. a 48x48 grayscale model returning a tuple: say what it expects
    model = wrap(GrayFER(), preprocess=ClassifierPreprocess(size=48, grayscale=True, mean=(0.5,), std=(0.5,)))
    logits, embedding = model(faces)
    print("grayscale 48x48 logits:", tuple(logits.shape), "embedding:", tuple(embedding.shape))

    # 3. a timm model: take its preprocessing from timm's data config
    try:
        import timm
    except ImportError:
        print("timm is not installed; skipping the timm example (pip install timm)")
    else:
        net = timm.create_model("convnext_atto", num_classes=7, pretrained=False)
        cfg = timm.data.resolve_data_config({}, model=net)
        model = wrap(net, preprocess=ClassifierPreprocess(size=cfg["input_size"][1:], mean=cfg["mean"], std=cfg["std"]))
        print("timm convnext_atto logits:", tuple(model(faces).shape))
    print("enhancer:", type(model.enhancer).__name__, "classifier:", type(model.classifier).__name__)



if __name__ == "__main__":
    main()
