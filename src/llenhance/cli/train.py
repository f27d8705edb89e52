"""``llenhance train reconstruction|joint|faces``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from llenhance.cli.common import (
    CLIError,
    device_from,
    enhancer_from_args,
    frozen_classifier,
    remove_stale,
    set_threads,
)


def _prepare_output(output: Path, resume: bool) -> None:
    if (output / "model.safetensors").exists() and not resume:
        raise CLIError(f"--output {output} already holds a model; choose another folder or pass --resume")
    output.mkdir(parents=True, exist_ok=True)


def parse_stage(text: str) -> tuple[int, float]:
    """``--stages`` item ``ITERATIONS:LR``."""
    iterations, sep, lr = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(iterations), float(lr)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ITERATIONS:LR (e.g. 3000:5e-4), got {text!r}") from None


def _train_faces(args: argparse.Namespace) -> int:
    import dataclasses

    from llenhance.training.faces import FaceRecipe, FaceStage, train_faces

    recipe = FaceRecipe.load(args.recipe) if args.recipe is not None else FaceRecipe()
    changes = {name: getattr(args, name) for name in ("seed", "size", "normal_fraction", "batch_size", "width",
                                                      "stem_stride", "curve_target", "luma_only", "init")
               if getattr(args, name) is not None}
    if args.darkenings:
        changes["darkenings"] = tuple(args.darkenings)
    if args.stages:
        changes["stages"] = tuple(FaceStage(i, lr) for i, lr in args.stages)
    recipe = dataclasses.replace(recipe, **changes)
    device = device_from(args.device)
    set_threads(args.threads)
    model = train_faces(args.data, args.output, recipe, device=device,
                        command=["llenhance", *sys.argv[1:]] if args.record_command else None)
    print(f"face enhancer: {Path(args.output) / 'model'} ({sum(s.iterations for s in recipe.stages)} iterations, "
          f"recipe {Path(args.output) / 'recipe.json'}); load it with Enhancer.from_pretrained or --model")
    del model
    return 0


def train_command(args: argparse.Namespace) -> int:
    from llenhance.training.lock import RunLockedError, run_lock

    remove_stale(Path(args.output))
    try:
        with run_lock(args.output, name="--output"):
            return _train_faces(args) if args.mode == "faces" else _train_pairs(args)
    except RunLockedError as err:
        raise CLIError(str(err)) from None
    except FloatingPointError as err:  # the trainer stopped at a non-finite loss; its message says what to do
        raise CLIError(f"{err} (on the command line: --lr, --clip-grad-norm)") from None


def _train_pairs(args: argparse.Namespace) -> int:
    import torch

    from llenhance import FERGuidedTrainer, LowLightSynth
    from llenhance.data import FER2013_CLASSES, FERFolder, PairedImageFolder, SyntheticLowLight
    from llenhance.losses import ReconstructionLoss

    output = Path(args.output)
    device = device_from(args.device)
    set_threads(args.threads)
    if args.amp and not device.startswith("cuda"):
        raise CLIError(f"--amp runs bfloat16 autocast on CUDA; the device here is {device}")
    if args.crop < 8:
        raise CLIError(f"--crop expected at least 8 pixels (the structure loss's window needs 6), got {args.crop}")
    _prepare_output(output, args.resume)
    torch.manual_seed(args.seed)
    classifier = None
    if args.mode == "reconstruction":
        train = PairedImageFolder(args.data, crop=args.crop, flip=True, seed=args.seed, preload=args.preload,
                                  normal_fraction=args.normal_fraction, inputs=args.inputs)
        val = PairedImageFolder(args.val, preload=args.preload) if args.val else None
    else:
        classes = tuple(args.classes) if args.classes else FER2013_CLASSES
        base = FERFolder(args.data, classes=classes)
        train = SyntheticLowLight(base, LowLightSynth(), crop=args.crop, flip=True, seed=args.seed)
        val = (
            SyntheticLowLight(FERFolder(args.val, classes=classes), LowLightSynth(), seed=args.seed + 1)
            if args.val
            else None
        )
        classifier = frozen_classifier(args, classes, args.stages)

    enhancer = enhancer_from_args(args)
    try:
        reconstruction = ReconstructionLoss(perceptual=args.perceptual_weight, color=args.color_weight)
    except RuntimeError as err:
        raise CLIError(f"{err} On the command line: --perceptual-weight 0.") from err
    # what the data pipeline does is part of the run: a resumed run must keep it
    data_record: dict[str, Any] = {"mode": args.mode, "crop": args.crop, "classes": getattr(args, "classes", None),
                                   "classifier": getattr(args, "classifier", None),
                                   "folder": str(Path(args.data).resolve())}
    if getattr(args, "normal_fraction", 0.0):  # only when used: runs from before the option resume as they were
        data_record["normal_fraction"] = args.normal_fraction
    if tuple(getattr(args, "inputs", ("real",))) != ("real",):  # likewise
        data_record["inputs"] = list(args.inputs)
    trainer = FERGuidedTrainer(
        enhancer,
        classifier,
        reconstruction=reconstruction,
        lr=args.lr,
        batch_size=args.batch_size,
        schedule=args.schedule,
        clip_grad_norm=args.clip_grad_norm,
        device=device,
        seed=args.seed,
        num_workers=args.workers,
        checkpoint_dir=output / "checkpoints",
        checkpoint_every=args.checkpoint_every,
        val_every=args.val_every,
        amp=args.amp,
        compile=args.compile,
        target_exposure=args.target_exposure,
        log_every=args.log_every,
        data=data_record,
    )
    start = time.time()
    metrics = trainer.fit(train, val, iterations=args.iterations, resume=args.resume)
    if trainer.rank != 0:
        return 0
    if trainer.trained_steps == 0 and (output / "training.json").is_file():
        print(f"{output} finished its {args.iterations} iterations already; its model and training.json are unchanged")
        return 0
    trainer.enhancer.save_pretrained(output)
    record: dict[str, Any] = {
        "command": "llenhance " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "mode": args.mode,
        "data": str(args.data),
        "val": str(args.val) if args.val else None,
        "iterations": args.iterations,
        "crop": args.crop,
        "train_items": len(train),
        "trainer": trainer.config,
        "classifier_spec": args.classifier if args.mode == "joint" else None,
        "final_metrics": metrics,
        "wall_seconds": round(time.time() - start, 1),
    }
    (output / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(metrics))
    print(f"saved the enhancer to {output}")
    return 0


def add_common_train_args(p: argparse.ArgumentParser, *, batch: int, iterations: int, crop: int) -> None:
    p.add_argument("--val", type=Path, help="validation folder of the same layout")
    p.add_argument("--output", type=Path, required=True, help="folder for the model, training.json and checkpoints")
    p.add_argument("--curve-target", type=float, default=None,
                   help="put a brighten-only exposure curve (mean grey -> this level) under the network")
    p.add_argument("--exposure-input", action="store_true",
                   help="give the network the input's mean grey level (log), so it can tell a dark image "
                        "lifted by the curve from a well-lit one")
    p.add_argument("--output-target", type=float, default=None,
                   help="bring the output's mean grey level to about this level (a per-image gamma after the "
                        "network); with --init it replaces the weights' own setting")
    p.add_argument("--loss-at-reference-exposure", dest="target_exposure", action="store_true",
                   help="the losses see the output brought to the reference's mean grey level, so training "
                        "spends nothing on global exposure (for use with --output-target)")
    p.add_argument("--target-exposure", dest="target_exposure_old", action="store_true", default=None,
                   help=argparse.SUPPRESS)  # its name before 0.4
    p.add_argument("--arch", choices=("llenet_s", "llenet_b"), default=None,
                   help="enhancer architecture (default llenet_s; --init names starting weights)")
    p.add_argument("--stem-stride", type=int, choices=(1, 2), default=None,
                   help="1: the network works at full resolution (better denoising, about 4x the compute); "
                        "2: it folds 2x2 pixel blocks first (default: llenet_s 2, llenet_b 1)")
    # the old spelling, kept working: in every other subcommand --model names weights
    p.add_argument("--model", dest="arch_old", choices=("llenet_s", "llenet_b"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--init", help="start from these enhancer weights (folder or name) instead of a new model")
    p.add_argument("--iterations", type=int, default=iterations, help="optimiser steps (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=batch, help="global batch size (default %(default)s)")
    p.add_argument("--crop", type=int, default=crop, help="random square crop size (default %(default)s)")
    p.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (default %(default)s)")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    p.add_argument("--clip-grad-norm", type=float, default=None)
    p.add_argument("--perceptual-weight", type=float, default=1.0,
                   help="wp of the VGG-16 perceptual term; 0 where VGG weights are unavailable")
    p.add_argument("--color-weight", type=float, default=0.5,
                   help="wc of the colour term (default %(default)s, the paper's); 0 for grayscale data such as "
                        "FER2013, where hue is undefined")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile the enhancer and the loss")
    p.add_argument("--log-every", type=int, default=50, help="iterations between logged losses (default %(default)s)")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--val-every", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="resume from OUTPUT/checkpoints/checkpoint.pt")
