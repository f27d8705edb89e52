"""Plug-in or retrain? The same FER readers with an enhancer in front, fine-tuned on darkened faces, or both.

For each reader (a normal-light FER2013 classifier of ``train_fer_classifier.py``) and each seed:

- ``none``: the reader as it is;
- ``plugin``: the frozen reader behind ``wrap()``'s default face enhancer (``llenet-faces``, which was
  trained without any classifier: every reader is one it never saw);
- ``retrain``: the reader fine-tuned on FER2013 train with crops, flips and
  `llenhance.transforms.darkening_augmentation` (paper and realistic darkenings, a quarter well lit),
  through `llenhance.training.finetune_classifier`;
- ``retrain+plugin``: that fine-tuned reader behind ``llenet-faces``;
- ``joint``: the paper's joint scheme on top of ``retrain``: ``llenet-faces`` trained further with
  `FERGuidedTrainer`, guided by the fine-tuned reader (frozen), on the same darkenings; scored behind the
  reader that guided it, and (``joint_unseen``) behind the other fine-tuned readers of the same seed.

Every arm is scored on FER2013 val (3,579 faces at 48 x 48) darkened with the paper's protocol and the
realistic one (the dark faces of `llenhance.evaluation.evaluate_fer`: same darkening, same test seed), and on
the well-lit faces; each enhancer runs once per condition and its output goes to every reader. Seeds change
the fine-tuning and the joint training; ``none`` and ``plugin`` have nothing seeded. Costs: the wall time of
each fine-tuning and joint run (as recorded in its run folder) and the inference time per face of a reader
alone and behind the enhancer, measured here.

Run (about 1 h 20 min on 2 CPU threads with three readers and two seeds; `run_all.py` runs it after
the steps that train the three readers):
    python benchmarks/plugin_vs_retrain.py --readers resnet18=~/.cache/llenhance/fer-resnet18 \\
        vgg=~/.cache/llenhance/fer-vgg convnext_atto=~/.cache/llenhance/fer-convnext_atto-12ep --seeds 0 1

Writes ``benchmarks/results/plugin_vs_retrain.{json,md}`` (accuracies in %) and a bar chart
``plugin_vs_retrain.png``. Run folders go to ``--work`` (default ``$LLENHANCE_WORK/plugin-vs-retrain``) and
are reused (same recipe) or refused (another recipe) by the library's run-folder policy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset, TensorDataset
from torchvision.transforms import v2
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _command import command_line  # noqa: E402
from _fer_data import FER2013, fer_split, preload  # noqa: E402
from _fer_eval import frozen_classifier_from  # noqa: E402
from _fer_models import MEAN, STD  # noqa: E402
from _paths import WORK  # noqa: E402
from _timing import median_seconds  # noqa: E402
from llenhance import Enhancer, FrozenClassifier, LLENet  # noqa: E402
from llenhance.classifier import ClassifierPreprocess  # noqa: E402
from llenhance.metrics import accuracy  # noqa: E402
from llenhance.evaluation import darkened_pairs, markdown_table, predict, write_results  # noqa: E402
from llenhance.losses import ReconstructionLoss  # noqa: E402
from llenhance.training import ClassifierRecipe, FERGuidedTrainer, finetune_classifier  # noqa: E402
from llenhance.training.faces import face_pairs  # noqa: E402
from llenhance.training.runs import claim_run_folder  # noqa: E402
from llenhance.transforms import darkening_augmentation  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ARMS = ("none", "plugin", "retrain", "retrain+plugin", "joint")
PROTOCOLS = ("paper", "realistic")
#: The training darkenings of both trained arms, and their well-lit share.
DARKENINGS = ("paper", "realistic")
WELL_LIT = 0.25


def _reader(spec: str) -> tuple[str, Path]:
    name, sep, folder = spec.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=FOLDER (an architecture of train_fer_classifier.py), "
                                         f"got {spec!r}")
    return name, Path(folder).expanduser()


def augmentation(size: int) -> v2.Transform:
    """Crops (reflect padding 4) and flips, then a darkening (paper or realistic) on three faces in four."""
    return v2.Compose([v2.RandomCrop(size, padding=4, padding_mode="reflect"), v2.RandomHorizontalFlip(),
                       darkening_augmentation(DARKENINGS, well_lit=WELL_LIT)])


def retrain(name: str, folder: Path, train: TensorDataset, out: Path, args: argparse.Namespace,
            seed: int) -> FrozenClassifier:
    """The reader fine-tuned on darkened faces (run folder ``out``), frozen for scoring."""
    frozen = frozen_classifier_from(name, folder, argument="--readers")
    stages, net = frozen.stages, frozen.release()
    recipe = ClassifierRecipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=seed)
    finetune_classifier(net, train, out, recipe, transform=augmentation(args.size),
                        preprocess=ClassifierPreprocess(mean=MEAN, std=STD), progress=not args.quiet)
    # frozen again, with the reader's preprocessing and feature stages
    return FrozenClassifier(net, preprocess=ClassifierPreprocess(mean=MEAN, std=STD), stages=stages)


def joint(reader: FrozenClassifier, train: TensorDataset, out: Path, args: argparse.Namespace,
          seed: int) -> LLENet:
    """``llenet-faces`` trained further with the paper's joint loss, guided by ``reader`` (run folder ``out``)."""
    model_dir = out / "model"
    recipe = {"init": "llenet-faces", "iterations": args.joint_iterations, "lr": args.joint_lr, "seed": seed,
              "batch_size": 32, "darkenings": list(DARKENINGS), "normal_fraction": WELL_LIT,
              "guide": str(out.parent / "retrain")}
    claim_run_folder(out, recipe, kind="joint")
    if (model_dir / "model.safetensors").is_file():
        return Enhancer.from_pretrained(model_dir).eval()
    torch.manual_seed(seed)
    enhancer = Enhancer.from_pretrained("llenet-faces")
    trainer = FERGuidedTrainer(enhancer, reader, reconstruction=ReconstructionLoss(perceptual=0, color=0),
                               lr=args.joint_lr, batch_size=32, schedule="cosine", seed=seed,
                               checkpoint_dir=out / "checkpoints", checkpoint_every=100, progress=not args.quiet)
    pairs = face_pairs(train, DARKENINGS, normal_fraction=WELL_LIT, seed=seed)
    started = time.time()
    trainer.fit(pairs, iterations=args.joint_iterations, resume=True)
    enhancer.save_pretrained(model_dir)
    (out / "wall_seconds.txt").write_text(f"{time.time() - started:.1f}\n")
    return enhancer.eval()


def enhance_all(enhancer: LLENet, images: torch.Tensor) -> torch.Tensor:
    """``enhancer``'s output on every face, clamped to [0, 1], 256 at a time."""
    with torch.inference_mode():
        return torch.cat([enhancer(images[i : i + 256]).clamp(0, 1) for i in range(0, len(images), 256)])


class Scorer:
    """Accuracies (%) of readers on the val faces of every condition, each enhancer run once per condition."""

    def __init__(self, val: Any) -> None:
        normal = torch.stack([val[i][0] for i in range(len(val))])
        self.labels = torch.tensor([int(val[i][1]) for i in range(len(val))])
        # the dark faces of evaluate_fer: the same darkening, seed and per-face draws
        self.images = {p: torch.stack([d for d, _ in darkened_pairs(normal, p)]) for p in PROTOCOLS}
        self.images["well_lit"] = normal
        self._enhanced: dict[tuple[int, str], torch.Tensor] = {}

    def __call__(self, reader: FrozenClassifier, enhancer: LLENet | None = None) -> dict[str, float]:
        out = {}
        for condition, images in self.images.items():
            if enhancer is not None:
                key = (id(enhancer), condition)
                if key not in self._enhanced:
                    self._enhanced[key] = enhance_all(enhancer, images)
                images = self._enhanced[key]
            out[condition] = 100 * accuracy(predict(reader, images), self.labels)
        return out


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Mean over seeds of each score, with the sample sd (0 for a single run)."""
    keys = (*PROTOCOLS, "well_lit")
    out: dict[str, Any] = {k: statistics.fmean(r[k] for r in runs) for k in keys}
    out["sd"] = {k: statistics.stdev([r[k] for r in runs]) if len(runs) > 1 else 0.0 for k in keys}
    out["runs"] = len(runs)
    return out


def seconds_per_face(reader: FrozenClassifier, enhancer: LLENet | None, faces: torch.Tensor) -> float:
    """Wall time per face of the reader (behind ``enhancer``), batches of 256, the median of three passes."""
    def run(images: torch.Tensor) -> None:
        for i in range(0, len(images), 256):
            x = images[i : i + 256]
            reader(enhancer(x).clamp(0, 1) if enhancer is not None else x)

    return median_seconds(run, faces, repeats=3, warmups=0) / len(faces)


def markdown(results: dict[str, Any]) -> str:
    def cell(arm: dict[str, Any], key: str) -> str:
        return f"{arm[key]:.2f}" + (f" ± {arm['sd'][key]:.2f}" if arm["runs"] > 1 else "")

    lines = ["# Plug-in or retrain?", "",
             f"Command: `{results['command']}`", "",
             f"FER2013 val ({results['faces']} faces, {results['size']}²), accuracy in %, darkened with the paper's "
             "protocol and the realistic one (sensor noise, 8 bits) at the fixed test seed, and well lit. "
             f"Trained arms: mean ± sd over seeds {results['seeds']}. `retrain`: {results['epochs']} epochs of "
             "fine-tuning with crops, flips and `darkening_augmentation(('paper', 'realistic'), well_lit=0.25)`; "
             f"`joint`: `llenet-faces` + {results['joint_iterations']} joint steps guided by the fine-tuned reader.",
             ""]
    header = ["reader", "arm", "paper ↑", "realistic ↑", "well lit ↑"]
    rows = []
    for reader, arms in results["readers"].items():
        for arm in ARMS:
            rows.append([reader, arm, cell(arms[arm], "paper"), cell(arms[arm], "realistic"),
                         cell(arms[arm], "well_lit")])
    for arm in ARMS:
        mean = results["mean"][arm]
        rows.append(["**mean**", arm, f"{mean['paper']:.2f}", f"{mean['realistic']:.2f}", f"{mean['well_lit']:.2f}"])
    lines += [markdown_table(header, rows), ""]
    lines += ["`joint` enhancers behind the other fine-tuned readers (same seed), which did not guide them, "
              "next to `retrain+plugin` on the same readers:", ""]
    rows = [[r, f"{v['paper']:.2f}", f"{v['realistic']:.2f}", f"{v['well_lit']:.2f}",
             f"{v['plugin_paper']:.2f}", f"{v['plugin_realistic']:.2f}"]
            for r, v in results["joint_unseen"].items()]
    lines += [markdown_table(["reader (scored)", "joint, paper", "joint, realistic", "joint, well lit",
                              "retrain+plugin, paper", "retrain+plugin, realistic"], rows), ""]
    cost = results["cost"]
    rows = [[r, f"{c['finetune_seconds']:.0f}", f"{c['joint_seconds']:.0f}", f"{1e3 * c['reader_seconds_per_face']:.3f}",
             f"{1e3 * c['with_enhancer_seconds_per_face']:.3f}"] for r, c in cost.items()]
    lines += ["Cost: training wall time per run as its run folder records it (mean over seeds; it depends on what "
              "else ran on the machine then), and inference per face measured here (" + results["machine"] +
              ", batches of 256, median of 3 passes):", "",
              markdown_table(["reader", "fine-tune s", "joint s", "reader ms/face", "enhancer + reader ms/face"], rows),
              ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    readers = list(results["readers"])
    width = 0.8 / len(ARMS)
    for ax, key, title in zip(axes, (*PROTOCOLS, "well_lit"), ("paper darkening", "realistic darkening", "well lit")):
        for j, arm in enumerate(ARMS):
            means = [results["readers"][r][arm][key] for r in readers]
            sds = [results["readers"][r][arm]["sd"][key] for r in readers]
            ax.bar([i + j * width for i in range(len(readers))], means, width, yerr=sds, label=arm, capsize=2)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(readers))], readers)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("FER2013 val accuracy (%)")
    lo = min(results["readers"][r][a][k] for r in readers for a in ARMS for k in (*PROTOCOLS, "well_lit"))
    axes[0].set_ylim(max(0, lo - 5), None)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(ARMS), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", nargs="+", type=_reader, required=True, metavar="ARCH=FOLDER",
                        help="normal-light readers: architecture of train_fer_classifier.py = its output folder")
    parser.add_argument("--data", type=Path, default=FER2013, help="FER2013 root (train/ and val/ class folders)")
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs of the retrain arm")
    parser.add_argument("--batch-size", type=int, default=128, help="fine-tuning batch size")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak fine-tuning learning rate (one-cycle)")
    parser.add_argument("--joint-iterations", type=int, default=600, help="joint steps (batch 32) of the joint arm")
    parser.add_argument("--joint-lr", type=float, default=1e-4, help="peak joint learning rate (cosine)")
    parser.add_argument("--limit", type=int, default=None, help="use only N train and N val faces (smoke runs)")
    parser.add_argument("--work", type=Path, default=WORK / "plugin-vs-retrain")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only-train", action="store_true",
                        help="train the runs of these readers and seeds, score nothing (to run readers in parallel)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train_faces = fer_split("folder", args.data, "train", size=args.size)
    val = fer_split("folder", args.data, "val", size=args.size)
    if args.limit:
        train_faces = Subset(train_faces, range(0, len(train_faces), max(1, len(train_faces) // args.limit)))
        val = Subset(val, range(0, len(val), max(1, len(val) // args.limit)))
    train = preload(train_faces)
    readers = dict(args.readers)
    plugin = Enhancer.from_pretrained("llenet-faces").eval()
    tuned: dict[tuple[str, int], FrozenClassifier] = {}
    joints: dict[tuple[str, int], LLENet] = {}
    for seed in args.seeds:
        for name, folder in readers.items():
            run = args.work / f"{name}-seed{seed}"
            tuned[name, seed] = retrain(name, folder, train, run / "retrain", args, seed)
            joints[name, seed] = joint(tuned[name, seed], train, run / "joint", args, seed)
    if args.only_train:
        return {}
    results: dict[str, Any] = {"command": command_line("plugin_vs_retrain.py", argv), "faces": len(val),
                               "size": args.size, "seeds": args.seeds, "epochs": args.epochs,
                               "joint_iterations": args.joint_iterations, "readers": {}, "joint_unseen": {},
                               "cost": {}, "machine": f"CPU, {args.threads} threads"}
    scorer = Scorer(val)
    for name, folder in tqdm(readers.items(), desc="scoring", disable=args.quiet):
        base = frozen_classifier_from(name, folder, argument="--readers")
        runs: dict[str, list[dict[str, float]]] = {arm: [] for arm in ARMS}
        runs["none"].append(scorer(base))
        runs["plugin"].append(scorer(base, plugin))
        unseen: list[dict[str, float]] = []
        for seed in args.seeds:
            reader = tuned[name, seed]
            runs["retrain"].append(scorer(reader))
            runs["retrain+plugin"].append(scorer(reader, plugin))
            runs["joint"].append(scorer(reader, joints[name, seed]))
            # the joint enhancers of the other readers (same seed) never saw this reader
            for other in readers:
                if other != name:
                    unseen.append({**scorer(reader, joints[other, seed]),
                                   **{f"plugin_{p}": runs["retrain+plugin"][-1][p] for p in PROTOCOLS}})
        results["readers"][name] = {arm: _summary(r) for arm, r in runs.items()}
        if unseen:
            results["joint_unseen"][name] = {k: statistics.fmean(u[k] for u in unseen) for k in unseen[0]}
        finetune = [float(json.loads((args.work / f"{name}-seed{s}" / "retrain" / "training.json")
                                     .read_text())["wall_seconds_last_session"]) for s in args.seeds]
        joint_s = [float((args.work / f"{name}-seed{s}" / "joint" / "wall_seconds.txt").read_text())
                   for s in args.seeds if (args.work / f"{name}-seed{s}" / "joint" / "wall_seconds.txt").is_file()]
        results["cost"][name] = {
            "finetune_seconds": statistics.fmean(finetune),
            "joint_seconds": statistics.fmean(joint_s) if joint_s else float("nan"),
            "reader_seconds_per_face": seconds_per_face(base, None, scorer.images["well_lit"]),
            "with_enhancer_seconds_per_face": seconds_per_face(base, plugin, scorer.images["well_lit"]),
        }
    results["mean"] = {arm: {k: statistics.fmean(results["readers"][r][arm][k] for r in readers)
                             for k in (*PROTOCOLS, "well_lit")} for arm in ARMS}
    args.results.mkdir(parents=True, exist_ok=True)
    write_results(args.results / "plugin_vs_retrain", results, markdown(results))
    plot(results, args.results / "plugin_vs_retrain.png")
    return results


if __name__ == "__main__":
    main()
