"""What each method does across exposures: SICE val normal frames scaled to a range of mean grey levels.

The SICE ``val`` pairs have dark frames below a mean grey level of 0.2 and
normal frames of 0.35 or more, so the pairs say nothing about the images in
between, nor about how a method's change grows as an image gets darker. Here
each distinct normal-light frame of ``sice/val`` is scaled (multiplied in
sRGB, clipped to [0, 1], then quantised to 8 bits) so that its mean grey
level (BT.601 luma) is one of ``--levels``; each method enhances it, and the
output is scored against the unscaled frame (PSNR, CIEDE2000, grey shift:
output mean grey minus the frame's). The last level, ``orig``, is the frame
itself (passthrough). The ``share`` column of an exposure-gated model is the
mean share of its change that the gate let through at that level.

Run:
    python benchmarks/exposure_sweep.py [--weights llenet-photo llenet-sice]

Writes ``benchmarks/results/exposure_sweep.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llenhance.baselines import global_gamma  # noqa: E402
from _command import command_line  # noqa: E402
from _paths import DATA  # noqa: E402

from llenhance import Enhancer, LLENet, enhance  # noqa: E402
from llenhance._color import mean_grey  # noqa: E402
from llenhance.data import PairedImageFolder  # noqa: E402
from llenhance.evaluation import evaluate_pairs, markdown_table, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def scaled(frame: torch.Tensor, level: float) -> torch.Tensor:
    """``frame`` (3, H, W) times the factor that brings its mean grey level to ``level``, clipped, 8 bits."""
    factor = level / float(mean_grey(frame[None]))
    return ((frame * factor).clamp(0, 1) * 255).round() / 255


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", default=["llenet-photo", "llenet-sice"],
                        help="LLENet weights (names or folders)")
    parser.add_argument("--levels", nargs="+", type=float, default=list(LEVELS), help="mean grey levels to scale to")
    parser.add_argument("--frames-limit", type=int, default=None, help="use only the first N distinct frames")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    bad = [v for v in args.levels if not 0 < v < 1]
    if bad:
        parser.error(f"`--levels` expected mean grey levels in (0, 1), got {bad}")
    torch.set_num_threads(args.threads)
    val = PairedImageFolder(DATA / "sice" / "val")
    frames, seen = [], set()
    for i in range(len(val)):  # several dark frames share one normal frame: keep each normal frame once
        high = val[i][1]
        key = (tuple(high.shape), float(high.sum()))
        if key not in seen:
            seen.add(key)
            frames.append(high)
    frames = frames[: args.frames_limit]

    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"identity (input)": lambda x: x,
                                                                  "global gamma (auto-exposure)": global_gamma}
    models: dict[str, LLENet] = {}
    for weights in args.weights:
        model = Enhancer.from_pretrained(weights).eval()
        name = f"LLENet ({Path(weights).name})"
        models[name] = model
        methods[name] = lambda x, m=model: enhance(x, m)
    rows = []
    for level in [*args.levels, None]:
        inputs = frames if level is None else [scaled(f, level) for f in frames]
        pairs = list(zip(inputs, frames))
        for name, method in methods.items():
            scores = evaluate_pairs(method, pairs, progress=False)
            model = models.get(name)
            share = (float(torch.cat([model.exposure_share(x) for x in inputs]).mean())
                     if model is not None and model.exposure_gate is not None else None)
            row = {"level": "orig" if level is None else level, "method": name, "psnr": scores["psnr"],
                   "ciede2000": scores["ciede2000"], "grey_shift": scores["grey_shift"], "share": share}
            rows.append(row)
            print(row, flush=True)

    command = command_line("exposure_sweep.py", argv)
    table = markdown_table(
        ["input mean grey", "method", "PSNR (dB) ↑", "CIEDE2000 ↓", "grey shift", "gate share"],
        [(r["level"] if r["level"] == "orig" else f"{r['level']:.2f}", r["method"], f"{r['psnr']:.2f}",
          f"{r['ciede2000']:.2f}", f"{r['grey_shift']:+.3f}", "" if r["share"] is None else f"{r['share']:.2f}")
         for r in rows],
    )
    markdown = (
        "# Across exposures\n\n"
        f"`{command}`. The {len(frames)} distinct normal-light frames of SICE `val`, each scaled in sRGB to the "
        "mean grey level (BT.601 luma) in the first column, clipped and quantised to 8 bits (`orig`: the frame "
        "itself); every method's output scored against the unscaled frame. Grey shift: output mean grey minus "
        "the frame's. Gate share: the mean share of the network's change an exposure-gated model let through."
        "\n\n" + table
    )
    args.results.mkdir(parents=True, exist_ok=True)
    meta = {"command": command, "frames": len(frames), "levels": args.levels}
    write_results(args.results / "exposure_sweep", {"meta": meta, "rows": rows}, markdown)
    print(markdown)
    return {"meta": meta, "rows": rows}


if __name__ == "__main__":
    main()
