"""FER in the dark for classifiers the enhancer never saw (leave one architecture out).

An enhancer sold as "put it in front of your FER model" must help a model it
was not trained with. Every FER2013 classifier of ``train_fer_classifier.py``
(three architectures) is held out in turn: the FER-guided enhancers are
trained with the *other* architectures as guides (``FrozenEnsemble``) and
read by the held-out one. Each is compared, on the same dark faces of
``fer2013/val``, with no enhancement, a global gamma curve, CLAHE, Zero-DCE,
SCI and the reconstruction-only enhancers, under both darkening protocols,
and on the *well-lit* val faces (a plug-in sees those too).

Enhancers (``llenet_s``, trained on ``fer2013/train``, seeds ``--seeds``):

- ``IFER``: the paper's network, reconstruction loss only, dark pairs only;
- ``curve + LLENet, reconstruction``: ``llenet_s(curve_target=...)``, a
  per-image exposure curve with a learned correction on top, trained on a mix
  of exposures (``--normal-fraction`` of the pairs well lit, target = input);
- ``curve + LLENet, FER-guided``: the same with the joint loss (L_rec +
  L_ferp + L_cls + L_label), guided by every architecture but the held-out one;
- ``curve + LLENet, reconstruction only, --long-iterations``: the
  reconstruction-only curve enhancer on a longer schedule and, by default, at
  full resolution (``--long-stem-stride 1``: no 2x2 pixel folding, so the
  network sees single pixels, which denoising needs): the ``llenet-faces``
  recipe before this one. No classifier guides it, so every classifier is a
  held-out one;
- ``... + --long-continue``: that enhancer trained ``--long-continue`` more
  iterations from its own weights (Adam at ``--continue-lr``, cosine, the same
  exposure mix drawn with another data seed, ``seed + CONTINUE_SEED_OFFSET``):
  the ``llenet-faces`` recipe. Several values (``--long-continue 3000 2000``)
  make several stages, each from the weights of the one before, each with its
  own row, learning rate (``--continue-lr``, one per stage or one for all) and
  data seed (``seed + k * CONTINUE_SEED_OFFSET`` for stage ``k``).

Training pairs mix both protocols (half of them with sensor noise and 8-bit
quantisation), so one enhancer serves both; the test faces are darkened with
a fixed seed per protocol, as in ``fer_experiments.py``.

Reported per held-out classifier: accuracy on the dark faces of each protocol,
recovered fraction ``(acc - acc_low) / (acc_normal - acc_low)``, and the
accuracy change on the well-lit faces, mean ± sd over the seeds; then the mean
over the held-out classifiers.

Run (after the three classifiers exist):
    python benchmarks/fer_transfer.py

Writes ``fer_transfer.{json,md,png}`` under ``--results``; trained enhancers (with
resumable checkpoints) under ``--work``. ``--device cuda`` trains and evaluates on
a GPU; ``bash benchmarks/fer_transfer_gpu.sh`` runs the classifiers, every
enhancer and both published tables as parallel processes on one GPU. A
checkpoint written on one device resumes on another. A run folder is reused
or resumed only for the recipe it was made with (seed, iterations, learning
rate, well-lit share, frozen prefix, guides, starting weights); otherwise the
script stops and names what differs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, Dataset
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _paths import WORK  # noqa: E402

from _fer_data import FER2013, add_data_arguments  # noqa: E402
from _baselines import WEIGHTS, clahe, identity, load_sci, load_zero_dce  # noqa: E402
from llenhance.baselines import global_gamma  # noqa: E402
from _command import command_line, tilde  # noqa: E402
from _fer_eval import (  # noqa: E402
    ARCHS,
    CONDITIONS,
    GAMMA_TARGET,
    PROTOCOLS,
    add_classifier_dir_argument,
    apply,
    claim_run,
    classifier_dirs,
    dark_test_set,
    frozen_classifier_from,
    load_faces,
    predict,
    score,
    weights_digest,
)

from llenhance import Enhancer, FERGuidedTrainer, FrozenEnsemble, LLENet, LowLightSynth, llenet_s  # noqa: E402
from llenhance.data import SyntheticLowLight  # noqa: E402
from llenhance.evaluation import write_results  # noqa: E402
from llenhance.losses import ReconstructionLoss  # noqa: E402
from llenhance.models import exposure_curve  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: Iterations and stem stride of the long reconstruction-only curve enhancer (the ``llenet-faces`` recipe).
LONG_ITERATIONS = 3000
LONG_STEM_STRIDE = 1
#: Further stages of the ``llenet-faces`` recipe: iterations and learning rate of each, and the offset of their seeds
#: (stage k draws ``(seed + k * 10) * 10 + protocol``, a data stream no first-stage seed draws: those use
#: ``seed * 10 + protocol``).
CONTINUE_ITERATIONS = (3000,)
CONTINUE_LR = (2.5e-4,)
CONTINUE_SEED_OFFSET = 10


def training_pairs(faces: Dataset, seed: int, normal_fraction: float) -> Dataset:
    """Dark/normal training pairs: half paper darkening, half realistic (noise, 8 bits), with flips."""
    return ConcatDataset([
        SyntheticLowLight(faces, LowLightSynth(**PROTOCOLS[p]), flip=True, seed=seed * 10 + i,
                          normal_fraction=normal_fraction)
        for i, p in enumerate(PROTOCOLS)
    ])


def train(
    out: Path,
    faces: Dataset,
    *,
    seed: int,
    iterations: int,
    stem_stride: int | None = None,
    curve_target: float | None,
    normal_fraction: float,
    guides: list[str],
    classifiers: dict[str, Path],
    lr: float,
    init: Path | None = None,
    frozen: str | None = None,
    device: str = "cpu",
) -> tuple[LLENet, dict]:
    """Train (or reuse, or resume) one enhancer under ``out``; ``classifiers``: the folder of each architecture.

    ``init``: a saved enhancer (a ``model`` folder) to start from instead of a fresh ``llenet_s`` (``stem_stride``
    and ``curve_target`` then come from it). ``frozen``: parameters whose names start with it keep their values
    (``requires_grad`` off; e.g. ``"encoder."``). ``device``: where to train (the enhancer comes back on the CPU; a
    checkpoint written on one device resumes on another).
    """
    model_dir = out / "model"
    record_path = model_dir / "training.json"
    init_digest = weights_digest(init) if init is not None else None
    claim_run(out, {"seed": seed, "iterations": iterations, "lr": lr, "normal_fraction": normal_fraction,
                    "frozen": frozen, "stem_stride": stem_stride, "curve_target": curve_target,
                    "guides": {a: weights_digest(classifiers[a]) for a in guides}, "init": init_digest})
    if (model_dir / "model.safetensors").is_file() and record_path.is_file():
        return Enhancer.from_pretrained(model_dir).eval(), json.loads(record_path.read_text())
    torch.manual_seed(seed)
    if init is not None:
        enhancer = Enhancer.from_pretrained(init)
    else:  # stem_stride None: llenet_s's own (the 2x2 fold)
        enhancer = llenet_s(curve_target=curve_target, **({} if stem_stride is None else {"stem_stride": stem_stride}))
    if frozen is not None:
        for name, parameter in enhancer.named_parameters():
            if name.startswith(frozen):
                parameter.requires_grad_(False)
    guide = FrozenEnsemble([frozen_classifier_from(a, classifiers[a]) for a in guides]) if guides else None
    trainer = FERGuidedTrainer(
        enhancer,
        guide,
        # no VGG-16 ImageNet weights here; grayscale faces: no hue (see fer_experiments.py)
        reconstruction=ReconstructionLoss(perceptual=0, color=0),
        lr=lr,
        batch_size=32,
        schedule="cosine",
        seed=seed,
        checkpoint_dir=out / "checkpoints",
        checkpoint_every=100,
        device=device,
    )
    started = time.time()
    last = trainer.fit(training_pairs(faces, seed, normal_fraction), iterations=iterations, resume=True)
    enhancer.to("cpu").save_pretrained(model_dir)
    record = {"config": trainer.config, "iterations": iterations, "guides": guides, "seed": seed,
              "normal_fraction": normal_fraction, "curve_target": enhancer.curve_target, "last": last,
              "wall_seconds_last_session": round(time.time() - started, 1), "device_last_session": device}
    if init is not None:
        record["init"] = {"folder": tilde(str(init)), "weights": init_digest}
    if frozen is not None:
        record["frozen"] = frozen
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return enhancer.eval(), record


def long_tag(args: argparse.Namespace) -> str:
    """Run name of the long reconstruction-only curve enhancer (stem stride and schedule are in the name)."""
    return f"curve-rec-s{args.long_stem_stride}-{args.long_iterations}its"


def stage_tag(args: argparse.Namespace, stage: int) -> str:
    """Run name of the long enhancer after ``stage`` continuation stages (0: the long run itself)."""
    return long_tag(args) + "".join(f"+{n}its" for n in args.long_continue[:stage])


def train_run(args: argparse.Namespace, faces: Dataset, tag: str, seed: int, curve: bool, guides: list[str]) -> LLENet:
    """Run ``tag`` of the experiment for ``seed``: the curve enhancers get the exposure mix."""
    stages = [stage_tag(args, k) for k in range(1, len(args.long_continue) + 1)]
    if tag in stages:
        stage = stages.index(tag) + 1
        before = stage_tag(args, stage - 1)
        train_run(args, faces, before, seed, True, [])  # the stage before (reused when it exists)
        print(f"training {tag}, seed {seed}", flush=True)
        model, _ = train(args.work / f"{tag}-seed{seed}", faces, seed=seed + stage * CONTINUE_SEED_OFFSET,
                         iterations=args.long_continue[stage - 1], curve_target=args.curve_target,
                         normal_fraction=args.normal_fraction, guides=[], classifiers=args.classifier_dirs,
                         lr=args.continue_lr[stage - 1], init=args.work / f"{before}-seed{seed}" / "model",
                         device=args.device)
        return model
    print(f"training {tag}, seed {seed}", flush=True)
    long = tag == long_tag(args)
    model, _ = train(args.work / f"{tag}-seed{seed}", faces, seed=seed,
                     iterations=args.long_iterations if long else args.iterations,
                     stem_stride=args.long_stem_stride if long else None,
                     curve_target=args.curve_target if curve else None,
                     normal_fraction=args.normal_fraction if curve else 0.0, guides=guides,
                     classifiers=args.classifier_dirs, lr=args.lr, device=args.device)
    return model


def fixed_methods() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "none": identity,
        f"global gamma (mean grey -> {GAMMA_TARGET})": lambda x: global_gamma(x, target=GAMMA_TARGET),
        f"exposure curve alone (brighten only, -> {GAMMA_TARGET})": lambda x: exposure_curve(x, GAMMA_TARGET),
        "CLAHE": clahe,
    }
    if (WEIGHTS / "zero-dce" / "Epoch99.pth").is_file():
        methods["Zero-DCE"] = load_zero_dce()
    if (WEIGHTS / "sci" / "medium.pt").is_file():
        methods["SCI (medium)"] = load_sci("medium")
    return methods


def summarise(rows: list[dict]) -> dict:
    """mean and sd (over seeds) of every number in ``rows``."""
    out = {}
    for key in rows[0]:
        values = [r[key] for r in rows if r[key] is not None]
        if values:
            out[key] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                        "n": len(values)}
    return out


def _cell(stat: dict | None, scale: float = 100.0, digits: int = 2) -> str:
    if not stat:
        return "–"
    mean, sd = stat["mean"] * scale, stat["sd"] * scale
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if stat["n"] > 1 else f"{mean:.{digits}f}"


def _rate(lr: float) -> str:
    """A learning rate as people write it: 0.0005 -> ``5e-4``, 0.00025 -> ``2.5e-4``."""
    mantissa, exponent = f"{lr:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def markdown(results: dict) -> str:
    long = (f" (the stem-stride-{results['long_stem_stride']} rows: {results['long_iterations']}"
            if results.get("long_iterations") else "")
    stages, rates = results.get("long_continue") or [], results.get("continue_lr") or []
    if long and len(stages) == 1:
        long += (f"; the last row: {stages[0]} more from those weights, Adam "
                 f"{_rate(rates[0])} (cosine), another data seed")
    elif long and stages:
        long += (f"; the last {len(stages)} rows: {', then '.join(map(str, stages))} more, each from the weights "
                 f"of the row above, Adam {', '.join(map(_rate, rates))} (cosine), another data seed each")
    long += ")" if long else ""
    guided = any("FER-guided" in name for name in results["mean_over_held_out"])
    guide_note = ("FER-guided ones with every architecture but the held-out one as guides" if guided else
                  "no FER-guided enhancers in this run (`--skip-guided`): no classifier guided any enhancer here")
    lines = [
        f"# FER in the dark for classifiers the enhancer never saw ({results['data']} val)",
        "",
        f"Command: `{results['command']}`. {results['val_images']} val faces; dark faces made with a fixed seed "
        "per protocol (`paper`: LowLightSynth(), Eq. 14; `realistic`: + Poisson-Gaussian noise, 8 bits); "
        "`well-lit`: the val faces as they are. Enhancers: `llenet_s`, trained on "
        f"{results['train_images']} train faces, {results['iterations']} iterations{long}, batch 32, Adam "
        f"{_rate(results['lr'])} (cosine), seeds {results['seeds']}; {guide_note}. "
        "Accuracy in %, mean ± sd over the seeds; recovered = (acc - acc_low) / "
        "(acc_normal - acc_low); well-lit change = accuracy on the well-lit faces through the enhancer minus "
        "without it (points).",
        "",
        "Classifiers (normal light, frozen):",
        "",
        "| classifier | val accuracy | training command |",
        "| --- | ---: | --- |",
    ]
    for arch, info in results["classifiers"].items():
        lines.append(f"| {ARCHS[arch]} | {100 * info['val_accuracy']:.2f} | `{info['command']}` |")
    header = ("| enhancer | acc paper | recovered paper | acc realistic | recovered realistic | "
              "acc well-lit | well-lit change |")
    rule = "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"

    def row(name: str, s: dict) -> str:
        return (f"| {name} | {_cell(s.get('acc_paper'))} | {_cell(s.get('recovered_paper'), 1, 3)} | "
                f"{_cell(s.get('acc_realistic'))} | {_cell(s.get('recovered_realistic'), 1, 3)} | "
                f"{_cell(s.get('acc_normal'))} | {_cell(s.get('normal_change'))} |")

    lines += ["", "## Mean over the held-out classifiers", "", header, rule]
    lines += [row(name, s) for name, s in results["mean_over_held_out"].items()]
    for arch, methods in results["held_out"].items():
        guides = ", ".join(ARCHS[a] for a in ARCHS if a != arch and a in results["classifiers"])
        title = f"Held out: {ARCHS[arch]} (FER-guided enhancers guided by {guides})" if guided else ARCHS[arch]
        lines += ["", f"## {title}", "", header, rule]
        lines += [row(name, s) for name, s in methods.items()]
    return tilde("\n".join(lines))


def plot(path: Path, results: dict) -> None:
    """Mean over held-out classifiers: recovered fraction per protocol and the change on well-lit faces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["mean_over_held_out"]
    names = [n for n in rows if n != "none"]
    panels = [("recovered_paper", "recovered fraction, paper darkening", 1.0),
              ("recovered_realistic", "recovered fraction, realistic darkening", 1.0),
              ("normal_change", "accuracy change on well-lit faces (points)", 100.0)]
    # one panel under the other: the page column is narrow, the method names are long
    fig, axes = plt.subplots(3, 1, figsize=(9, 3 * (0.34 * len(names) + 1.0)), sharey=True,
                             constrained_layout=True)
    for ax, (key, title, scale) in zip(axes, panels):
        means = [rows[n][key]["mean"] * scale if key in rows[n] else 0.0 for n in names]
        sds = [rows[n][key]["sd"] * scale if key in rows[n] else 0.0 for n in names]
        ax.barh(range(len(names)), means, xerr=sds, color="tab:blue", ecolor="black", capsize=2)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(names)), names, fontsize=10)
        ax.set_title(title, fontsize=11)
        ax.tick_params(axis="x", labelsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()
    fig.suptitle(f"{results['data']} val, mean over held-out classifiers (error bars: sd over seeds)", fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--classifiers", type=Path, default=WORK,
                        help="folder holding fer-<arch>/ (train_fer_classifier.py outputs)")
    add_classifier_dir_argument(parser)
    parser.add_argument("--archs", nargs="+", choices=sorted(ARCHS), default=list(ARCHS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--long-iterations", type=int, default=LONG_ITERATIONS,
                        help="schedule of the long reconstruction-only curve enhancer (the llenet-faces recipe); "
                             "0 leaves that row out")
    parser.add_argument("--long-stem-stride", type=int, choices=(1, 2), default=LONG_STEM_STRIDE,
                        help="stem stride of that enhancer: 1 = full resolution, 2 = llenet_s's 2x2 pixel folding")
    parser.add_argument("--long-continue", type=int, nargs="+", default=list(CONTINUE_ITERATIONS),
                        help="train the long enhancer this many more iterations from its weights (a second stage, "
                             "its own row and folder: the llenet-faces recipe); several values: several stages, "
                             "each from the one before; 0 leaves these rows out")
    parser.add_argument("--continue-lr", type=float, nargs="+", default=list(CONTINUE_LR),
                        help="peak learning rate of each of those stages (cosine schedule); one value: every stage")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--curve-target", type=float, default=GAMMA_TARGET)
    parser.add_argument("--normal-fraction", type=float, default=0.25,
                        help="share of well-lit training pairs (input = target) for the curve enhancers")
    parser.add_argument("--skip-guided", action="store_true", help="reconstruction-only enhancers and baselines only")
    parser.add_argument("--train-only", nargs="+", metavar="RUN", default=None,
                        help="only train these runs (ifer, curve-rec, guided-without-<arch>, guided-by-all) for every "
                             "seed, then "
                             "stop: lets several processes train in parallel before one evaluates")
    parser.add_argument("--work", type=Path, default=WORK / "fer-transfer")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--limit", type=int, default=None, help="use about N train and N val faces (quick runs)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu",
                        help="where to train the enhancers and run every method and classifier (cpu, cuda); "
                             "the dark test faces are made on the CPU either way")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.long_iterations < 0:
        parser.error(f"`--long-iterations` expected 0 (no long run) or more, got {args.long_iterations}")
    if args.long_continue == [0]:
        args.long_continue = []
    if any(n <= 0 for n in args.long_continue) or (args.long_continue and not args.long_iterations):
        parser.error(f"`--long-continue` expected 0 (no further stage) or positive iteration counts, with "
                     f"`--long-iterations` above 0; got {args.long_continue} with `--long-iterations` "
                     f"{args.long_iterations}")
    if not all(lr > 0 for lr in args.continue_lr):
        parser.error(f"`--continue-lr` expected positive learning rates, got {args.continue_lr}")
    if len(args.continue_lr) == 1:
        args.continue_lr = args.continue_lr * max(1, len(args.long_continue))
    elif len(args.continue_lr) != len(args.long_continue):
        parser.error(f"`--continue-lr` expected one learning rate or one per `--long-continue` stage "
                     f"({len(args.long_continue)}), got {len(args.continue_lr)}")
    args.classifier_dirs = classifier_dirs(parser, args, ARCHS)
    if len(args.archs) < 2:
        parser.error("`--archs` expected at least two architectures (one held out, one or more as guides)")
    args.results.mkdir(parents=True, exist_ok=True)
    train_faces = load_faces(args, "train")
    if args.train_only is not None:
        runs = {"ifer": (False, []), "curve-rec": (True, [])}
        if args.long_iterations:
            runs[long_tag(args)] = (True, [])
        runs.update({stage_tag(args, k): (True, []) for k in range(1, len(args.long_continue) + 1)})
        runs.update({f"guided-without-{a}": (True, [g for g in args.archs if g != a]) for a in args.archs})
        runs["guided-by-all"] = (True, list(args.archs))  # every architecture as a guide (none left to test on)
        unknown = [r for r in args.train_only if r not in runs]
        if unknown:
            parser.error(f"`--train-only` expected runs among {sorted(runs)}, got {unknown}")
        for tag in args.train_only:
            curve, guides = runs[tag]
            for seed in args.seeds:
                train_run(args, train_faces, tag, seed, curve, guides)
        return {}
    val_faces = load_faces(args, "val")
    device = torch.device(args.device)
    classifiers = {a: frozen_classifier_from(a, args.classifier_dirs[a]).to(device) for a in args.archs}
    images: dict[str, torch.Tensor] = {}
    for p in PROTOCOLS:
        images[p], images["normal"], labels = dark_test_set(val_faces, p)

    def predictions(method: Callable[[torch.Tensor], torch.Tensor], archs: list[str]) -> dict[str, dict]:
        if isinstance(method, torch.nn.Module):
            method.to(device)
        enhanced = {c: apply(method, images[c], device=device) for c in CONDITIONS}
        return {a: {c: predict(classifiers[a], enhanced[c], device=device) for c in CONDITIONS} for a in archs}

    def fit(tag: str, seed: int, curve: bool, guides: list[str]) -> LLENet:
        return train_run(args, train_faces, tag, seed, curve, guides)

    # raw[method][arch] -> list (over seeds) of score rows
    raw: dict[str, dict[str, list[dict]]] = {}
    reference = predictions(identity, args.archs)
    for name, method in tqdm(fixed_methods().items(), desc="baselines", leave=False):
        preds = predictions(method, args.archs)
        raw[name] = {a: [score(preds[a], labels, reference[a])] for a in args.archs}

    def unguided(name: str, tag: str, curve: bool) -> None:
        """A row of enhancers that no classifier guided: every classifier is a held-out one."""
        raw[name] = {a: [] for a in args.archs}
        for seed in args.seeds:
            preds = predictions(fit(tag, seed, curve, []), args.archs)
            for a in args.archs:
                raw[name][a].append(score(preds[a], labels, reference[a]))

    unguided("IFER (paper network, reconstruction only)", "ifer", False)
    unguided("curve + LLENet, reconstruction only", "curve-rec", True)
    if not args.skip_guided:
        name = "curve + LLENet, FER-guided by the other architectures"
        raw[name] = {a: [] for a in args.archs}
        for held_out in args.archs:
            guides = [a for a in args.archs if a != held_out]
            for seed in args.seeds:
                model = fit("guided-without-" + held_out, seed, True, guides)
                raw[name][held_out].append(score(predictions(model, [held_out])[held_out], labels, reference[held_out]))
    if args.long_iterations:
        unguided(f"curve + LLENet (stem stride {args.long_stem_stride}), reconstruction only, "
                 f"{args.long_iterations} iterations", long_tag(args), True)
    for k in range(1, len(args.long_continue) + 1):  # the last one: the llenet-faces recipe
        schedule = " + ".join(map(str, [args.long_iterations, *args.long_continue[:k]]))
        unguided(f"curve + LLENet (stem stride {args.long_stem_stride}), reconstruction only, "
                 f"{schedule} iterations", stage_tag(args, k), True)

    held_out = {a: {name: summarise(per_arch[a]) for name, per_arch in raw.items()} for a in args.archs}
    # mean over held-out classifiers of the per-classifier means (sd: over seeds of the per-seed means)
    mean_over: dict[str, dict] = {}
    for name, per_arch in raw.items():
        seeds = min(len(per_arch[a]) for a in args.archs)
        per_seed = [{k: statistics.fmean(per_arch[a][s][k] for a in args.archs)
                     if all(per_arch[a][s][k] is not None for a in args.archs) else None
                     for k in per_arch[args.archs[0]][0]} for s in range(seeds)]
        mean_over[name] = summarise(per_seed)
    results = {
        "command": command_line("fer_transfer.py", argv),
        "data": "FER2013" if args.data == FER2013 else f"{args.dataset} data set",
        "val_images": len(labels),
        "train_images": len(train_faces),
        "iterations": args.iterations,
        "long_iterations": args.long_iterations,
        "long_stem_stride": args.long_stem_stride,
        "long_continue": args.long_continue,
        "continue_lr": args.continue_lr,
        "lr": args.lr,
        "seeds": args.seeds,
        "curve_target": args.curve_target,
        "normal_fraction": args.normal_fraction,
        "classifiers": {a: {k: json.loads((args.classifier_dirs[a] / "training.json").read_text()).get(k)
                            for k in ("val_accuracy", "command")} for a in args.archs},
        "mean_over_held_out": mean_over,
        "held_out": held_out,
        "raw": raw,
    }
    write_results(args.results / "fer_transfer", results, markdown(results))
    plot(args.results / "fer_transfer.png", results)
    print((args.results / "fer_transfer.md").read_text())
    return results


if __name__ == "__main__":
    main()
