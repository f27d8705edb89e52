"""Choose ``output_target`` on SICE train: the mean grey level a network's output is brought to.

A trained network gets most of each image right but not its brightness: on
SICE the references' mean grey level (BT.601 luma) is nearly the same from
scene to scene, while a network's output is too dark for the darkest inputs
and too bright for the others. ``Enhancer(..., output_target=T)`` ends with
`llenhance.models.llenet.match_exposure`, a per-image gamma that brings the
output's mean grey level to about ``T``. This script runs the network once per
pair of ``sice/train`` and ``sice/val``, applies each candidate ``T`` exactly as
``Enhancer.finish`` does (then the exposure gate, if the weights have one), and
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

from _command import command_line, tilde  # noqa: E402
from _paths import DATA  # noqa: E402

from llenhance import Enhancer  # noqa: E402
from llenhance._color import mean_grey  # noqa: E402
from llenhance.models.exposure import log_exposure  # noqa: E402
from llenhance.data import PairedImageFolder  # noqa: E402
from llenhance.evaluation import markdown_table, write_results  # noqa: E402
from llenhance.metrics import psnr, ssim  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = (0.36, 0.38, 0.40, 0.41, 0.42, 0.44, 0.46)


@torch.no_grad()
def score(model: Enhancer, pairs: PairedImageFolder, targets: list[float | None], label: str,
          limit: int | None = None) -> tuple[dict[float | None, dict[str, float]], list[float]]:
    """Per ``output_target`` in ``targets``: mean PSNR, SSIM and absolute grey-level error of ``model``
    over ``pairs``; and the references' mean grey levels."""
    rows: dict[float | None, list[tuple[float, float, float]]] = {t: [] for t in targets}
    references = []
    count = len(pairs) if limit is None else min(limit, len(pairs))
    for i in tqdm(range(count), desc=label, leave=False):
        low, high = (t[None] for t in pairs[i][:2])
        references.append(float(mean_grey(high)))
        exposure = log_exposure(low) if model.network.exposure_input else None
        raw = model.corrected(model.curve(low), exposure).clamp(0.0, 1.0)  # the network once; the targets after it
        for target in targets:
            model.output_target = target
            out = model.finish(low, raw)
            error = abs(float(mean_grey(out)) - references[-1])
            rows[target].append((float(psnr(out, high)), float(ssim(out, high)), error))
    scores = {t: {"psnr": statistics.fmean(r[0] for r in v), "ssim": statistics.fmean(r[1] for r in v),
                  "grey_error": statistics.fmean(r[2] for r in v)} for t, v in rows.items()}
    return scores, references


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
    model = Enhancer.from_pretrained(args.weights, output_target=None).eval()
    targets: list[float | None] = [None, *args.targets]
    splits, references = {}, {}
    for split in ("train", "val"):
        splits[split], references[split] = score(model, PairedImageFolder(DATA / "sice" / split), targets, split,
                                                 args.limit)
    chosen = max(args.targets, key=lambda t: splits["train"][t]["psnr"])

    command = command_line("output_target.py", argv)
    table = markdown_table(
        ["output target", "train PSNR (dB) ↑", "train SSIM ↑", "train grey error ↓", "val PSNR (dB) ↑",
         "val SSIM ↑", "val grey error ↓"],
        [("none (the network's own)" if t is None else f"{t:.2f}" + (" (chosen)" if t == chosen else ""),
          *(f"{splits[s][t][k]:{f}}" for s in ("train", "val")
            for k, f in (("psnr", ".2f"), ("ssim", ".4f"), ("grey_error", ".3f")))) for t in targets],
    )
    spread = {s: (statistics.fmean(r), statistics.pstdev(r)) for s, r in references.items()}
    markdown = (
        "# Output exposure target\n\n"
        f"`{command}`. Weights `{tilde(args.weights)}` with `output_target` set to each level (`none`: as trained); "
        "SICE `train` and `val` pairs, mean PSNR and SSIM against the reference. The target is chosen on "
        "train (highest PSNR); val is not used for the choice. Grey error: mean absolute difference between the "
        "output's mean grey level (BT.601 luma) and the reference's. The references' mean grey level: "
        + ", ".join(f"{s} {m:.3f} ± {d:.3f} (sd)" for s, (m, d) in spread.items()) + ".\n\n" + table
    )
    rows = [{"target": t, **{f"{s}_{k}": v for s in splits for k, v in splits[s][t].items()}} for t in targets]
    meta = {"command": command, "weights": tilde(args.weights), "chosen": chosen,
            "reference_grey": {s: {"mean": m, "sd": d} for s, (m, d) in spread.items()}}
    args.results.mkdir(parents=True, exist_ok=True)
    write_results(args.results / "output_target", {"meta": meta, "rows": rows}, markdown)
    print(markdown)
    return {"meta": meta, "rows": rows}


if __name__ == "__main__":
    main()
