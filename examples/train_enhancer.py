"""Train LLENet: reconstruction only, then FER-guided in front of a frozen classifier.

A small, runnable version of both training modes on the sample images
(synthetic low-light pairs from their crops) and a random ResNet-18 as the
"trained" classifier. Real runs use ``llenhance train`` on real data sets.

Run:
    python examples/train_enhancer.py [--iterations 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torchvision
from torch.utils.data import Dataset

from llenhance import FERGuidedTrainer, FrozenClassifier, llenet_s
from llenhance.data import SyntheticLowLight, read_image
from llenhance.losses import ReconstructionLoss

HERE = Path(__file__).resolve().parent


class SampleFaces(Dataset):
    """The sample images as (image, label) items, label = index % 7."""

    def __init__(self) -> None:
        self.images = [read_image(p) for p in sorted((HERE / "images").iterdir())] * 4

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], i % 7


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = SyntheticLowLight(SampleFaces(), crop=64, flip=True, seed=0)  # (low, normal, label)

    enhancer = llenet_s()
    # No VGG weights here: the perceptual term is off and that is recorded in trainer.config.
    rec = ReconstructionLoss(perceptual=0)
    trainer = FERGuidedTrainer(enhancer, reconstruction=rec, batch_size=4, lr=1e-3, progress=False)
    print("reconstruction:", trainer.fit(data, iterations=args.iterations))

    classifier = FrozenClassifier(torchvision.models.resnet18(num_classes=7))  # stages layer1..layer4
    trainer = FERGuidedTrainer(enhancer, classifier, reconstruction=rec, batch_size=4, progress=False)
    print("joint:", trainer.fit(data, iterations=args.iterations))
    print("perceptual term:", trainer.config["perceptual_feature_net"])



if __name__ == "__main__":
    main()
