"""The FER classifier architectures of the benchmarks and how their weights are read.

Shared by ``train_fer_classifier.py`` (which trains them) and the scripts that
use the trained classifiers; not part of the llenhance API.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

# FER2013 faces are grayscale: one mean/std for the three identical channels.
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def fer_resnet18(num_classes: int = 7) -> nn.Module:
    """ResNet-18 for 48x48 faces: 3x3 stride-2 stem, then torchvision's max-pool."""
    net = torchvision.models.resnet18(num_classes=num_classes)
    net.conv1 = nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)
    return net


def fer_resnet18_s1(num_classes: int = 7) -> nn.Module:
    """ResNet-18 for 48x48 faces with a 3x3 stride-1 stem, then the max-pool: layer1 at 24x24 (about 3x the compute)."""
    net = torchvision.models.resnet18(num_classes=num_classes)
    net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
    return net


class FERVGG(nn.Module):
    """A plain VGG-style FER network: four (conv-BN-ReLU) x 2 blocks, max-pool after each."""

    def __init__(self, num_classes: int = 7, widths: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def fer_convnext_atto(num_classes: int = 7) -> nn.Module:
    """timm's ConvNeXt-atto with a 2x2 patch stem (instead of 4x4), so its stages run at 24, 12, 6, 3 px."""
    import timm  # the dev extra

    return timm.create_model("convnext_atto", num_classes=num_classes, patch_size=2)


ARCHS = {"resnet18": fer_resnet18, "resnet18_s1": fer_resnet18_s1, "vgg": FERVGG, "convnext_atto": fer_convnext_atto}

#: variants of an architecture that the transfer tables may hold out in its place (same family, same row)
FAMILY = {"resnet18_s1": "resnet18"}


def load_classifier(arch: str, weights: str | Path) -> nn.Module:
    """Build ``arch`` and load fp16 safetensors written by this script (as float32, eval mode)."""
    from safetensors.torch import load_file

    state = load_file(str(weights))
    head = [v for k, v in state.items() if k.endswith("weight") and v.ndim == 2][-1]  # the last linear layer
    net = ARCHS[arch](num_classes=head.shape[0])
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return net.eval()
