"""FER under low light: the paper's training schemes on FER2013 (paper Fig. 10, Table 5).

Every scheme classifies the same dark faces of ``fer2013/val`` with a frozen
classifier trained in normal light (``train_fer_classifier.py``):

0. normal light (upper bound);
1. low light straight into the classifier (baseline);
2. fixed enhancement, then the classifier (the paper's "KFER" slot): the
   classical global gamma and CLAHE, and two learned peers with their
   published weights, Zero-DCE and SCI;
3. IFER: ``llenet_s`` trained with the reconstruction loss only on dark/normal
   pairs made from ``fer2013/train``, then the classifier;
4. joint: ``llenet_s`` trained with ``FERGuidedTrainer`` in front of the frozen
   ResNet-18 (L_rec + L_ferp + L_cls + L_label);
5. joint in front of a second, different classifier (a plain VGG-style net);
6. curve + joint: an exposure curve under ``llenet_s`` (``curve_target``), a
   quarter of well-lit training pairs, the joint loss with the first
   classifier, Adam 5e-4 with a cosine schedule (the exposure mix of
   ``fer_transfer.py``; the built-in ``llenet-faces`` is that script's
   long reconstruction-only run).
7. (``--joint-from-ifer``) joint with the first classifier, starting from
   the IFER weights of the same seed (the paper lets the enhancer start from
   reconstruction-only weights): ``--iterations`` more steps on top of IFER's.

IFER and the joint enhancers get the same budget (paper: Adam 3e-4, batch 32,
2000 iterations, from a new network) and the same training pairs; only
the loss differs. Every trained scheme runs once per ``--seeds`` value; tables
give mean ± sd. Every enhancer is also read by the classifier it was *not*
trained with, which says whether FER guidance transfers to a model the
enhancer never saw.

Two low-light protocols, each with its own training pairs and a fixed test
seed, so every method sees the same dark images:

- ``paper``: ``LowLightSynth()`` (Eq. 14, paper ranges, no noise);
- ``realistic``: the same plus Poisson-Gaussian sensor noise and 8-bit quantisation.

Reported per protocol and classifier: accuracy, recovered fraction
``(acc - acc_low) / (acc_normal - acc_low)``, per-class accuracy, confusion
matrices (PNG), and per-image PSNR/SSIM (RGB, [0, 1], means over the faces)
of every enhanced face against its normal-light face.

Run (after both classifiers exist; ``run_all.py`` chains everything):
    python benchmarks/fer_experiments.py --classifiers ~/.cache/llenhance

Writes ``NAME.{json,md}``, ``NAME_schemes.png`` and
``NAME_confusion_<protocol>_<arch>.png`` under ``--results`` (``--name``, default
``fer_experiments``); trained enhancers
(with resumable checkpoints) under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _paths import WORK  # noqa: E402

from _baselines import WEIGHTS, clahe, identity, load_sci, load_zero_dce  # noqa: E402
from llenhance.baselines import global_gamma  # noqa: E402
from _fer_data import FER2013, add_data_arguments  # noqa: E402
from _command import command_line, tilde  # noqa: E402
from _fer_eval import (  # noqa: E402,F401
    PROTOCOLS,
    TEST_SEED,
    apply,
    add_classifier_dir_argument,
    claim_run,
    classifier_dirs,
    dark_test_set,
    frozen_classifier_from,
    load_faces,
    predict,
    weights_digest,
)

from llenhance import Enhancer, FERGuidedTrainer, FrozenClassifier, LLENet, LowLightSynth, llenet_s  # noqa: E402
from llenhance._digest import state_digest  # noqa: E402
from llenhance.data import SyntheticLowLight  # noqa: E402
from llenhance.evaluation import write_results  # noqa: E402
from llenhance.losses import ReconstructionLoss  # noqa: E402
from llenhance.metrics import accuracy, confusion_matrix, per_class_accuracy, psnr, recovered_fraction, ssim  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

TRAIN_SEED = 0  # darkening, crops/flips and batch order of the training pairs
ARCHS = {"resnet18": "ResNet-18", "vgg": "VGG-style CNN"}
#: Training recipe of scheme 6, the exposure mix of ``fer_transfer.py``'s curve enhancers.
RECIPE = {"curve_target": 0.45, "normal_fraction": 0.25, "lr": 5e-4, "schedule": "cosine"}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _sd(values: list[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    if len(values) < 2:
        return 0.0
    m = _mean(values)
    return (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def train_enhancer(
    out: Path,
    faces: Dataset,
    protocol: str,
    classifier: FrozenClassifier | None,
    *,
    iterations: int,
    color_weight: float = 0.0,
    seed: int = TRAIN_SEED,
    curve_target: float | None = None,
    normal_fraction: float = 0.0,
    lr: float = 3e-4,
    schedule: str = "constant",
    init: LLENet | None = None,
    guide_digests: dict[str, str] | None = None,
) -> tuple[LLENet, dict]:
    """IFER (``classifier=None``) or joint training; reuses ``out/model`` when it exists, resumes checkpoints.

    The paper's schemes use the defaults (``llenet_s``, Adam 3e-4); the recipe of the built-in face
    enhancer passes ``curve_target`` (an exposure curve under the network), ``normal_fraction``
    (well-lit pairs whose target is themselves) and its learning-rate schedule; ``init`` starts from
    the weights of a trained enhancer (IFER) instead of a new network. ``guide_digests`` names the
    classifier weights that guide the run (``weights_digest`` of their folder). The run folder holds its
    recipe (``claim_run``): a folder made with another recipe, other guide weights or other starting weights is
    refused, not reused.
    """
    model_dir = out / "model"
    record_path = model_dir / "training.json"  # beside the weights: a complete run folder for export_builtin.py
    claim_run(out, {"protocol": protocol, "guided": classifier is not None, "iterations": iterations,
                    "color_weight": color_weight, "seed": seed, "curve_target": curve_target,
                    "normal_fraction": normal_fraction, "lr": lr, "schedule": schedule,
                    "init": state_digest(init) if init is not None else None, "guides": guide_digests or {}})
    if (model_dir / "model.safetensors").is_file() and record_path.is_file():
        return Enhancer.from_pretrained(model_dir).eval(), json.loads(record_path.read_text())
    torch.manual_seed(seed)
    enhancer = llenet_s(curve_target=curve_target)
    if init is not None:
        enhancer.load_state_dict(init.state_dict())
    train = SyntheticLowLight(faces, LowLightSynth(**PROTOCOLS[protocol]), flip=True, seed=seed,
                              normal_fraction=normal_fraction)
    trainer = FERGuidedTrainer(
        enhancer,
        classifier,
        # No VGG-16 ImageNet weights on the machines the results come from: perceptual term off.
        # Colour term off by default: on grayscale faces hue is undefined (see --color-weight).
        reconstruction=ReconstructionLoss(perceptual=0, color=color_weight),
        lr=lr,
        batch_size=32,
        schedule=schedule,
        seed=seed,
        checkpoint_dir=out / "checkpoints",
        checkpoint_every=250,
    )
    started = time.time()
    last = trainer.fit(train, iterations=iterations, resume=True)
    enhancer.save_pretrained(model_dir)
    record = {"config": trainer.config, "iterations": iterations, "protocol": protocol,
              "start": "new network" if init is None else "IFER weights of the same seed and protocol",
              "train_images": len(faces), "last": last, "wall_seconds_last_session": round(time.time() - started, 1)}
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return enhancer.eval(), record


#: The classical (not learned) methods of scheme 2.
CLASSICAL = ("global gamma", "CLAHE")


def _classical() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"global gamma": global_gamma, "CLAHE": clahe}
    if (WEIGHTS / "zero-dce" / "Epoch99.pth").is_file():
        methods["Zero-DCE"] = load_zero_dce()
    if (WEIGHTS / "sci" / "medium.pt").is_file():
        methods["SCI (medium)"] = load_sci("medium")
    return methods


def plot_confusions(path: Path, title: str, matrices: dict[str, torch.Tensor], classes: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(matrices), figsize=(3.6 * len(matrices), 4.5), constrained_layout=True)
    for ax, (name, cm) in zip(axes, matrices.items()):
        rates = cm.float() / cm.sum(1, keepdim=True).clamp_min(1)
        ax.imshow(rates.numpy(), vmin=0, vmax=1, cmap="Blues")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if rates[i, j] > 0.5 else "black")
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(len(classes)), classes, rotation=60, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
    axes[0].set_ylabel("true", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_schemes(path: Path, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(p, a) for p in results["protocols"] for a in results["protocols"][p]["classifiers"]]
    rows_per_panel = len(next(iter(results["protocols"].values()))["schemes"])
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, len(panels) * (0.34 * rows_per_panel + 1.0)),
                             constrained_layout=True, sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, (protocol, arch) in zip(axes, panels):
        rows = results["protocols"][protocol]["classifiers"][arch]["methods"]
        names = list(rows)
        ax.barh(range(len(names)), [rows[n]["accuracy"] * 100 for n in names], color="tab:blue",
                xerr=[rows[n].get("accuracy_sd", 0) * 100 for n in names], capsize=2)
        ax.set_yticks(range(len(names)), names, fontsize=10)
        ax.invert_yaxis()
        ax.set_xlabel("val accuracy (%)", fontsize=10)
        ax.set_title(f"{protocol} protocol, {ARCHS[arch]}", fontsize=11)
        ax.grid(axis="x", alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(x: float | None, pct: bool = True, sd: float | None = None) -> str:
    if x is None:
        return "–"
    scale, digits = (100, 2) if pct else (1, 3)
    text = f"{scale * x:.{digits}f}"
    return text if not sd or abs(sd) < 1e-12 else text + f" ± {scale * sd:.{digits}f}"  # deterministic: no ±


def markdown(results: dict) -> str:
    seeds = results["seeds"]
    lines = [
        f"# FER under low light ({results['data']} val)",
        "",
        "Classifiers (trained in normal light, then frozen):",
        "",
        "| classifier | epochs | normal-light val accuracy | training command |",
        "|---|---|---|---|",
    ]
    for arch, info in results["classifier_training"].items():
        lines.append(f"| {ARCHS[arch]} | {info.get('epochs', '–')} | {_fmt(info.get('val_accuracy'))} | "
                     f"`{info.get('command', 'unknown')}` |")
    lines += [
        "",
        f"Command: `{results['command']}`. Test faces: the val split, {results['val_images']} images, darkened "
        f"with seed {TEST_SEED}"
        + f"; enhancers trained on {results['train_images']} train faces "
        f"({results['iterations']} iterations, batch 32, seeds {', '.join(map(str, seeds))}, perceptual term off, "
        f"colour weight {results['color_weight']}; schemes 3–5: `llenet_s`, Adam 3e-4 as in the paper; scheme 6: "
        f"curve + joint, {RECIPE}). "
        "Accuracy in %, mean ± sd over the training seeds (schemes 1–2 are deterministic); "
        "recovered = (acc - acc_low) / (acc_normal - acc_low); well-lit = accuracy change (points) when the "
        "*well-lit* val faces pass through the method; PSNR (dB) / SSIM per image against the normal-light face, "
        "mean over the faces.",
        "",
    ]
    classes = results["classes"]
    for protocol, pr in results["protocols"].items():
        lines += [f"## Protocol `{protocol}`: {pr['description']}", ""]
        archs = list(pr["classifiers"])
        header = "| scheme | method | " + " | ".join(
            f"acc {ARCHS[a]} | recovered {ARCHS[a]} | well-lit {ARCHS[a]}" for a in archs)
        lines += [header + " | PSNR | SSIM |", "|" + "---|" * (2 + 3 * len(archs) + 2)]
        for name, scheme in pr["schemes"].items():
            cells = [scheme, name]
            for a in archs:
                row = pr["classifiers"][a]["methods"][name]
                cells += [_fmt(row["accuracy"], sd=row.get("accuracy_sd")),
                          _fmt(row["recovered_fraction"], pct=False, sd=row.get("recovered_fraction_sd")),
                          _fmt(row.get("well_lit_change"), sd=row.get("well_lit_change_sd"))]
            q = pr["quality"].get(name, {})
            cells += [_fmt(q["psnr"] / 100, sd=q.get("psnr_sd", 0) / 100) if q else "–",
                      f"{q['ssim']:.4f}" if q else "–"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        for a in archs:
            methods = pr["classifiers"][a]["methods"]
            lines += [f"Per-class accuracy (%), {ARCHS[a]}, protocol `{protocol}`, seed {seeds[0]}:", "",
                      "| method | " + " | ".join(classes) + " |", "|" + "---|" * (1 + len(classes))]
            for name, row in methods.items():
                lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in row["per_class_accuracy"]) + " |")
            lines.append("")
    return tilde("\n".join(lines))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--classifiers", type=Path, default=WORK,
                        help="folder holding fer-resnet18/ and fer-vgg/ (train_fer_classifier.py outputs)")
    add_classifier_dir_argument(parser)  # with another --work: runs record the weights that guided them
    parser.add_argument("--work", type=Path, default=WORK / "fer-experiments",
                        help="trained enhancers and their checkpoints (resumable)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--color-weight", type=float, default=0.0,
                        help="wc of L_rec. Default 0: FER2013 faces are grayscale, where hue is undefined and the "
                             "colour term's gradients swamp the others; use the paper's 0.5 for colour faces (RAF-DB)")
    parser.add_argument("--protocols", nargs="+", choices=sorted(PROTOCOLS), default=list(PROTOCOLS))
    parser.add_argument("--limit", type=int, default=None, help="use about N train and N val faces (quick runs)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--archs", nargs="+", choices=sorted(ARCHS), default=list(ARCHS),
                        help="classifiers (each read from --classifiers/fer-<arch>, or <dataset>-<arch>)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[TRAIN_SEED],
                        help="training seeds of the enhancers (tables give mean ± sd over them)")
    parser.add_argument("--joint-from-ifer", action="store_true",
                        help="also scheme 7: joint with the first classifier, starting from the IFER weights")
    parser.add_argument("--name", default="fer_experiments",
                        help="stem of the result files (NAME.json, NAME.md, NAME_schemes.png, NAME_confusion_*.png)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folders = classifier_dirs(parser, args, ARCHS, args.dataset)
    args.results.mkdir(parents=True, exist_ok=True)
    classifiers: dict[str, FrozenClassifier] = {}

    def classifier(arch: str) -> FrozenClassifier:  # loaded when first needed: IFER training needs none
        if arch not in classifiers:
            classifiers[arch] = frozen_classifier_from(arch, folders[arch], args.dataset)
        return classifiers[arch]

    classical = _classical()
    train_faces, val_faces = load_faces(args, "train"), load_faces(args, "val")
    classes = list(val_faces.classes)
    results: dict = {
        "command": command_line("fer_experiments.py", argv),
        "data": {"folder": "FER2013", "ferplus": "FERPlus"}.get(args.dataset, args.dataset) if args.data == FER2013
        else f"{args.dataset} data set",
        "iterations": args.iterations,
        "seeds": args.seeds,
        "color_weight": args.color_weight,
        "classes": classes,
        "train_images": len(train_faces),
        "val_images": len(val_faces),
        "protocols": {},
    }
    fixed: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = {"none (low light)": ("1 baseline", identity)}
    fixed.update({name: ("2 classical" if name in CLASSICAL else "2 peer (learned, published weights)", method)
                  for name, method in classical.items()})
    runs = [("IFER (reconstruction only)", "3 IFER", "ifer", None, False)]
    runs += [(f"joint, guided by {ARCHS[a]}", "4 joint" if a == "resnet18" else "5 joint (2nd classifier)",
              f"joint-{a}", a, False) for a in args.archs]
    runs += [(f"curve + LLENet, guided by {ARCHS[a]} (exposure mix)", "6 curve + joint", f"curve-joint-{a}",
              a, True) for a in args.archs[:1]]
    if args.joint_from_ifer:
        runs += [(f"joint from IFER weights, guided by {ARCHS[a]}", "7 IFER, then joint", f"ifer-joint-{a}", a, False)
                 for a in args.archs[:1]]
    for protocol in args.protocols:
        low, normal, labels = dark_test_set(val_faces, protocol)
        results["val_images"] = len(labels)
        schemes = {"normal light": "0 upper bound", **{n: s for n, (s, _) in fixed.items()},
                   **{r[0]: r[1] for r in runs}}
        # per seed: predictions on the dark and on the well-lit faces, and image quality
        dark_preds: list[dict[str, dict[str, torch.Tensor]]] = []
        lit_preds: list[dict[str, dict[str, torch.Tensor]]] = []
        quality_seeds: list[dict[str, dict[str, float]]] = []
        training: dict[str, dict] = {}

        def score(methods: dict[str, Callable[[torch.Tensor], torch.Tensor]]) -> None:
            enhanced = {n: apply(m, low) for n, m in tqdm(methods.items(), desc="enhance", leave=False)}
            well_lit = {n: apply(m, normal) for n, m in tqdm(methods.items(), desc="enhance well-lit", leave=False)}
            quality_seeds.append({n: {"psnr": float(psnr(x, normal).mean()), "ssim": float(ssim(x, normal).mean())}
                                  for n, x in enhanced.items()})
            dark_preds.append({a: {n: predict(classifier(a), x) for n, x in enhanced.items()} for a in args.archs})
            lit_preds.append({a: {n: predict(classifier(a), x) for n, x in well_lit.items()} for a in args.archs})

        score({n: m for n, (_, m) in fixed.items()})  # deterministic: once
        fixed_quality, fixed_dark, fixed_lit = quality_seeds.pop(), dark_preds.pop(), lit_preds.pop()
        for seed in args.seeds:
            trained = {}
            for name, _, tag, guide, curve in runs:
                print(f"[{protocol}] training {name}, seed {seed}", flush=True)
                model, record = train_enhancer(
                    args.work / f"seed{seed}" / protocol / tag, train_faces, protocol,
                    classifier(guide) if guide else None, iterations=args.iterations,
                    color_weight=args.color_weight, seed=seed,
                    init=trained[runs[0][0]] if tag.startswith("ifer-joint") else None,
                    guide_digests={guide: weights_digest(folders[guide])}
                    if guide else {},
                    **(RECIPE if curve else {}),
                )
                trained[name] = model
                training.setdefault(name, {"loss_weights": record["config"]["loss_weights"], "last": []})
                training[name]["last"].append(record["last"])
            score(trained)
            quality_seeds[-1].update(fixed_quality)
            for a in args.archs:
                dark_preds[-1][a].update(fixed_dark[a])
                lit_preds[-1][a].update(fixed_lit[a])
        names = [n for n in schemes if n != "normal light"]
        quality = {n: {k: _mean([q[n][k] for q in quality_seeds]) for k in ("psnr", "ssim")} for n in names}
        for n in names:
            quality[n].update({f"{k}_sd": _sd([q[n][k] for q in quality_seeds]) for k in ("psnr", "ssim")})
        pr: dict = {
            "description": "LowLightSynth(), paper ranges, no noise" if not PROTOCOLS[protocol]
            else "LowLightSynth(noise=True, quantize=True): paper ranges + Poisson-Gaussian noise + 8 bits",
            "schemes": schemes,
            "quality": quality,
            "training": training,
            "classifiers": {},
        }
        for arch in args.archs:
            normal_pred = predict(classifier(arch), normal)
            acc_normal = accuracy(normal_pred, labels)
            acc_low = accuracy(dark_preds[0][arch]["none (low light)"], labels)
            rows = {"normal light": {
                "accuracy": acc_normal, "accuracy_sd": 0.0, "accuracy_seeds": [acc_normal] * len(args.seeds),
                "recovered_fraction": None, "recovered_fraction_sd": None, "well_lit_change": None,
                "per_class_accuracy": per_class_accuracy(normal_pred, labels, len(classes)).tolist(),
                "confusion_matrix": confusion_matrix(normal_pred, labels, len(classes)).tolist(),
            }}
            for name in names:
                accs = [accuracy(d[arch][name], labels) for d in dark_preds]
                lit = [accuracy(w[arch][name], labels) - acc_normal for w in lit_preds]
                # undefined when low light costs no accuracy (tiny quick runs)
                rec = None if acc_normal == acc_low else [recovered_fraction(a, acc_low, acc_normal) for a in accs]
                first = dark_preds[0][arch][name]
                rows[name] = {
                    "accuracy": _mean(accs), "accuracy_sd": _sd(accs), "accuracy_seeds": accs,
                    "recovered_fraction": None if rec is None else _mean(rec),
                    "recovered_fraction_sd": None if rec is None else _sd(rec),
                    "well_lit_change": _mean(lit), "well_lit_change_sd": _sd(lit),
                    # per class and confusion: the first seed
                    "per_class_accuracy": per_class_accuracy(first, labels, len(classes)).tolist(),
                    "confusion_matrix": confusion_matrix(first, labels, len(classes)).tolist(),
                }
            pr["classifiers"][arch] = {"methods": rows}
            own = "joint, guided by " + ARCHS[arch]
            shown = ["normal light", "none (low light)", "CLAHE", "IFER (reconstruction only)", own]
            plot_confusions(
                args.results / f"{args.name}_confusion_{protocol}_{arch}.png",
                f"{results['data']} val, {protocol} protocol, classifier {ARCHS[arch]} (row-normalised, seed "
                f"{args.seeds[0]})",
                {n: torch.tensor(rows[n]["confusion_matrix"]) for n in shown if n in rows},
                classes,
            )
        results["protocols"][protocol] = pr
    results["classifier_training"] = {}
    for arch in args.archs:
        record = folders[arch] / "training.json"
        info = json.loads(record.read_text()) if record.is_file() else {}
        results["classifier_training"][arch] = {k: info.get(k) for k in ("epochs", "val_accuracy", "command")}
    write_results(args.results / args.name, results, markdown(results))
    plot_schemes(args.results / f"{args.name}_schemes.png", results)
    print((args.results / f"{args.name}.md").read_text())
    return results


if __name__ == "__main__":
    main()
