"""NIQE on DICM by the input's exposure: where a method's mean NIQE comes from.

DICM mixes dark photos with well-exposed ones. A method that leaves well-lit
photos as they are (what ``llenet-photo``'s exposure gate does, and what a
plug-in should do) keeps their NIQE, whatever it is. This splits the 64
images by the mean grey level of the input (BT.601 luma, [0, 1]) at
``--bands`` (default: the gate of ``llenet-photo``, 0.2 and 0.35) and gives
each method's mean NIQE per band, with the overall mean as in
``quality.py``. The last line of the table, for each band, is the mean NIQE
the other bands would need for the overall mean to reach ``--target`` if
that band is left as it is (the input's NIQE there).

Run:
    python benchmarks/niqe_bands.py [--weights llenet-photo ...] [--ungated]

Writes ``benchmarks/results/niqe_bands.json`` (per-image scores too) and ``niqe_bands.md``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _command import command_line  # noqa: E402
from _paths import DATA  # noqa: E402
from _baselines import all_baselines, llenet_methods  # noqa: E402

from llenhance.data import find_images, read_image  # noqa: E402
from llenhance.evaluation import evaluate_niqe, markdown_table, write_results  # noqa: E402
from llenhance._color import grey  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def band_names(bands: list[float]) -> list[str]:
    """``["below 0.2", "0.2 to 0.35", "0.35 and up"]`` for ``[0.2, 0.35]``."""
    edges = [f"{b:g}" for b in bands]
    return [f"below {edges[0]}"] + [f"{lo} to {hi}" for lo, hi in itertools.pairwise(edges)] + [f"{edges[-1]} and up"]


def band_of(level: float, bands: list[float]) -> int:
    """Index of the band of a mean grey ``level``: the number of edges at or below it."""
    return sum(level >= b for b in bands)


def in_band(scores: list[float], band: list[int], k: int) -> list[float]:
    """The ``scores`` of the images whose band (``band``, one index per image) is ``k``."""
    return [s for s, b in zip(scores, band) if b == k]


def band_mean(scores: list[float], band: list[int], k: int) -> float:
    """Mean of the ``scores`` in band ``k`` (NaN for an empty band)."""
    inside = in_band(scores, band, k)
    return statistics.fmean(inside) if inside else float("nan")


def needed(scores: list[float], band: list[int], kept: int, target: float) -> float:
    """Mean NIQE the images outside band ``kept`` need for the overall mean to be ``target``, band ``kept``
    scoring ``scores`` (NaN when every image is in that band)."""
    inside = in_band(scores, band, kept)
    outside = len(scores) - len(inside)
    return (target * len(scores) - sum(inside)) / outside if outside else float("nan")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", default=["llenet-photo"], help="LLENet weights (names or folders)")
    parser.add_argument("--ungated", action="store_true",
                        help="also score each exposure-gated model without its gate (a row of its own)")
    parser.add_argument("--bands", nargs="+", type=float, default=[0.2, 0.35],
                        help="mean grey levels between the bands, increasing")
    parser.add_argument("--target", type=float, default=3.9, help="the overall mean NIQE aimed at")
    parser.add_argument("--niqe-limit", type=int, default=None, help="use only the first N DICM images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not args.bands or any(not 0 < b < 1 for b in args.bands) or args.bands != sorted(set(args.bands)):
        parser.error(f"`--bands` expected increasing levels in (0, 1), got {args.bands}")
    torch.set_num_threads(args.threads)
    paths = find_images(DATA / "dicm")[: args.niqe_limit]
    images = [read_image(p).float() / 255 for p in paths]
    levels = [grey(x[None]).mean().item() for x in images]
    band = [band_of(v, args.bands) for v in levels]
    names = band_names(args.bands)
    methods = {**all_baselines(), **llenet_methods(args.weights, ungated=args.ungated)}
    per_image = {name: evaluate_niqe(method, images)["per_image"] for name, method in methods.items()}
    rows = [{"method": name, "niqe": statistics.fmean(scores),
             "bands": {names[k]: band_mean(scores, band, k) for k in range(len(names))}}
            for name, scores in per_image.items()]
    counts = {names[k]: band.count(k) for k in range(len(names))}
    inputs = per_image["identity (input)"]
    left_as_is = {names[k]: needed(inputs, band, k, args.target) for k in range(len(names))}
    command = command_line("niqe_bands.py", argv)
    table = markdown_table(
        ["method", "NIQE ↓, all"] + [f"{n} ({counts[n]})" for n in names],
        [(r["method"], f"{r['niqe']:.3f}", *(f"{r['bands'][n]:.3f}" for n in names)) for r in rows]
        + [(f"needed elsewhere for {args.target:g} with this band as input", "", *(
            f"{left_as_is[n]:.3f}" for n in names))],
    )
    markdown = (
        "# NIQE on DICM by the input's exposure\n\n"
        f"`{command}`. Mean NIQE (lower is better) over the {len(images)} DICM images, and per band of the "
        "input's mean grey level (BT.601 luma, [0, 1]; image counts in brackets). Last line: the mean NIQE "
        f"the images of the other bands would need for the overall mean to reach {args.target:g} if the "
        "band's own images are left as they are.\n\n" + table
    )
    results = {"meta": {"command": command, "dicm_images": len(images), "bands": args.bands,
                        "target": args.target},
               "images": [{"file": p.name, "mean_grey": v} for p, v in zip(paths, levels)],
               "counts": counts, "rows": rows, "needed_elsewhere": left_as_is, "per_image": per_image}
    args.results.mkdir(parents=True, exist_ok=True)
    write_results(args.results / "niqe_bands", results, markdown)
    print(markdown)
    return results


if __name__ == "__main__":
    main()
