"""Rerun every experiment behind the published numbers, step by step.

Steps (each a script in ``benchmarks/`` that can also run alone):

1. ``classifier-resnet18`` / ``classifier-vgg`` / ``classifier-convnext_atto``:
   the normal-light FER2013 classifiers, ``classifier-ferplus-resnet18``,
   ResNet-18 on FERPlus (``train_fer_classifier.py``), and
   ``classifier-resnet18-40ep``, the ResNet-18 recipe on a 40-epoch schedule,
   and ``classifier-resnet18-40ep-strong``, the same with ``--augment strong``,
   ``classifier-resnet18_s1-16ep``, ResNet-18 with a stride-1 stem (layer1 at
   24x24) for 16 epochs, ``classifier-resnet18_s1-20ep``, the same for 20
   epochs, ``classifier-ferplus-resnet18-24ep``, the FERPlus
   recipe for 24 epochs, and ``classifier-ferplus-resnet18_s1-16ep``, the
   stride-1 ResNet-18 on FERPlus for 16 epochs (each in its own folder and result file; the tables
   use the 12-epoch one);
2. ``fer-transfer``: the headline table, enhancers in front of classifiers
   they never saw (leave one architecture out, 3 seeds; ``fer_transfer.py``);
3. ``fer-experiments`` / ``fer-experiments-ferplus``: the paper's training
   schemes under both low-light protocols, on FER2013 and on FERPlus
   (``fer_experiments.py``);
4. ``ablations``: architecture and loss ablations on SICE (``ablations.py``);
5. ``quality``, ``quality-degraded``, ``exposure-sweep``, ``sample-images``, ``model-cost``, ``speed``,
   ``train-speed``, ``video-fer-speed``: enhancement quality against the
   baselines (SICE val and DICM, clean SICE frames darkened with noise and
   JPEG, across exposures, the sample images), and the cost benchmarks;
6. ``classifier-genki-resnet18`` / ``classifier-genki-vgg``: colour smile readers on GENKI-4K, and
   ``face-colour``: colour faces through the face enhancers, with those readers (``face_colour.py``);
7. ``classifier-convnext_atto-12ep``: ConvNeXt-atto on the 12-epoch recipe, and ``plugin-vs-retrain``: three
   FER2013 readers (ResNet-18, VGG, that ConvNeXt) with the face enhancer in front, fine-tuned on darkened
   faces, both, and the joint scheme on top (``plugin_vs_retrain.py``, about 1 h 20 min on 2 CPU threads);
8. ``face-recipe-rerun``, ``face-recipe-scratch``, ``face-recipe-scratch-finetune``, ``face-recipe-scores``: the
   ``llenet-faces`` recipe through ``llenhance train faces`` (its last stage rerun from the weights'
   ``summary.json``, and the whole recipe from scratch), scored like the model card (``face_colour.py``);
9. the tables quoted beside the main ones: ``niqe-bands`` (NIQE by input exposure), ``face-colour-val`` (the
   colour-face table on the val split), ``plugin-vs-retrain-lr1e-4`` (fine-tuning at a tenth of the
   learning rate), ``speed-compile`` (``torch.compile`` on the CPU), and ``fer-transfer-resnet18-40ep`` /
   ``-resnet18_s1-16ep`` / ``-resnet18_s1-20ep`` / ``fer-transfer-stem2`` (the transfer table scored with
   other ResNet-18 recipes, and with a 2x2-folded long run).

Tables from runs this script does not repeat (GPU runs, and experiments whose scripts were retired) are named
as history where the documentation quotes them.

Every step is resumable: finished classifiers, enhancers and ablation runs are
kept in ``--work`` (default ``~/.cache/llenhance``) and reused, and training
resumes from its last checkpoint, so running the command again after an
interruption continues where it stopped. ``--fresh`` starts over.

On a 2-core CPU the classifiers take about 4 hours together, the transfer
table about 1.5 hours, the schemes (3 seeds) about 2 hours per data set; a GPU does it
all in well under an hour. ``--quick`` is a smoke run on a few hundred images
and a few iterations (minutes); its numbers mean nothing and go to
``benchmarks/results/quick/``, leaving the published results alone.

Run:
    python benchmarks/run_all.py [--quick] [--steps STEP ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _fer_eval import classifier_folder  # noqa: E402
from _paths import DATA, WORK  # noqa: E402


#: The colour readers: GENKI-4K smile / non-smile at 64 px.
GENKI = ("--data", str(DATA / "faces-colour" / "genki4k"), "--size", "64")


class Classifier(NamedTuple):
    """A ``train_fer_classifier.py`` run: its step, recipe and the suffix of its folder and result file."""

    step: str
    arch: str
    dataset: str
    epochs: int
    suffix: str = ""
    extra: tuple[str, ...] = ()


CLASSIFIERS = (Classifier("classifier-resnet18", "resnet18", "folder", 12),
               Classifier("classifier-vgg", "vgg", "folder", 12),
               Classifier("classifier-convnext_atto", "convnext_atto", "folder", 16),
               Classifier("classifier-ferplus-resnet18", "resnet18", "ferplus", 8),
               Classifier("classifier-resnet18-40ep", "resnet18", "folder", 40, "-40ep"),
               Classifier("classifier-resnet18-40ep-strong", "resnet18", "folder", 40, "-40ep-strong",
                          ("--augment", "strong")),
               Classifier("classifier-resnet18_s1-16ep", "resnet18_s1", "folder", 16, "-16ep"),
               Classifier("classifier-resnet18_s1-20ep", "resnet18_s1", "folder", 20, "-20ep"),
               Classifier("classifier-ferplus-resnet18-24ep", "resnet18", "ferplus", 24, "-24ep"),
               Classifier("classifier-ferplus-resnet18_s1-16ep", "resnet18_s1", "ferplus", 16, "-16ep"),
               Classifier("classifier-genki-resnet18", "resnet18", "genki", 12, "", GENKI),
               Classifier("classifier-genki-vgg", "vgg", "genki", 12, "", GENKI),
               Classifier("classifier-convnext_atto-12ep", "convnext_atto", "folder", 12, "-12ep"))
STEPS = (*(c.step for c in CLASSIFIERS), "fer-transfer", "fer-experiments", "fer-experiments-ferplus", "ablations",
         "quality", "quality-degraded", "exposure-sweep", "sample-images", "model-cost", "speed", "train-speed", "video-fer-speed", "face-colour",
         "plugin-vs-retrain", "niqe-bands", "face-colour-val", "plugin-vs-retrain-lr1e-4", "speed-compile",
         "fer-transfer-resnet18-40ep", "fer-transfer-resnet18_s1-16ep", "fer-transfer-resnet18_s1-20ep",
         "fer-transfer-stem2", "face-recipe-rerun", "face-recipe-scratch", "face-recipe-scratch-finetune",
         "face-recipe-scores")
#: the cost benchmarks and the other classifier recipes have no quick form; their numbers are kept as published
QUICK_STEPS = (*(c.step for c in CLASSIFIERS if not c.suffix), "fer-transfer", "fer-experiments", "fer-experiments-ferplus",
               "ablations")


def _folder(c: Classifier) -> str:
    return classifier_folder(c.arch, Path(), c.dataset).name + c.suffix


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    py = [sys.executable]
    work, results, quick = args.work, args.results, args.quick
    cmds: dict[str, list[str]] = {}
    for c in CLASSIFIERS:
        cmd = py + [str(HERE / "train_fer_classifier.py"), "--arch", c.arch, "--dataset", c.dataset,
                    "--output", str(work / _folder(c)), *c.extra]
        if c.suffix:
            data = "" if c.dataset == "folder" else f"{c.dataset}_"
            cmd += ["--name", f"fer_classifier_{data}{c.arch}{c.suffix.replace('-', '_')}"]
        cmds[c.step] = cmd + (["--epochs", "1", "--limit", "256", "--batch-size", "32"] if quick
                              else ["--epochs", str(c.epochs)])
    cmds["fer-transfer"] = py + [
        str(HERE / "fer_transfer.py"), "--classifiers", str(work), "--work", str(work / "fer-transfer"),
        "--results", str(results),
    ] + (["--iterations", "2", "--long-iterations", "3", "--long-continue", "2", "--limit", "96", "--seeds", "0", "1"]
         if quick else [])
    for step, dataset, archs in (("fer-experiments", "folder", ["resnet18", "vgg"]),
                                 ("fer-experiments-ferplus", "ferplus", ["resnet18"])):
        name = "fer_experiments" if dataset == "folder" else "fer_experiments_ferplus"
        cmds[step] = py + [
            str(HERE / "fer_experiments.py"), "--dataset", dataset, "--archs", *archs, "--name", name,
            "--classifiers", str(work), "--work", str(work / name.replace("_", "-")), "--results", str(results),
        ] + (["--iterations", "4", "--limit", "96"] if quick else ["--iterations", "500", "--seeds", "0", "1", "2"]) \
            + (["--joint-from-ifer"] if dataset == "ferplus" else [])
    cmds["ablations"] = py + [
        str(HERE / "ablations.py"), "--classifiers", str(work), "--work", str(work / "ablations"),
        "--results", str(results),
    ] + (["--iterations", "2", "--batch-size", "2", "--crop", "64", "--val-limit", "2"] if quick else [])
    cmds["quality"] = py + [str(HERE / "quality.py")]
    cmds["quality-degraded"] = py + [str(HERE / "quality_degraded.py")]
    cmds["exposure-sweep"] = py + [str(HERE / "exposure_sweep.py")]
    cmds["sample-images"] = py + [str(HERE / "sample_images.py")]
    cmds["model-cost"] = py + [str(HERE / "model_cost.py")]
    cmds["speed"] = py + [str(HERE / "speed.py")]
    cmds["train-speed"] = py + [str(HERE / "train_speed.py")]
    cmds["video-fer-speed"] = py + [str(HERE / "video_fer_speed.py")]
    cmds["face-colour"] = py + [str(HERE / "face_colour.py"), "--results", str(results), "--readers",
                                *(f"{arch}={classifier_folder(arch, work, 'genki')}" for arch in ("resnet18", "vgg"))]
    readers = {"resnet18": "fer-resnet18", "vgg": "fer-vgg", "convnext_atto": "fer-convnext_atto-12ep"}
    cmds["plugin-vs-retrain"] = py + [str(HERE / "plugin_vs_retrain.py"), "--results", str(results),
                                      "--work", str(work / "plugin-vs-retrain"), "--seeds", "0", "1", "--readers",
                                      *(f"{arch}={work / folder}" for arch, folder in readers.items())]
    cmds["niqe-bands"] = py + [str(HERE / "niqe_bands.py"), "--weights", "llenet-photo", "llenet-photo-0.3",
                               "llenet-sice", "--ungated"]
    cmds["face-colour-val"] = py + [
        str(HERE / "face_colour.py"), "--split", "val", "--limit", "300", "--grey-faces", "300",
        "--results", str(results), "--readers",
        *(f"{arch}={classifier_folder(arch, work, 'genki')}" for arch in ("resnet18", "vgg")),
        "--grey-readers", f"resnet18={work / 'fer-resnet18'}"]
    cmds["plugin-vs-retrain-lr1e-4"] = py + [
        str(HERE / "plugin_vs_retrain.py"), "--readers", f"resnet18={work / 'fer-resnet18'}", "--seeds", "0",
        "--lr", "1e-4", "--work", str(work / "plugin-vs-retrain-lr1e-4"),
        "--results", str(Path(results) / "plugin_vs_retrain_lr1e-4")]
    cmds["speed-compile"] = py + [str(HERE / "speed.py"), "--device", "cpu", "--repeats", "5", "--rounds", "3",
                                  "--tile", "512", "--batch", "32", "--compile", "default", "--models", "weights"]
    # the transfer table scored with other ResNet-18 recipes (the unguided enhancers of the fer-transfer step)
    for step, folder in (("fer-transfer-resnet18-40ep", "fer-resnet18-40ep"),
                         ("fer-transfer-resnet18_s1-16ep", "fer-resnet18_s1-16ep"),
                         ("fer-transfer-resnet18_s1-20ep", "fer-resnet18_s1-20ep")):
        name = {"fer-resnet18-40ep": "resnet18_40ep", "fer-resnet18_s1-16ep": "resnet18_s1",
                "fer-resnet18_s1-20ep": "resnet18_s1_20ep"}[folder]
        cmds[step] = py + [str(HERE / "fer_transfer.py"), "--classifiers", str(work), "--work", str(work / "fer-transfer"),
                           "--skip-guided", "--classifier-dir", "resnet18", str(work / folder),
                           "--results", str(Path(results) / f"fer_transfer_{name}")]
    cmds["fer-transfer-stem2"] = py + [str(HERE / "fer_transfer.py"), "--classifiers", str(work),
                                       "--work", str(work / "fer-transfer"), "--seeds", "0", "1",
                                       "--long-iterations", "4000", "--long-stem-stride", "2",
                                       "--results", str(Path(results) / "fer_transfer_stem2")]
    # the face recipe through the library: the shipped weights' last stage rerun from their summary.json (gives
    # the same weights), and the whole recipe from scratch (the default recipe, then that stage), scored
    summary = str(Path("src", "llenhance", "weights", "llenet-faces", "summary.json"))
    train_faces = py + ["-m", "llenhance.cli", "train", "faces", "--data", str(DATA / "fer2013" / "train"),
                        "--threads", "2"]
    cmds["face-recipe-rerun"] = train_faces + ["--recipe", summary, "--output", str(work / "faces-rerun")]
    cmds["face-recipe-scratch"] = train_faces + ["--output", str(work / "faces-scratch-a")]
    cmds["face-recipe-scratch-finetune"] = train_faces + ["--recipe", summary, "--init",
                                                          str(work / "faces-scratch-a" / "model"),
                                                          "--output", str(work / "faces-scratch-b")]
    cmds["face-recipe-scores"] = py + [
        str(HERE / "face_colour.py"), "--split", "test", "--limit", "1000", "--grey-faces", "500",
        "--readers", *(f"{arch}={classifier_folder(arch, work, 'genki')}" for arch in ("resnet18", "vgg")),
        "--grey-readers", f"resnet18={work / 'fer-resnet18'}",
        "--candidates", str(work / "faces-scratch-a" / "model"), str(work / "faces-scratch-b" / "model"),
        "--results", str(Path(results) / "face_recipe_rerun")]
    return cmds


def done(step: str, args: argparse.Namespace) -> bool:
    """A classifier is done when its weights and its record exist; the other steps reuse their own finished parts."""
    for c in CLASSIFIERS:
        if step == c.step:
            folder = args.work / _folder(c)
            return (folder / "model.safetensors").is_file() and (folder / "training.json").is_file()
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data, a few iterations, results/quick/")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=None, help="run only these steps")
    parser.add_argument("--work", type=Path, default=None,
                        help="trained models and checkpoints (default ~/.cache/llenhance, or .../quick)")
    parser.add_argument("--fresh", action="store_true", help="delete --work first and retrain everything")
    args = parser.parse_args()
    base = WORK
    args.work = args.work or (base / "quick" if args.quick else base)
    # relative to the repository root, where the steps run: the tables then show portable commands
    args.results = Path("benchmarks", "results", "quick") if args.quick else Path("benchmarks", "results")
    steps = args.steps or (QUICK_STEPS if args.quick else STEPS)
    if args.quick and set(steps) - set(QUICK_STEPS):
        parser.error(f"`--steps` {sorted(set(steps) - set(QUICK_STEPS))} have no quick form")
    if args.fresh:
        folders = [_folder(c) for c in CLASSIFIERS]
        for step in (*folders, "fer-transfer", "fer-experiments", "fer-experiments-ferplus", "ablations"):
            shutil.rmtree(args.work / step, ignore_errors=True)
    print("quick smoke run: minutes, numbers meaningless" if args.quick else
          "full run: about 8 hours on a 2-core CPU (much less with a GPU); interrupt and rerun to resume",
          flush=True)
    started = time.time()
    cmds = commands(args)
    for i, step in enumerate(steps, 1):
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
