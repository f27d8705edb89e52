"""Tiny models and data for trainer tests (also run by the torchrun test script)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from llenhance import LLENet


def tiny_enhancer(seed: int = 0) -> LLENet:
    torch.manual_seed(seed)
    return LLENet(width=4, mlp_ratio=1)


class TinyClassifier(nn.Module):
    """Two stages with BatchNorm, seven classes."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.layer1 = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.fc = nn.Linear(8, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer2(self.layer1(x)).mean(dim=(2, 3)))


class TinyPairs(Dataset):
    """Deterministic (low, normal, label) items, 16x16."""

    def __init__(self, size: int = 12, labels: bool = True) -> None:
        g = torch.Generator().manual_seed(42)
        self.normal = torch.rand(size, 3, 16, 16, generator=g)
        self.labels = torch.randint(0, 7, (size,), generator=g)
        self.with_labels = labels

    def __len__(self) -> int:
        return len(self.normal)

    def __getitem__(self, i: int) -> tuple:
        normal = self.normal[i]
        low = 0.8 * normal**2.5
        return (low, normal, self.labels[i]) if self.with_labels else (low, normal)


class StopAfter(Dataset):
    """Raises KeyboardInterrupt after ``n`` items: a run stopped mid-way."""

    def __init__(self, base: Dataset, n: int) -> None:
        self.base, self.n, self.served = base, n, 0

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple:
        if self.served >= self.n:
            raise KeyboardInterrupt
        self.served += 1
        return self.base[i]
