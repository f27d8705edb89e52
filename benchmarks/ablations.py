"""Ablations on SICE (paper Tables 1 and 2): architecture parts and loss terms.

Every run trains ``llenet_s`` (or a variant) with the reconstruction loss on
``sice/train`` pairs under one short, equal schedule (same seed, crops,
iterations, learning rate) and is evaluated on the 83 full-size pairs of
``sice/val`` (per-image PSNR and SSIM, RGB, [0, 1]).

- Table 1 analogue: feature enhancement (FE) blocks on/off x skip (HL) fusion
  on/off, with the loss of the default weights (L1 + MSE + colour + frequency
  + SSIM; the VGG perceptual term is off, as no VGG-16 ImageNet weights exist
  here).
- Table 2 analogue: the full network with the loss grown term by term, in the
  paper's order: L1 + MSE, + colour, + frequency, + perceptual, + SSIM. The
  perceptual term uses the frozen FER2013 ResNet-18 of the FER experiments
  (stem to layer2, on grayscale faces) as the feature network, since VGG-16
  ImageNet weights are unavailable: a stand-in, stated in the table.

Run:
    python benchmarks/ablations.py [--iterations 500] [--classifiers ~/.cache/llenhance]

Writes ``ablations.{json,md}`` under ``--results``; each finished run is kept
in ``--work`` so an interrupted run resumes at the next configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _command import command_line, tilde  # noqa: E402
from _fer_eval import claim_run, classifier_folder, classifier_weights_digest  # noqa: E402
from _fer_models import MEAN, STD, load_classifier  # noqa: E402

from llenhance import Enhancer, FERGuidedTrainer  # noqa: E402
from llenhance.data import PairedImageFolder  # noqa: E402
from llenhance.losses import ReconstructionLoss  # noqa: E402
from llenhance.evaluation import evaluate_pairs, write_results  # noqa: E402

from _paths import DATA as SHARED, WORK  # noqa: E402  (one data root for all benchmarks)

DATA = SHARED / "sice"
RESULTS = Path(__file__).resolve().parent / "results"
SMALL = {"width": 16, "stem_stride": 2, "fe_depthwise": True, "mlp_ratio": 2}  # llenet_s
DEFAULT_LOSS = {"perceptual": 0.0}  # the default weights' loss: paper weights, perceptual off
ONLY_L1_MSE = {"composite": 0.0, "perceptual": 0.0}

TABLE1 = {
    "FE off, skip off": ({"use_fe": False, "use_skip": False}, DEFAULT_LOSS),
    "FE off, skip on": ({"use_fe": False, "use_skip": True}, DEFAULT_LOSS),
    "FE on, skip off": ({"use_fe": True, "use_skip": False}, DEFAULT_LOSS),
    "FE on, skip on (llenet_s)": ({"use_fe": True, "use_skip": True}, DEFAULT_LOSS),
}
TABLE2 = {
    "L1 + MSE": ({}, ONLY_L1_MSE),
    "+ colour": ({}, {"color": 0.5, "frequency": 0.0, "perceptual": 0.0, "structure": 0.0}),
    "+ frequency": ({}, {"frequency": 0.5, "perceptual": 0.0, "structure": 0.0}),
    "+ perceptual (FER ResNet-18 features)": ({}, {"structure": 0.0}),
    "+ SSIM (full L_rec)": ({}, {}),
}


class _FERFeatures(nn.Module):
    """Frozen FER2013 ResNet-18, stem to layer2, on luma normalised as in its training."""

    def __init__(self, classifiers: Path) -> None:
        super().__init__()
        net = load_classifier("resnet18", classifier_folder("resnet18", classifiers) / "model.safetensors")
        self.trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2)
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))
        self.mean, self.std = MEAN[0], STD[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gray = (x * self.luma).sum(1, keepdim=True).expand(-1, 3, -1, -1)
        return self.trunk((gray - self.mean) / self.std)


def _schedule(args: argparse.Namespace) -> dict:
    return {"iterations": args.iterations, "batch_size": args.batch_size, "crop": args.crop,
            "lr": args.lr, "schedule": "cosine", "seed": args.seed, "splits": list(args.splits)}


def run_one(name: str, arch: dict, loss: dict, args: argparse.Namespace, train: PairedImageFolder,
            val: PairedImageFolder) -> dict:
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    out = args.work / slug
    done = out / "result.json"
    schedule = _schedule(args)
    uses_features = loss.get("composite", 1.0) * loss.get("perceptual", 1.0) > 0
    # which classifier weights the perceptual term used (SHA-256): a retrained classifier means a new run
    features = classifier_weights_digest("resnet18", args.classifiers) if uses_features else None
    # another schedule or feature network is refused (each difference named), never deleted
    claim_run(out, {**schedule, "arch": arch, "loss": loss, "feature_net_weights": features})
    if done.is_file():
        return json.loads(done.read_text())
    torch.manual_seed(args.seed)
    model = Enhancer({**SMALL, **arch})
    feature_net = _FERFeatures(args.classifiers) if uses_features else None
    reconstruction = ReconstructionLoss(**loss, feature_net=feature_net, normalize_features=False)
    trainer = FERGuidedTrainer(model, reconstruction=reconstruction, lr=args.lr, batch_size=args.batch_size,
                               schedule="cosine", seed=args.seed, checkpoint_dir=out / "checkpoints",
                               checkpoint_every=100, progress=True)
    started = time.time()
    trainer.fit(train, iterations=args.iterations, resume=True)
    seconds = time.time() - started
    scores = evaluate_pairs(model.eval(), val, progress=False)
    result = {"name": name, "schedule": schedule, "feature_net_weights": features, "arch": arch,
              "loss_weights": trainer.config["reconstruction_weights"],
              "params": sum(t.numel() for t in model.parameters()),
              "psnr": scores["psnr"], "ssim": scores["ssim"], "train_seconds": round(seconds, 1)}
    done.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of paired splits (default: ../shared/data/sice)")
    parser.add_argument("--splits", nargs=2, default=("train", "val"), metavar=("TRAIN", "VAL"),
                        help="the training and evaluation sub-folders, each with low/ and high/ (LOL: our485 eval15)")
    parser.add_argument("--classifiers", type=Path, default=WORK,
                        help="folder holding fer-resnet18/ (the perceptual stand-in)")
    parser.add_argument("--work", type=Path, default=WORK / "ablations")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-limit", type=int, default=None, help="evaluate on the first N val pairs (quick runs)")
    args = parser.parse_args(argv)
    train = PairedImageFolder(args.data / args.splits[0], crop=args.crop, flip=True, seed=args.seed, preload=True)
    val = PairedImageFolder(args.data / args.splits[1])
    if args.val_limit:
        val.names, val.pairs = val.names[: args.val_limit], val.pairs[: args.val_limit]
    tables = {"table1": {n: run_one(n, a, loss, args, train, val) for n, (a, loss) in TABLE1.items()},
              "table2": {n: run_one(n, a, loss, args, train, val) for n, (a, loss) in TABLE2.items()}}
    results = {
        "command": command_line("ablations.py", argv),
        "schedule": _schedule(args),
        "val_pairs": len(val),
        **tables,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    s = results["schedule"]
    lines = [
        f"# Ablations ({args.data.name}/{args.splits[1]})",
        "",
        f"Command: `{results['command']}`. Every run: the same schedule ({s['iterations']} iterations, batch "
        f"{s['batch_size']}, {s['crop']}x{s['crop']} crops of `{args.data.name}/{args.splits[0]}`, Adam {s['lr']} with cosine decay, "
        f"seed {s['seed']}); PSNR (dB) / SSIM per image on the {len(val)} full-size pairs of "
        f"`{args.data.name}/{args.splits[1]}`, averaged.",
        "",
        "Table 1 analogue (llenet_s layout; loss of the default weights: L1 + MSE + colour + frequency + SSIM):",
        "",
        "| FE blocks / skip fusion | parameters | PSNR | SSIM |",
        "|---|---|---|---|",
    ]
    lines += [f"| {n} | {r['params']:,} | {r['psnr']:.2f} | {r['ssim']:.4f} |" for n, r in tables["table1"].items()]
    lines += [
        "",
        "Table 2 analogue (llenet_s; loss terms added in the paper's order; the perceptual term uses the frozen "
        "FER2013 ResNet-18 up to layer2 as a stand-in for VGG-16, whose ImageNet weights are not available here):",
        "",
        "| loss | PSNR | SSIM |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {r['psnr']:.2f} | {r['ssim']:.4f} |" for n, r in tables["table2"].items()]
    write_results(args.results / "ablations", results, tilde("\n".join(lines)))
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
