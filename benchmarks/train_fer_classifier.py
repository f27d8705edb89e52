"""Train a normal-light FER classifier for 48x48 faces on FER2013.

Three architectures, trained from scratch on ``fer2013/train`` (grayscale
faces repeated to 3 channels, FER2013 label order) and evaluated on
``fer2013/val`` (or on FERPlus, ``--dataset ferplus``):

- ``resnet18``: torchvision's ResNet-18 with a 3x3 stride-2 first
  convolution (instead of 7x7) and its max-pool, so layer1 works at 12x12
  (the baseline classifier of the experiments);
- ``resnet18_s1``: the same with a stride-1 first convolution, so layer1
  works at 24x24 (about three times the compute);
- ``vgg``: a plain VGG-style network (four blocks of two 3x3 conv + BN + ReLU,
  max-pool after each, global pooling, linear head), no residual connections:
  the second, different classifier;
- ``convnext_atto``: timm's ConvNeXt-atto (depthwise 7x7 convs, LayerNorm,
  GELU) with a 2x2 patch stem: a third family.

AdamW (weight decay 0.05) with a one-cycle schedule, label smoothing 0.1,
random crops (reflect padding 4) and horizontal flips (``--augment
crop-flip``), or ``--augment strong``: a random similarity transform (rotation
up to 15 degrees, scale 0.85-1.15, shift up to 4 px, reflect borders) with
flips, then, on half of the faces, a random square (8-20 px) filled with the
face's mean grey (random erasing). Seeded; a checkpoint after every epoch
makes it resumable, and a resumed run ends with the weights of an
uninterrupted one (the checkpoint keeps the random state dropout draws from).
``--stop-after N`` ends a run after epoch N (its checkpoint written); the same
command without it goes on from there.

Run:
    python benchmarks/train_fer_classifier.py --arch resnet18 --epochs 12 --output ~/.cache/llenhance/fer-resnet18

Writes ``OUTPUT/model.safetensors`` (fp16), ``OUTPUT/checkpoint.pt``,
``OUTPUT/training.json`` and (full runs on the default data)
``benchmarks/results/fer_classifier_<arch>.json``: val accuracy in a single
view (how the experiments use the classifier) and, as ``val_accuracy_flip``,
with the softmax of each face and of its mirror image averaged. The same
command on a finished checkpoint evaluates it again.

``--dataset ferplus`` trains on FERPlus (8 classes, majority vote, ties
dropped; ``labels.csv`` of the default data folder); ``--dataset rafdb`` with
``--data`` on RAF-DB basic. Result files are named
``fer_classifier_<arch>.json`` (FER2013) or ``fer_classifier_<dataset>_<arch>.json``, or ``--name``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset
from tqdm import tqdm

from _command import tilde
from _fer_data import add_data_arguments, fer_split, preload
from llenhance.metrics import accuracy, per_class_accuracy
from llenhance.training.state import restore_rng, save_checkpoint

RESULTS = Path(__file__).resolve().parent / "results"
from _fer_models import ARCHS, MEAN, STD, FERVGG, fer_convnext_atto, fer_resnet18, load_classifier  # noqa: E402,F401


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - x.new_tensor(MEAN).view(1, 3, 1, 1)) / x.new_tensor(STD).view(1, 3, 1, 1)


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    b, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    out = torch.empty_like(x)
    offsets = torch.randint(0, 9, (b, 2), generator=generator)
    flips = torch.rand(b, generator=generator) < 0.5
    for i in range(b):
        crop = padded[i, :, offsets[i, 0] : offsets[i, 0] + h, offsets[i, 1] : offsets[i, 1] + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


def affine(x: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor,
           flip: torch.Tensor) -> torch.Tensor:
    """Rotate each image by ``angle`` (radians, clockwise as displayed) and scale it by ``scale`` about its
    centre, mirror it left-right where ``flip``, then shift it by ``shift`` pixels (x right, y down); borders reflect.
    """
    b, _, h, w = x.shape
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    mirror = 1.0 - 2.0 * flip.to(x.dtype)
    # affine_grid maps output coordinates (normalised to [-1, 1]) to input ones: the inverse transform
    theta = torch.zeros(b, 2, 3, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 1] = cos * mirror, sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = -sin * w / h * mirror, cos
    offset = torch.stack([shift[:, 0] * 2 / w, shift[:, 1] * 2 / h], 1)
    theta[:, :, 2] = -(theta[:, :, :2] @ offset.unsqueeze(-1)).squeeze(-1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def erase(x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Fill each image's box ``(top, left, size)`` (``size`` 0: none) with that image's mean value."""
    _, _, h, w = x.shape
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    top, left, size = (boxes[:, i].view(-1, 1, 1) for i in range(3))
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return torch.where(inside.unsqueeze(1), x.mean((1, 2, 3), keepdim=True), x)


def _augment_strong(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    b, _, h, w = x.shape

    def draw(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator)

    angle = (draw(b) * 2 - 1) * math.radians(15)
    scale = 1 + (draw(b) * 2 - 1) * 0.15
    shift = (draw(b, 2) * 2 - 1) * 4
    out = affine(x, angle, scale, shift, draw(b) < 0.5)
    size = torch.randint(8, 21, (b,), generator=generator) * (draw(b) < 0.5)
    top = (draw(b) * (h - size + 1)).long()
    left = (draw(b) * (w - size + 1)).long()
    return erase(out, torch.stack([top, left, size], 1))


AUGMENTATIONS = {"crop-flip": _augment, "strong": _augment_strong}


@torch.no_grad()
def evaluate(net: nn.Module, data: TensorDataset, batch_size: int = 256,
             flip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted classes, labels) on ``data``; ``flip``: from the mean softmax of each face and its mirror image."""
    net.eval()
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    preds, targets = [], []
    for x, y in DataLoader(data, batch_size=batch_size):
        x = x.to(device)
        probs = net(_normalise(x)).softmax(1)
        if flip:
            probs = probs + net(_normalise(x.flip(-1))).softmax(1)
        preds.append(probs.argmax(1).cpu())
        targets.append(y)
    return torch.cat(preds), torch.cat(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--arch", choices=sorted(ARCHS), default="resnet18")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", choices=sorted(AUGMENTATIONS), default="crop-flip",
                        help="crop-flip: random crops and flips; strong: rotation, scale, shift, flips, random erasing")
    parser.add_argument("--limit", type=int, default=None, help="use only N training and N val images (smoke runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu",
                        help="where to train (cpu, cuda); augmentation and its random draws stay on the CPU")
    parser.add_argument("--stop-after", type=int, default=None, metavar="EPOCH",
                        help="stop after this epoch (checkpoint written, nothing evaluated); run the command again "
                             "without it to go on")
    parser.add_argument("--name", default=None,
                        help="stem of the result file in benchmarks/results (default fer_classifier_<arch>, or "
                             "fer_classifier_<dataset>_<arch>): another recipe for an architecture gets its own")
    args = parser.parse_args()
    if args.stop_after is not None and args.stop_after < 1:
        parser.error(f"`--stop-after` expected an epoch of 1 or more, got {args.stop_after}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = fer_split(args.dataset, args.data, "train", size=args.size)
    val = fer_split(args.dataset, args.data, "val", size=args.size)
    classes = train.classes
    if args.limit:
        train, val = Subset(train, range(0, len(train), len(train) // args.limit)), Subset(val, range(args.limit))
    train, val = preload(train), preload(val)
    if len(train) < args.batch_size:  # no full batch: nothing would train
        parser.error(f"`--batch-size` expected at most the {len(train)} training faces, got {args.batch_size}")
    args.output.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    net = ARCHS[args.arch](num_classes=len(classes)).to(device, memory_format=torch.channels_last)
    steps = args.epochs * (len(train) // args.batch_size)  # at least one batch an epoch (checked above)
    if args.optimizer == "adamw":
        optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.05)
    else:
        optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    start_epoch, checkpoint = 0, args.output / "checkpoint.pt"
    # What must match for a checkpoint to be resumed (val settings and threads may differ).
    recipe = {k: v for k, v in vars(args).items() if k in ("arch", "epochs", "batch_size", "lr", "optimizer", "seed",
                                                             "limit", "dataset", "size", "augment")}
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        # checkpoints from before --augment were written with crop-flip
        if {"augment": "crop-flip", **state.get("recipe", recipe)} != recipe:  # checkpoints without a recipe predate this check
            sys.exit(f"error: {checkpoint} was written with {state.get('recipe')}, not {recipe}; "
                     "delete it or pass another --output")
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = state["epoch"]
        if "rng" in state:  # dropout (the VGG-style head) draws from it
            restore_rng(state["rng"])
        else:
            print("note: this checkpoint predates saving the random state; with dropout, the resumed run "
                  "differs from an uninterrupted one")
        print(f"resuming after epoch {start_epoch}")
    started = time.time()
    for epoch in range(start_epoch, args.epochs):
        if args.stop_after is not None and epoch >= args.stop_after:
            print(f"stopped after epoch {epoch} (--stop-after); run the command without it to go on")
            return
        net.train()
        generator = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True, generator=generator)
        correct = seen = 0
        for x, y in tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", mininterval=10):
            x, y = AUGMENTATIONS[args.augment](x, generator).to(device, non_blocking=True), y.to(device)
            logits = net(_normalise(x))
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            correct, seen = correct + (logits.argmax(1) == y).sum(), seen + len(y)  # no host sync per step
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        preds, targets = evaluate(net, val)
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, train accuracy {int(correct) / seen:.4f}, "
              f"val accuracy {accuracy(preds, targets):.4f}", flush=True)
        # atomic, with the random state (save_checkpoint adds it)
        save_checkpoint(checkpoint, {"recipe": recipe, "net": net.state_dict(), "optimizer": optimizer.state_dict(),
                                     "scheduler": scheduler.state_dict(), "epoch": epoch + 1})
    preds, targets = evaluate(net, val)
    flip_preds, _ = evaluate(net, val, flip=True)
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous().cpu() for k, v in net.state_dict().items()},
              args.output / "model.safetensors")
    result = {
        "command": tilde("python benchmarks/train_fer_classifier.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k not in ("data", "stop_after")
        )),
        "arch": args.arch,
        "epochs": args.epochs,
        "dataset": args.dataset,
        "classes": list(classes),
        "train_images": len(train),
        "val_images": len(val),
        "val_accuracy": accuracy(preds, targets),
        "val_per_class_accuracy": dict(zip(classes, per_class_accuracy(preds, targets, len(classes)).tolist())),
        # the same network on each face and its mirror image, softmax averaged (test-time flip): a common way
        # FER results are reported; the experiments use the single view above
        "val_accuracy_flip": accuracy(flip_preds, targets),
        "wall_seconds_this_run": round(time.time() - started, 1),
    }
    record = args.output / "training.json"
    if start_epoch == args.epochs and record.is_file():
        # nothing trained in this run (a finished checkpoint, evaluated again): keep the training run's time
        result["wall_seconds_this_run"] = json.loads(record.read_text()).get("wall_seconds_this_run")
    print(json.dumps(result, indent=2))
    record.write_text(json.dumps(result, indent=2) + "\n")
    if not args.limit:
        RESULTS.mkdir(parents=True, exist_ok=True)
        name = args.name or "fer_classifier_" + (args.arch if args.dataset == "folder" else f"{args.dataset}_{args.arch}")
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
