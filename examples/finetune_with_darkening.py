"""Fine-tune a torchvision classifier on darkened faces: the "retrain" route, with LowLightSynth.

The augmentation is an ordinary transforms-v2 pipeline: your geometric
augmentation, then `darkening_augmentation` (three faces in four darkened with
the paper's protocol or the realistic one, with sensor noise; one in four left
well lit so that well-lit accuracy holds). Two ways to use it:

1. in your own training loop (copy the few lines below);
2. with `llenhance.training.finetune_classifier`, which adds resumable
   checkpoints and a run folder that remembers its recipe.

Without arguments it runs on a tiny made-up face set (so it finishes in
seconds); point it at FER2013-style class folders to train for real:

Run:
    python examples/finetune_with_darkening.py
    python examples/finetune_with_darkening.py --data path/to/fer2013 --epochs 2 --output runs/resnet18-dark
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from llenhance import ClassifierPreprocess, FrozenClassifier
from llenhance.data import FER2013_CLASSES, FERFolder
from llenhance.evaluation import evaluate_fer
from llenhance.training import ClassifierRecipe, finetune_classifier
from llenhance.transforms import darkening_augmentation

SIZE = 48


def augmentation() -> v2.Transform:
    """Crops and flips, then a darkening on three faces in four: the recipe to copy."""
    return v2.Compose([
        v2.RandomCrop(SIZE, padding=4, padding_mode="reflect"),
        v2.RandomHorizontalFlip(),
        # webcam frames? add "realistic-jpeg" (noise, then JPEG 60-95)
        darkening_augmentation(("paper", "realistic"), well_lit=0.25),
    ])


def tiny_faces(root: Path, per_class: int = 6) -> Path:
    """A stand-in FER2013 layout (random 48x48 grey "faces"), for a run that finishes in seconds."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in FER2013_CLASSES:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                PIL.Image.fromarray(rng.integers(30, 230, (SIZE, SIZE), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root


def own_loop(model: torch.nn.Module, train: FERFolder, normalise: torch.nn.Module, epochs: int) -> None:
    """Way 1: the augmentation in a plain PyTorch loop."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.05)
    loader = DataLoader(train, batch_size=16, shuffle=True, drop_last=True)
    model.train()
    for _ in range(epochs):
        for faces, labels in loader:
            loss = F.cross_entropy(model(normalise(faces)), labels, label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="root with train/<class>/ and val/<class>/ images")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="run folder (new, or one to resume)")
    args = parser.parse_args()
    torch.manual_seed(0)
    scratch = tempfile.TemporaryDirectory()
    root = args.data if args.data is not None else tiny_faces(Path(scratch.name) / "faces")
    resize = v2.Resize((SIZE, SIZE), antialias=True)
    normalise = ClassifierPreprocess(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))

    # Way 1: your loop, the augmentation as the data set's transform
    model = torchvision.models.resnet18(num_classes=len(FER2013_CLASSES))  # or your normal-light FER weights
    train = FERFolder(root / "train", classes=FER2013_CLASSES, transform=v2.Compose([resize, augmentation()]))
    own_loop(model, train, normalise, args.epochs)
    print(f"own loop: {args.epochs} epoch(s) on {len(train)} darkened / well-lit faces")

    # Way 2: the library's loop, resumable (rerun the same command after an interruption)
    model = torchvision.models.resnet18(num_classes=len(FER2013_CLASSES))
    output = args.output if args.output is not None else Path(scratch.name) / "run"
    finetune_classifier(model, FERFolder(root / "train", classes=FER2013_CLASSES, transform=resize), output,
                        ClassifierRecipe(epochs=args.epochs, batch_size=16), transform=augmentation(),
                        preprocess=normalise)
    kept = "" if args.output is not None else " (a temporary folder: pass --output to keep it)"
    print(f"finetune_classifier: weights in {output / 'model.safetensors'}{kept}")

    # How it reads FER in the dark: the same dark val faces as every llenhance FER table
    val = FERFolder(root / "val", classes=FER2013_CLASSES, transform=resize)
    frozen = FrozenClassifier(model, preprocess=normalise)
    for darkening in ("paper", "realistic"):
        r = evaluate_fer(frozen, val, {"none": None}, darkening=darkening, progress=False)
        print(f"{darkening} darkening: {100 * r['dark_accuracy']:.1f} % dark, {100 * r['normal_accuracy']:.1f} % well lit "
              f"({r['faces']} faces)")
    scratch.cleanup()


if __name__ == "__main__":
    main()
