"""Choose ``output_target`` on SICE train: the mean grey level a network's output is brought to.

A trained network gets most of each image right but not its brightness: on
SICE the references' mean grey level (BT.601 luma) is nearly the same from
scene to scene, while a network's output is too dark for the darkest inputs
and too bright for the others. ``LLENet(output_target=T)`` ends with
`llenhance.models.llenet.match_exposure`, a per-image gamma that brings the
output's mean grey level to about ``T``. This script runs the network once per
pair of ``sice/train`` and ``sice/val``, applies each candidate ``T`` exactly as
``LLENet.finish`` does (then the exposure gate, if the weights have one), and
scores PSNR and SSIM against the reference. ``T`` is chosen on *train* (highest
mean PSNR); val is reported beside it, not used for the choice.

Run:
    python benchmarks/output_target.py [--weights llenet-photo] [--targets 0.36 0.38 ...]

Writes ``benchmarks/results/output_target.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _command import command_line  # noqa: E402
from _paths import DATA  # noqa: E402

from llenhance import LLENet  # noqa: E402
from llenhance.data import PairedImageFolder  # noqa: E402
from llenhance.evaluation import markdown_table, write_results  # noqa: E402
from llenhance.metrics import psnr, ssim  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = (0.36, 0.38, 0.40, 0.41, 0.42, 0.44, 0.46)


@torch.no_grad()
def score(model: LLENet, pairs: PairedImageFolder, targets: list[float | None], label: str,
          limit: int | None = None) -> dict[float | None, dict[str, float]]:
    """Mean PSNR and SSIM over ``pairs`` of ``model`` with each ``output_target`` in ``targets``."""
    rows: dict[float | None, list[tuple[float, float]]] = {t: [] for t in targets}
    count = len(pairs) if limit is None else min(limit, len(pairs))
    for i in tqdm(range(count), desc=label, leave=False):
        low, high = (t[None] for t in pairs[i][:2])
        raw = model.enhance_curved(low, apply_curve=True)  # the network once; the targets after it
        for target in targets:
            model.output_target = target
            out = model.finish(low, raw)
            rows[target].append((float(psnr(out, high)), float(ssim(out, high))))
    return {t: {"psnr": statistics.fmean(r[0] for r in v), "ssim": statistics.fmean(r[1] for r in v)}
            for t, v in rows.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="llenet-photo", help="LLENet weights (name or folder)")
    parser.add_argument("--targets", nargs="+", type=float, default=list(TARGETS),
                        help="candidate mean grey levels of the output")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N pairs of each split")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    bad = [v for v in args.targets if not 0 < v < 1]
    if bad:
        parser.error(f"`--targets` expected mean grey levels in (0, 1), got {bad}")
    torch.set_num_threads(args.threads)
    model = LLENet.from_pretrained(args.weights, output_target=None).eval()
    targets: list[float | None] = [None, *args.targets]
    splits = {split: score(model, PairedImageFolder(DATA / "sice" / split), targets, split, args.limit)
              for split in ("train", "val")}
    chosen = max(args.targets, key=lambda t: splits["train"][t]["psnr"])

    command = command_line("output_target.py", argv)
    table = markdown_table(
        ["output target", "train PSNR (dB) ↑", "train SSIM ↑", "val PSNR (dB) ↑", "val SSIM ↑"],
        [("none (the network's own)" if t is None else f"{t:.2f}" + (" (chosen)" if t == chosen else ""),
          f"{splits['train'][t]['psnr']:.2f}", f"{splits['train'][t]['ssim']:.4f}",
          f"{splits['val'][t]['psnr']:.2f}", f"{splits['val'][t]['ssim']:.4f}") for t in targets],
    )
    markdown = (
        "# Output exposure target\n\n"
        f"`{command}`. Weights `{args.weights}` with `output_target` set to each level (`none`: as trained); "
        "SICE `train` and `val` pairs, mean PSNR and SSIM against the reference. The target is chosen on "
        "train (highest PSNR); val is not used for the choice.\n\n" + table
    )
    rows = [{"target": t, **{f"{s}_{k}": v for s in splits for k, v in splits[s][t].items()}} for t in targets]
    meta = {"command": command, "weights": args.weights, "chosen": chosen}
    args.results.mkdir(parents=True, exist_ok=True)
    write_results(args.results / "output_target", {"meta": meta, "rows": rows}, markdown)
    print(markdown)
    return {"meta": meta, "rows": rows}


if __name__ == "__main__":
    main()
