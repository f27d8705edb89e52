"""A learned two-parameter exposure curve for faces, alone and in front of ``llenet-faces``.

The paper's darkening (Eq. 14) maps a grey level ``x`` to ``beta (alpha x)^gamma``:
a straight line in log space, ``log d = gamma log x + log(beta alpha^gamma)``. A
global gamma curve to a fixed mean grey level (the curve behind
``llenet-faces``) undoes one of its two degrees of freedom. This fits the
other one too: a small MLP reads the quantiles of a face's log grey levels and
predicts the slope and offset of the line back, ``y = exp(k log x + b)``, one
global, monotone curve per image (it cannot add or move detail). It is trained
to the well-lit face (L1) on FER2013 train pairs drawn like the enhancers' of
``fer_transfer.py`` (paper and realistic darkening, half each, a quarter of
the pairs well lit, target = input), and scored like ``fer_readers.py``: alone,
and followed by the network of ``llenet-faces`` (``--enhancer``; its weights
unchanged, a log curve it may have left out: the row named after it is that
network alone), on the val faces under
both darkenings and well lit, in front of classifiers it never saw.

Run:
    python benchmarks/fer_curve.py --seeds 0 1 2 --finetune-iterations 1500 \
        --classifier-dir resnet18 ~/.cache/llenhance/fer-resnet18_s1-20ep

``--finetune-iterations N`` also trains that network behind its fitted curve,
the curve frozen (the face recipe's reconstruction loss, exposure mix and
batch; Adam at ``--finetune-lr``, cosine; a data seed no stage of
``llenet-faces`` drew, ``seed + FINETUNE_SEED_OFFSET``), and scores it too: a
network that learns to denoise what this curve gives it, not what the gamma
curve it was trained behind gave it. ``--finetune-continue M`` trains it ``M`` steps more from there
(Adam at ``--finetune-continue-lr``, cosine; another data seed) and scores that too. ``--gate LOW HIGH``
also scores the last fine-tuned model behind ``LLENet``'s exposure gate (an image at a mean grey level of
``HIGH`` or more passes unchanged, one at ``LOW`` or less gets all of the change; saved as ``model-gated/``
beside its ``model/``).

Curves go to ``--output``/seed<S>/ (``curve.safetensors``, ``training.json``;
reused when present), with ``model/``: the enhancer with the curve built in
(``LLENet(log_curve=True)``, ``save_pretrained``), the network scored, and
``finetuned-<N>its/`` (``model/``, resumable ``checkpoints/``; ``finetuned-<N>its-normal<F>/`` with
``--finetune-normal-fraction F``, the share of well-lit pairs, when it is not ``--normal-fraction``;
``finetuned-<N>its+<M>its/`` for the continuation). Writes
``fer_curve.{json,md}`` under ``--results``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _paths import WORK  # noqa: E402

from _command import command_line, tilde  # noqa: E402
from _fer_data import add_data_arguments  # noqa: E402
from _fer_eval import add_classifier_dir_argument, classifier_dirs, frozen_classifier_from, load_faces  # noqa: E402
from _baselines import auto_gamma, identity  # noqa: E402
from fer_readers import GAMMA, evaluate, publish  # noqa: E402
from fer_transfer import ARCHS, CONTINUE_SEED_OFFSET, GAMMA_TARGET, train, training_pairs  # noqa: E402

from llenhance import LLENet  # noqa: E402
from llenhance.models import LogLinearCurve  # noqa: E402
from llenhance.pretrained import builtin_path  # noqa: E402
from llenhance._atomic import atomic_path  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fer_curve"
OUTPUT = WORK / "fer-curve"
#: Data seed offset of the fine-tuning (the face recipe's stages draw ``seed + k * CONTINUE_SEED_OFFSET``, k < 3).
FINETUNE_SEED_OFFSET = 3 * CONTINUE_SEED_OFFSET


def pairs_pool(faces: Dataset, seed: int, size: int, normal_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` dark/well-lit pairs drawn once from ``training_pairs`` (random items, seeded)."""
    data = training_pairs(faces, seed, normal_fraction)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:size].tolist()
    items = [data[i] for i in tqdm(order, desc=f"training pairs (seed {seed})", leave=False)]
    return torch.stack([low for low, *_ in items]), torch.stack([normal for _, normal, *_ in items])


def train_curve(out: Path, faces: Dataset, *, seed: int, iterations: int, pool: int, batch: int, lr: float,
                normal_fraction: float) -> tuple[LogLinearCurve, dict]:
    """Fit (or reuse) one curve under ``out`` (``curve.safetensors``, ``training.json``).

    Starts from the identity with the features standardised over the pool; Adam at ``lr``, cosine to zero.
    """
    weights, record_path = out / "curve.safetensors", out / "training.json"
    if weights.is_file() and record_path.is_file():
        curve = LogLinearCurve()
        curve.load_state_dict(load_file(weights))
        return curve.eval(), json.loads(record_path.read_text())
    started = time.time()
    torch.manual_seed(seed)
    curve = LogLinearCurve()
    low, normal = pairs_pool(faces, seed, pool, normal_fraction)
    with torch.no_grad():
        features = curve.features(low)
        curve.mean.copy_(features.mean(0))
        curve.std.copy_(features.std(0).clamp_min(1e-6))
    optimizer = torch.optim.Adam(curve.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, iterations)
    generator = torch.Generator().manual_seed(seed)
    progress = tqdm(range(iterations), desc=f"curve (seed {seed})", leave=False)
    for step in progress:
        index = torch.randint(0, len(low), (batch,), generator=generator)
        loss = (curve(low[index]) - normal[index]).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0:
            progress.set_postfix(l1=f"{loss.item():.4f}")
    with atomic_path(weights) as tmp:
        save_file({k: v.contiguous() for k, v in curve.state_dict().items()}, str(tmp))
    record = {"seed": seed, "iterations": iterations, "pool": pool, "batch": batch, "lr": lr,
              "normal_fraction": normal_fraction, "last_l1": loss.item(),
              "wall_seconds": round(time.time() - started, 1)}
    with atomic_path(record_path) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return curve.eval(), record


def network_record(enhancer: str) -> dict | None:
    """How the network was made: ``summary.json`` (built-ins) or ``training.json`` of its folder, if any."""
    folder = Path(enhancer).expanduser() if Path(enhancer).expanduser().is_dir() else builtin_path(enhancer)
    for name in ("summary.json", "training.json"):
        if folder is not None and (folder / name).is_file():
            return json.loads((folder / name).read_text())
    return None


def _rebuilt(enhancer: LLENet, state: dict[str, torch.Tensor], **settings: object) -> LLENet:
    """An LLENet of ``enhancer``'s config.json with ``settings`` in place of its own, holding ``state``."""
    model = LLENet(**{**enhancer._hub_mixin_config, **settings})
    model.load_state_dict(state)
    return model.eval()


def without_curve(enhancer: LLENet) -> LLENet:
    """``enhancer`` without its log curve, if it has one (its network and its other settings); else itself."""
    if enhancer.log_curve is None:
        return enhancer
    state = {k: v for k, v in enhancer.state_dict().items() if not k.startswith("log_curve.")}
    return _rebuilt(enhancer, state, log_curve=False)


def with_curve(enhancer: LLENet, curve: LogLinearCurve, out: Path, record: dict) -> LLENet:
    """``enhancer`` with ``curve`` built in (``LLENet(log_curve=True)``), saved to ``out``/model (rewritten), with
    ``training.json``: ``record`` (how the curve and the enhancer were made)."""
    state = {**enhancer.state_dict(), **{f"log_curve.{k}": v for k, v in curve.state_dict().items()}}
    merged = _rebuilt(enhancer, state, log_curve=True)
    merged.save_pretrained(out / "model")
    with atomic_path(out / "model" / "training.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return merged


def finetune_tag(iterations: int, normal_fraction: float, curve_normal_fraction: float) -> str:
    """Folder of a fine-tuning: ``finetuned-<N>its``, with ``-normal<F>`` when its well-lit share is not the
    curve's."""
    suffix = "" if normal_fraction == curve_normal_fraction else f"-normal{normal_fraction:g}"
    return f"finetuned-{iterations}its{suffix}"


def finetune(merged: Path, curve: LogLinearCurve, faces: Dataset, *, seed: int, iterations: int, lr: float,
             normal_fraction: float, tag: str, device: str, base: Path | None = None) -> LLENet:
    """Train the network of the saved enhancer ``merged`` (``model/``) behind its log curve ``curve``, frozen.

    Saved (resumably) under ``base / tag`` (``base``: ``merged.parent`` unless given); reused when finished.
    """
    model, _ = train((base or merged.parent) / tag, faces, seed=seed + FINETUNE_SEED_OFFSET,
                     iterations=iterations, curve_target=None, normal_fraction=normal_fraction, guides=[],
                     classifiers={}, lr=lr, init=merged, frozen="log_curve.", device=device)
    for key, value in curve.state_dict().items():
        if not torch.equal(model.log_curve.state_dict()[key].cpu(), value):
            raise RuntimeError(f"the frozen log curve changed in fine-tuning ({key}); {merged.parent} is stale")
    return model


def gated(model: LLENet, gate: tuple[float, float], folder: Path) -> LLENet:
    """``model`` behind the exposure gate ``gate`` (the same weights), saved as ``folder``/model-gated."""
    out = _rebuilt(model, model.state_dict(), exposure_gate=list(gate))
    out.save_pretrained(folder / "model-gated")
    record = folder / "model" / "training.json"
    if record.is_file():
        with atomic_path(folder / "model-gated" / "training.json") as tmp:
            tmp.write_text(json.dumps({**json.loads(record.read_text()), "exposure_gate": list(gate)}, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=3000, help="Adam steps of each curve")
    parser.add_argument("--pool", type=int, default=16000, help="training pairs drawn once per seed")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam, cosine to zero")
    parser.add_argument("--normal-fraction", type=float, default=0.25, help="share of the pairs left well lit")
    parser.add_argument("--enhancer", default="llenet-faces",
                        help="the network run after the curve (name or folder; a log curve it has is left out)")
    parser.add_argument("--finetune-iterations", type=int, default=0,
                        help="also train the network behind each frozen curve for N steps (0: no)")
    parser.add_argument("--finetune-lr", type=float, default=2.5e-4, help="Adam, cosine to zero")
    parser.add_argument("--finetune-normal-fraction", type=float, default=None,
                        help="share of the fine-tuning pairs left well lit (default: --normal-fraction)")
    parser.add_argument("--finetune-continue", type=int, default=0,
                        help="train each fine-tuned network M steps more from there (0: no)")
    parser.add_argument("--finetune-continue-lr", type=float, default=1.25e-4, help="Adam, cosine to zero")
    parser.add_argument("--gate", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="also score the last fine-tuned model behind this exposure gate")
    parser.add_argument("--last-only", action="store_true",
                        help="score only the last fine-tuned stage (and its gated model) beside no enhancement, "
                             "the global gamma curve and the network; the other rows are those of a run without it")
    parser.add_argument("--device", default="cpu", help="where the fine-tuning trains")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the curves are saved (seed<S>/)")
    parser.add_argument("--classifiers", type=Path, default=WORK,
                        help="folder holding fer-<arch>/ (train_fer_classifier.py outputs)")
    add_classifier_dir_argument(parser)
    parser.add_argument("--archs", nargs="+", choices=sorted(ARCHS), default=list(ARCHS))
    parser.add_argument("--results", type=Path, default=RESULTS, help="stem of the .json and .md written")
    parser.add_argument("--limit", type=int, default=None, help="use about N faces per split (quick runs)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    for name in ("iterations", "pool", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"`--{name}` expected a positive integer, got {getattr(args, name)}")
    if args.finetune_iterations < 0:
        parser.error(f"`--finetune-iterations` expected a non-negative integer, got {args.finetune_iterations}")
    for name in ("finetune_lr", "finetune_continue_lr"):
        if not getattr(args, name) > 0:
            parser.error(f"`--{name.replace('_', '-')}` expected a positive number, got {getattr(args, name)}")
    if args.finetune_continue < 0 or (args.finetune_continue and not args.finetune_iterations):
        parser.error(f"`--finetune-continue` expected a non-negative integer after `--finetune-iterations` above 0, "
                     f"got {args.finetune_continue} with `--finetune-iterations` {args.finetune_iterations}")
    if args.last_only and not args.finetune_iterations:
        parser.error("`--last-only` expected `--finetune-iterations` above 0")
    if args.gate is not None and (not args.finetune_iterations or not 0 < args.gate[0] < args.gate[1] < 1):
        parser.error(f"`--gate` expected 0 < LOW < HIGH < 1 and `--finetune-iterations` above 0, got {args.gate}")
    if args.finetune_normal_fraction is None:
        args.finetune_normal_fraction = args.normal_fraction
    for name in ("normal_fraction", "finetune_normal_fraction"):
        if not 0.0 <= getattr(args, name) < 1.0:
            parser.error(f"`--{name.replace('_', '-')}` expected a value in [0, 1), got {getattr(args, name)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    folders = classifier_dirs(parser, args, args.archs)
    try:
        enhancer = without_curve(LLENet.from_pretrained(args.enhancer).eval())
    except (FileNotFoundError, OSError, ValueError) as err:
        parser.error(f"`--enhancer` {args.enhancer}: {err}")
    classifiers = {a: frozen_classifier_from(a, folders[a]) for a in args.archs}
    train_faces = load_faces(args, "train")
    curves, records = {}, {}
    for seed in args.seeds:
        curves[seed], records[seed] = train_curve(
            args.output / f"seed{seed}", train_faces, seed=seed, iterations=args.iterations, pool=args.pool,
            batch=args.batch, lr=args.lr, normal_fraction=args.normal_fraction)
    name = tilde(args.enhancer)
    methods = {"none": identity, GAMMA: lambda x: auto_gamma(x, target=GAMMA_TARGET), name: enhancer}
    made = {"network": name, "network_record": network_record(args.enhancer),
            "command": command_line("fer_curve.py", argv)}
    for seed, curve in curves.items():
        methods[f"log-linear curve (seed {seed})"] = curve
        methods[f"log-linear curve (seed {seed}) + {name}"] = with_curve(
            enhancer, curve, args.output / f"seed{seed}", {"log_curve": records[seed], **made})
    if args.finetune_iterations:
        tag = finetune_tag(args.finetune_iterations, args.finetune_normal_fraction, args.normal_fraction)
        share = ("" if args.finetune_normal_fraction == args.normal_fraction
                 else f", {args.finetune_normal_fraction:g} well lit")
        last_rows: list[str] = []
        for seed, curve in curves.items():
            row = f"log-linear curve (seed {seed}) + {name}, fine-tuned {args.finetune_iterations} its"
            merged = args.output / f"seed{seed}" / "model"
            last_row, last_tag = row + share, tag
            last = methods[last_row] = finetune(
                merged, curve, train_faces, seed=seed, iterations=args.finetune_iterations, lr=args.finetune_lr,
                normal_fraction=args.finetune_normal_fraction, tag=tag, device=args.device)
            if args.finetune_continue:
                last_row = f"{row} + {args.finetune_continue} its{share}"
                last_tag = f"{tag}+{args.finetune_continue}its"
                last = methods[last_row] = finetune(
                    merged.parent / tag / "model", curve, train_faces, seed=seed + CONTINUE_SEED_OFFSET,
                    iterations=args.finetune_continue, lr=args.finetune_continue_lr,
                    normal_fraction=args.finetune_normal_fraction, tag=last_tag, device=args.device,
                    base=merged.parent)
            last_rows.append(last_row)
            if args.gate is not None:
                low, high = args.gate
                last_rows.append(f"{last_row}, gate {low:g}-{high:g}")
                methods[last_rows[-1]] = gated(last, (low, high), merged.parent / last_tag)
    if args.last_only:
        methods = {k: v for k, v in methods.items() if k in ("none", GAMMA, name, *last_rows)}
    curves_made = {str(seed): {"folder": tilde(str(args.output / f"seed{seed}")), **records[seed]}
                   for seed in args.seeds}
    return publish("fer_curve.py", argv, args, folders, evaluate(methods, classifiers, load_faces(args, "val")),
                   curves=curves_made)


if __name__ == "__main__":
    main()
