"""The numbers of the ``llenet-faces`` model card, from ``fer_transfer.json``.

The card quotes one seed of one row of the transfer experiment (the weights
it ships) beside no enhancement and the global gamma curve, per classifier.
This prints that table (markdown) and the card's ``model-index`` entries
(YAML), so that the card is regenerated, not retyped, when the experiment is.

Run:
    python benchmarks/face_card.py --seed 0
    python benchmarks/face_card.py --results benchmarks/results/fer_curve.json \
        --row "log-linear curve (seed 0) + llenet-faces"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "fer_transfer.json"
NAMES = {"resnet18": "ResNet-18", "vgg": "VGG-style CNN", "convnext_atto": "ConvNeXt-atto"}
GAMMA = "global gamma (mean grey -> 0.45)"
DATASETS = {
    "paper": "FER2013 val, paper darkening (LowLightSynth, seed 2025)",
    "realistic": "FER2013 val, realistic darkening (noise, 8 bits, seed 2025)",
    "normal": "FER2013 val, well lit",
}


def _cell(row: dict, condition: str, bold: bool) -> str:
    acc = 100 * row[f"acc_{condition}"]
    if condition == "normal":
        extra = f"{100 * row['normal_change']:+.2f}".replace("-", "−")
    else:
        recovered = row[f"recovered_{condition}"]
        extra = "–" if recovered is None else f"{recovered:.3f}"
    text = f"{acc:.2f} ({extra})"
    return f"**{text}**" if bold else text


def table(results: dict, row: str, seed: int, label: str) -> str:
    """Markdown: per classifier, no enhancement, global gamma and ``row`` (seed ``seed``)."""
    index = results["seeds"].index(seed)
    lines = ["| classifier (normal light) | | paper darkening | realistic darkening | well-lit |",
             "| --- | --- | ---: | ---: | ---: |"]
    for arch, per_seed in results["raw"][row].items():
        none = results["raw"]["none"][arch][0]
        lines.append(f"| {NAMES.get(arch, arch)} ({100 * none['acc_normal']:.2f}) | none | "
                     f"{100 * none['acc_paper']:.2f} | {100 * none['acc_realistic']:.2f} | "
                     f"{100 * none['acc_normal']:.2f} |")
        gamma = results["raw"][GAMMA][arch][0]
        lines.append("| | global gamma | " + " | ".join(_cell(gamma, c, False) for c in DATASETS) + " |")
        ours = per_seed[index]
        lines.append(f"| | **{label}** | " + " | ".join(_cell(ours, c, True) for c in DATASETS) + " |")
    return "\n".join(lines)


def model_index(results: dict, row: str, seed: int) -> str:
    """YAML: the card's ``model-index`` results, one per data set and condition, with the accuracy of each
    classifier as its metrics."""
    index = results["seeds"].index(seed)
    lines = []
    for condition, dataset in DATASETS.items():
        lines += [
            "  - task:",
            "      type: image-to-image",
            "      name: Low-light enhancement in front of a FER classifier it never saw",
            "    dataset:",
            "      type: fer2013",
            f"      name: {dataset}",
            "      split: val",
            "    metrics:",
        ]
        for arch, per_seed in results["raw"][row].items():
            none = results["raw"]["none"][arch][0]
            lines += [
                "    - type: accuracy",
                f"      value: {100 * per_seed[index][f'acc_{condition}']:.2f}",
                f"      name: accuracy of the {NAMES.get(arch, arch)} (%; "
                f"{100 * none[f'acc_{condition}']:.2f} without enhancement)",
            ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="a fer_transfer.json, or a fer_readers.json / fer_curve.json (one value per row, "
                             "recorded as --seed)")
    parser.add_argument("--row", default=None, help="the enhancer's row (default: the last row of the table)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default="llenet-faces")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    if "raw" not in results and "per_classifier" in results:  # fer_readers.py / fer_curve.py: one value per row
        results = {"seeds": [args.seed], "raw": {name: {arch: [rows[name]] for arch, rows in
                                                        results["per_classifier"].items()}
                                                 for name in results["mean"]}}
    row = args.row or list(results["raw"])[-1]
    if row not in results["raw"]:
        parser.error(f"`--row` expected one of {sorted(results['raw'])}, got {row!r}")
    if args.seed not in results["seeds"]:
        parser.error(f"`--seed` expected one of {results['seeds']} (the seeds of {args.results}), got {args.seed}")
    text = (f"<!-- {row}, seed {args.seed} -->\n\n{table(results, row, args.seed, args.label)}\n\n"
            f"model-index results:\n{model_index(results, row, args.seed)}")
    print(text)
    return text


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
