"""Training speed: FERGuidedTrainer beside a bare training loop, in one run on one device.

Two settings per LLENet size, as in the paper: reconstruction training on
80 random 48x48 crops per batch, and joint training on 32 images of 112x112
in front of a frozen torchvision ResNet-18 (random weights: speed does not
depend on them). The perceptual term is off (no VGG weights here), as in the
runs we ship.

For each case:

- **trainer**: ``FERGuidedTrainer.fit`` on in-memory items (its DataLoader
  collates every batch and copies it to the device);
- **bare loop**: the same model, the same loss module and Adam on one batch
  already on the device, nothing else (value checks off, as inside the
  trainer's step); ``trainer / bare`` is the trainer's overhead;
- **bare loop, value checks on**: the bare loop with the value checks a user
  gets when calling the public modules (one device-to-host transfer per
  checked call), which says what the checks cost;
- on CUDA, **host syncs per step** inside ``fit``, counted with
  ``torch.cuda.set_sync_debug_mode`` (``log_every`` larger than the run: the
  one log at the end is the only read).

Each timing runs ``--warmup`` untimed iterations first, and the first case
is run once untimed before anything is timed (a new process starts slow).
The three loops of a case take turns ``--repeats`` times and each figure is
the median of its repeats, so that a slow spell of the machine falls on all
three rather than on one of them (the ratios are what the benchmark is for).

Run:
    python benchmarks/train_speed.py [--device cpu|cuda|auto] [--threads 2] [--iterations 5] [--repeats 3] [--amp] [--compile]

Writes ``benchmarks/results/train_speed[_<device>][_amp][_compile].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import device_from_arg  # noqa: E402

from llenhance import FERGuidedTrainer, FrozenClassifier, llenet_b, llenet_s, value_checks  # noqa: E402
from llenhance.losses import JointLoss, ReconstructionLoss  # noqa: E402
from llenhance.evaluation import write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {"llenet_s": llenet_s, "llenet_b": llenet_b}
MODES = {"reconstruction": (80, 48), "joint": (32, 112)}


def _items(n: int, size: int, joint: bool) -> list[tuple]:
    g = torch.Generator().manual_seed(0)
    normal = torch.rand(n, 3, size, size, generator=g)
    low = 0.7 * normal**3
    return [(low[i], normal[i], i % 7) if joint else (low[i], normal[i]) for i in range(n)]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _trainer(factory: Callable[[], nn.Module], joint: bool, device: torch.device, args: argparse.Namespace,
             log_every: int) -> FERGuidedTrainer:
    torch.manual_seed(0)
    classifier = torchvision.models.resnet18(num_classes=7) if joint else None
    return FERGuidedTrainer(factory(), classifier, reconstruction=ReconstructionLoss(perceptual=0),
                            batch_size=MODES["joint" if joint else "reconstruction"][0], progress=False,
                            device=device, amp=args.amp, compile=args.compile, log_every=log_every,
                            channels_last=device.type == "cuda")


def trainer_speed(factory: Callable[[], nn.Module], joint: bool, device: torch.device,
                  args: argparse.Namespace, count_syncs: bool = True) -> tuple[float, float | None]:
    """(iterations per second of ``fit``, host syncs per step on CUDA when ``count_syncs``, else None)."""
    batch, size = MODES["joint" if joint else "reconstruction"]
    n = args.iterations + args.warmup
    data = _items(batch * n, size, joint)
    trainer = _trainer(factory, joint, device, args, log_every=10**9)
    trainer.fit(data, iterations=args.warmup)
    trainer = _trainer(factory, joint, device, args, log_every=10**9)
    _sync(device)
    start = time.perf_counter()
    trainer.fit(data, iterations=args.iterations)
    _sync(device)
    its = args.iterations / (time.perf_counter() - start)
    if device.type != "cuda" or not count_syncs:
        return its, None
    trainer = _trainer(factory, joint, device, args, log_every=10**9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            trainer.fit(data, iterations=args.iterations)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message) for w in caught)
    return its, syncs / args.iterations


def bare_speed(factory: Callable[[], nn.Module], joint: bool, device: torch.device, args: argparse.Namespace,
               checks: bool) -> float:
    """Iterations per second of model + loss + Adam on one batch already on the device."""
    batch, size = MODES["joint" if joint else "reconstruction"]
    torch.manual_seed(0)
    model = factory().to(device).train()
    loss = JointLoss(ReconstructionLoss(perceptual=0), **({} if joint else {"ferp": 0, "cls": 0, "label": 0}))
    classifier = FrozenClassifier(torchvision.models.resnet18(num_classes=7)).to(device) if joint else None
    items = _items(batch, size, False)
    low = torch.stack([x for x, _ in items]).to(device)
    normal = torch.stack([y for _, y in items]).to(device)
    labels = torch.arange(batch, device=device) % 7
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            out = model(low)
        out = out.float()
        outputs: dict = {"labels": labels}
        if classifier is not None:
            outputs["logits"], outputs["enhanced_features"] = classifier.forward_features(out)
            with torch.no_grad():
                outputs["normal_logits"], outputs["normal_features"] = classifier.forward_features(normal)
        total = loss.terms(out, normal, **outputs)["total"]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    with value_checks(checks):
        for _ in range(args.warmup):
            step()
        _sync(device)
        start = time.perf_counter()
        for _ in range(args.iterations):
            step()
        _sync(device)
    return args.iterations / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (CUDA when present)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3,
                        help="the trainer and the two bare loops take turns this many times; medians are reported")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=list(MODES))
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the enhancer and the loss")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for name in ("iterations", "warmup", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"`--{name}` expected a positive integer, got {getattr(args, name)}")
    device = device_from_arg(parser, args.device)
    if args.amp and device.type != "cuda":
        parser.error(f"--amp: bfloat16 autocast needs a CUDA device, got --device {args.device}")
    torch.set_num_threads(args.threads)
    # The first seconds of a process run slower on this machine (allocator and kernel caches filling):
    # one untimed pass of the first case, so that every timed case starts warm.
    trainer_speed(MODELS[args.models[0]], args.modes[0] == "joint", device, args)
    rows = []
    for name in args.models:
        for mode in args.modes:
            joint = mode == "joint"
            runs: dict[str, list[float]] = {"trainer": [], "bare": [], "bare_checked": []}
            syncs = None
            for repeat in range(args.repeats):
                its, counted = trainer_speed(MODELS[name], joint, device, args, count_syncs=repeat == 0)
                syncs = counted if repeat == 0 else syncs
                runs["trainer"].append(its)
                runs["bare"].append(bare_speed(MODELS[name], joint, device, args, checks=False))
                runs["bare_checked"].append(bare_speed(MODELS[name], joint, device, args, checks=True))
            its, bare, bare_checked = (statistics.median(runs[k]) for k in ("trainer", "bare", "bare_checked"))
            batch, size = MODES[mode]
            row = {
                "model": name,
                "mode": f"{mode}, {batch} x {size}x{size}" + (", ResNet-18" if joint else ""),
                "trainer_its": its,
                "bare_its": bare,
                "bare_checked_its": bare_checked,
                "overhead": bare / its,
                "checks_cost": bare / bare_checked,
                "syncs_per_step": syncs,
                "repeats_its": runs,
            }
            rows.append(row)
            print(row, flush=True)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU"
    options = "".join(f" --{k}" for k in ("amp", "compile") if getattr(args, k))
    options += "".join(f" --{k} {' '.join(getattr(args, k))}" for k, every in (("models", MODELS), ("modes", MODES))
                       if getattr(args, k) != list(every))
    meta = {
        "command": f"python benchmarks/train_speed.py --device {args.device} --threads {args.threads} "
                   f"--iterations {args.iterations} --warmup {args.warmup} --repeats {args.repeats}{options}",
        "torch": torch.__version__,
        "device": where,
        "threads": args.threads,
    }
    stem = "train_speed" + ("" if device.type == "cpu" else f"_{device.type}")
    stem += "".join(f"_{k}" for k in ("amp", "compile") if getattr(args, k))
    args.results.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Training speed ({where})",
        "",
        f"`{meta['command']}` — torch {meta['torch']}, {args.threads} CPU threads; perceptual term off. "
        f"it/s: optimiser steps per second, median of {args.repeats} turns. *trainer*: `FERGuidedTrainer.fit` on in-memory items; *bare*: model, "
        "loss and Adam on one batch already on the device; *overhead* = bare / trainer; *checks cost* = bare "
        "with value checks off / on.",
        "",
        "| model | setting | trainer it/s | bare it/s | overhead | bare, checks on, it/s | checks cost |"
        + (" host syncs / step |" if device.type == "cuda" else ""),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if device.type == "cuda" else ""),
    ]
    for r in rows:
        line = (f"| {r['model']} | {r['mode']} | {r['trainer_its']:.3f} | {r['bare_its']:.3f} | "
                f"{r['overhead']:.2f}x | {r['bare_checked_its']:.3f} | {r['checks_cost']:.2f}x |")
        if device.type == "cuda":
            line += f" {r['syncs_per_step']:.2f} |"
        lines.append(line)
    write_results(args.results / stem, {"meta": meta, "rows": rows}, "\n".join(lines))
    print("\n".join(lines))
    return {"meta": meta, "rows": rows}


if __name__ == "__main__":
    main()
