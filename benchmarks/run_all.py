"""Rerun every experiment behind the published numbers, step by step.

Steps (each a script in ``benchmarks/`` that can also run alone):

0. ``fer-data-check``: the sharpness of the FER2013 train and val faces
   (``fer_data_check.py``); the training faces of our copy are blurred, so the
   later steps blur the val faces by the sigma it finds (``--val-blur``);
1. ``classifier-resnet18`` / ``classifier-vgg``: the normal-light FER2013
   classifiers (``train_fer_classifier.py``);
2. ``fer-experiments``: the training schemes under both low-light protocols
   (``fer_experiments.py``);
3. ``ablations``: architecture and loss ablations on SICE (``ablations.py``);
4. ``quality``, ``model-cost``, ``speed``, ``train-speed``: enhancement quality
   against the baselines, and the cost benchmarks.

Every step is resumable: finished classifiers, enhancers and ablation runs are
kept in ``--work`` (default ``~/.cache/llenhance``) and reused, and training
resumes from its last checkpoint, so running the command again after an
interruption continues where it stopped. ``--fresh`` starts over.

The full run takes about 2 hours on a 2-core CPU (classifiers ~25 min,
FER experiments ~50 min, ablations ~25 min, the rest ~15 min) and writes
``benchmarks/results/``. ``--quick`` is a smoke run on a few hundred images
and a few iterations (a few minutes); its numbers mean nothing and go to
``benchmarks/results/quick/``, leaving the published results alone.

Run:
    python benchmarks/run_all.py [--quick] [--steps STEP ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = ("fer-data-check", "classifier-resnet18", "classifier-vgg", "fer-experiments", "ablations",
         "quality", "model-cost", "speed", "train-speed")
QUICK_STEPS = STEPS[:5]  # the cost benchmarks have no quick form; their numbers are kept as published


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    py = [sys.executable]
    work, results = args.work, args.results
    quick = args.quick
    cmds = {"fer-data-check": py + [str(HERE / "fer_data_check.py"), "--results", str(results)]
            + (["--samples", "50"] if quick else [])}
    blur = val_blur(args)
    blur_args = ["--val-blur", str(blur)] if blur else []
    for arch, epochs in (("resnet18", 10), ("vgg", 10)):
        cmd = py + [str(HERE / "train_fer_classifier.py"), "--arch", arch, "--output", str(work / f"fer-{arch}")]
        cmd += ["--epochs", "1", "--limit", "256", "--batch-size", "32"] if quick else ["--epochs", str(epochs)]
        cmds[f"classifier-{arch}"] = cmd + blur_args
    cmds["fer-experiments"] = py + [
        str(HERE / "fer_experiments.py"), "--classifiers", str(work), "--work", str(work / "fer-experiments"),
        "--results", str(results),
    ] + blur_args + (["--iterations", "4", "--limit", "96"] if quick else [])
    cmds["ablations"] = py + [
        str(HERE / "ablations.py"), "--classifiers", str(work), "--work", str(work / "ablations"),
        "--results", str(results),
    ] + (["--iterations", "2", "--batch-size", "2", "--crop", "64", "--val-limit", "2"] if quick else [])
    cmds["quality"] = py + [str(HERE / "quality.py")]
    cmds["model-cost"] = py + [str(HERE / "model_cost.py")]
    cmds["speed"] = py + [str(HERE / "speed.py")]
    cmds["train-speed"] = py + [str(HERE / "train_speed.py")]
    return cmds


def val_blur(args: argparse.Namespace) -> float | None:
    """The blur ``fer-data-check`` found to match the val faces to the training faces, if it ran."""
    check = HERE.parent / args.results / "fer_data_check.json"
    return json.loads(check.read_text())["matching_sigma"] if check.is_file() else None


def done(step: str, args: argparse.Namespace) -> bool:
    """A classifier is done when its weights and its record (evaluated with today's val blur) exist;
    the other steps reuse their own finished parts."""
    if step.startswith("classifier-"):
        folder = args.work / f"fer-{step.removeprefix('classifier-')}"
        record = folder / "training.json"
        return (folder / "model.safetensors").is_file() and record.is_file() and (
            json.loads(record.read_text()).get("val_blur") == val_blur(args))
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data, a few iterations, results/quick/")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=None, help="run only these steps")
    parser.add_argument("--work", type=Path, default=None,
                        help="trained models and checkpoints (default ~/.cache/llenhance, or .../quick)")
    parser.add_argument("--fresh", action="store_true", help="delete --work first and retrain everything")
    args = parser.parse_args()
    base = Path.home() / ".cache" / "llenhance"
    args.work = args.work or (base / "quick" if args.quick else base)
    # relative to the repository root, where the steps run: the tables then show portable commands
    args.results = Path("benchmarks", "results", "quick") if args.quick else Path("benchmarks", "results")
    steps = args.steps or (QUICK_STEPS if args.quick else STEPS)
    if args.quick and set(steps) - set(QUICK_STEPS):
        parser.error(f"`--steps` {sorted(set(steps) - set(QUICK_STEPS))} have no quick form")
    if args.fresh:
        for step in ("fer-resnet18", "fer-vgg", "fer-experiments", "ablations"):
            shutil.rmtree(args.work / step, ignore_errors=True)
    print("quick smoke run: a few minutes, numbers meaningless" if args.quick else
          "full run: about 2 hours on a 2-core CPU (much less with a GPU); interrupt and rerun to resume",
          flush=True)
    started = time.time()
    for i, step in enumerate(steps, 1):
        cmds = commands(args)  # after fer-data-check, the later steps get its blur
        if done(step, args):
            print(f"[{i}/{len(steps)}] {step}: done already, reusing {args.work}", flush=True)
            continue
        print(f"[{i}/{len(steps)}] {step}: {' '.join(cmds[step])}", flush=True)
        t = time.time()
        result = subprocess.run(cmds[step], cwd=HERE.parent)
        if result.returncode:
            sys.exit(f"step {step} failed (exit {result.returncode}); fix it and rerun to resume")
        print(f"[{i}/{len(steps)}] {step}: finished in {time.time() - t:.0f} s", flush=True)
    print(f"all steps finished in {(time.time() - started) / 60:.1f} min; results in {args.results}")


if __name__ == "__main__":
    main()
