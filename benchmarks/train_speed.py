"""Training speed on this machine: iterations per second of FERGuidedTrainer.

Two settings per LLENet size, as in the paper: reconstruction training on
80 random 48x48 crops per batch, and joint training on 32 images of 112x112
in front of a frozen torchvision ResNet-18 (random weights: speed does not
depend on them). The perceptual term is off (no VGG weights here), as in the
runs we ship. Each case runs ``--warmup`` untimed iterations, then
``--iterations`` timed ones.

Run:
    python benchmarks/train_speed.py [--threads 2] [--iterations 5]

Writes ``benchmarks/results/train_speed.json`` and ``train_speed.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torchvision
from torch.utils.data import Dataset

from llenhance import FERGuidedTrainer, llenet_b, llenet_s
from llenhance.losses import ReconstructionLoss

RESULTS = Path(__file__).resolve().parent / "results"


class _Random(Dataset):
    def __init__(self, n: int, size: int, labels: bool) -> None:
        self.n, self.size, self.labels = n, size, labels

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple:
        g = torch.Generator().manual_seed(i)
        normal = torch.rand(3, self.size, self.size, generator=g)
        low = 0.7 * normal**3
        return (low, normal, i % 7) if self.labels else (low, normal)


def _its_per_second(model_factory, joint: bool, iterations: int, warmup: int) -> float:
    batch, size = (32, 112) if joint else (80, 48)
    classifier = torchvision.models.resnet18(num_classes=7) if joint else None
    data = _Random(batch * (iterations + warmup), size, joint)
    trainer = FERGuidedTrainer(model_factory(), classifier, reconstruction=ReconstructionLoss(perceptual=0),
                               batch_size=batch, progress=False)
    trainer.fit(data, iterations=warmup)
    trainer = FERGuidedTrainer(model_factory(), classifier, reconstruction=ReconstructionLoss(perceptual=0),
                               batch_size=batch, progress=False)
    start = time.perf_counter()
    trainer.fit(data, iterations=iterations)
    return iterations / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for name, factory in (("llenet_s", llenet_s), ("llenet_b", llenet_b)):
        for joint in (False, True):
            its = _its_per_second(factory, joint, args.iterations, args.warmup)
            row = {
                "model": name,
                "mode": "joint, 32 x 112x112, ResNet-18" if joint else "reconstruction, 80 x 48x48",
                "iterations_per_second": its,
                "seconds_per_iteration": 1.0 / its,
            }
            rows.append(row)
            print(row, flush=True)
    meta = {
        "command": f"python benchmarks/train_speed.py --threads {args.threads} --iterations {args.iterations}",
        "torch": torch.__version__,
        "machine": platform.machine(),
        "threads": args.threads,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train_speed.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Training speed (CPU)",
        "",
        f"`{meta['command']}` — torch {meta['torch']}, {args.threads} threads, {meta['machine']}; perceptual term off.",
        "",
        "| model | setting | it/s | s/it |",
        "| --- | --- | ---: | ---: |",
    ]
    lines += [f"| {r['model']} | {r['mode']} | {r['iterations_per_second']:.3f} | {r['seconds_per_iteration']:.2f} |" for r in rows]
    (RESULTS / "train_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
